"""A strict DER reader: one encoding per value, so what we hash is what was signed.

Refused: indefinite lengths, lengths not in their shortest form, high tag numbers, bytes
after the outermost value, non-minimal INTEGERs, BOOLEANs other than 00/FF, malformed OIDs
and times. Every refusal is a ProvenanceError naming what was being read.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from .errors import ProvenanceError

INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
UTF8_STRING = 0x0C
PRINTABLE_STRING = 0x13
IA5_STRING = 0x16
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18
SEQUENCE = 0x30
SET = 0x31
BOOLEAN = 0x01


def context(number: int, *, constructed: bool = True) -> int:
    """The identifier byte of a context-specific tag [number]."""
    return (0xA0 if constructed else 0x80) | number


class Node:
    """One DER value: its tag, the whole encoding and the content octets."""

    __slots__ = ("_children", "content", "raw", "tag")

    def __init__(self, tag: int, raw: bytes, content: bytes) -> None:
        self.tag = tag
        self.raw = raw
        self.content = content
        self._children: list[Node] | None = None

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)

    def children(self, what: str = "value") -> list[Node]:
        """The values inside a constructed value, in order."""
        if not self.constructed:
            raise ProvenanceError(f"sigstore: malformed DER in {what}: not a constructed value")
        if self._children is None:
            self._children = _parse_all(self.content, what)
        return self._children

    def expect(self, tag: int, what: str) -> Node:
        if self.tag != tag:
            raise ProvenanceError(
                f"sigstore: malformed DER in {what}: tag 0x{self.tag:02x}, expected 0x{tag:02x}"
            )
        return self


def _read(data: bytes, pos: int, what: str) -> tuple[Node, int]:
    end = len(data)
    if pos + 2 > end:
        raise ProvenanceError(f"sigstore: malformed DER in {what}: truncated")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise ProvenanceError(f"sigstore: malformed DER in {what}: high tag number")
    first = data[pos + 1]
    head = pos + 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise ProvenanceError(f"sigstore: malformed DER in {what}: indefinite length")
    else:
        count = first & 0x7F
        if count > 4 or head + count > end:
            raise ProvenanceError(f"sigstore: malformed DER in {what}: bad length")
        length = int.from_bytes(data[head : head + count], "big")
        if data[head] == 0 or length < 0x80:
            raise ProvenanceError(f"sigstore: malformed DER in {what}: non-minimal length")
        head += count
    stop = head + length
    if stop > end:
        raise ProvenanceError(f"sigstore: malformed DER in {what}: truncated")
    return Node(tag, data[pos:stop], data[head:stop]), stop


def _parse_all(data: bytes, what: str) -> list[Node]:
    out = []
    pos = 0
    while pos < len(data):
        node, pos = _read(data, pos, what)
        out.append(node)
    return out


def parse(data: bytes, what: str) -> Node:
    """The single DER value that is all of data."""
    node, stop = _read(bytes(data), 0, what)
    if stop != len(data):
        raise ProvenanceError(f"sigstore: malformed DER in {what}: trailing bytes")
    return node


def sequence(node: Node, what: str, *, count: tuple[int, int] | None = None) -> list[Node]:
    """The elements of a SEQUENCE, optionally with a minimum and maximum count."""
    items = node.expect(SEQUENCE, what).children(what)
    if count is not None and not count[0] <= len(items) <= count[1]:
        raise ProvenanceError(f"sigstore: malformed DER in {what}: {len(items)} elements")
    return items


def integer(node: Node, what: str) -> int:
    content = node.expect(INTEGER, what).content
    if not content:
        raise ProvenanceError(f"sigstore: malformed DER in {what}: empty INTEGER")
    if len(content) > 1 and (
        (content[0] == 0 and content[1] < 0x80) or (content[0] == 0xFF and content[1] >= 0x80)
    ):
        raise ProvenanceError(f"sigstore: malformed DER in {what}: non-minimal INTEGER")
    return int.from_bytes(content, "big", signed=True)


def boolean(node: Node, what: str) -> bool:
    content = node.expect(BOOLEAN, what).content
    if content not in (b"\x00", b"\xff"):
        raise ProvenanceError(f"sigstore: malformed DER in {what}: BOOLEAN not 00 or FF")
    return content == b"\xff"


def bit_string(node: Node, what: str, *, whole_bytes: bool = True) -> tuple[bytes, int]:
    """The bits (as bytes) and the count of unused bits in the last byte."""
    content = node.expect(BIT_STRING, what).content
    if not content or content[0] > 7 or (len(content) == 1 and content[0]):
        raise ProvenanceError(f"sigstore: malformed DER in {what}: bad BIT STRING")
    unused = content[0]
    if whole_bytes and unused:
        raise ProvenanceError(f"sigstore: malformed DER in {what}: BIT STRING with unused bits")
    if unused and content[-1] & ((1 << unused) - 1):
        raise ProvenanceError(f"sigstore: malformed DER in {what}: unused bits not zero")
    return content[1:], unused


def octet_string(node: Node, what: str) -> bytes:
    return node.expect(OCTET_STRING, what).content


def oid(node: Node, what: str) -> str:
    content = node.expect(OID, what).content
    if not content or content[-1] & 0x80:
        raise ProvenanceError(f"sigstore: malformed DER in {what}: bad OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    fresh = True
    for byte in content:
        if fresh and byte == 0x80:
            raise ProvenanceError(f"sigstore: malformed DER in {what}: non-minimal OID arc")
        value = (value << 7) | (byte & 0x7F)
        fresh = not byte & 0x80
        if fresh:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


def string(node: Node, what: str) -> str:
    """A UTF8String, PrintableString or IA5String as text."""
    if node.tag not in (UTF8_STRING, PRINTABLE_STRING, IA5_STRING):
        raise ProvenanceError(f"sigstore: malformed DER in {what}: not a string")
    try:
        return node.content.decode("utf-8" if node.tag == UTF8_STRING else "ascii")
    except UnicodeDecodeError as error:
        raise ProvenanceError(f"sigstore: malformed DER in {what}: bad text") from error


_UTC = re.compile(rb"(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z")
_GENERALIZED = re.compile(rb"(\d\d\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.(\d*[1-9]))?Z")


def time(node: Node, what: str, *, fraction: bool = False) -> datetime:
    """A UTCTime or GeneralizedTime (Z only, seconds present; fractions only when allowed)."""
    if node.tag == UTC_TIME:
        match = _UTC.fullmatch(node.content)
    elif node.tag == GENERALIZED_TIME:
        match = _GENERALIZED.fullmatch(node.content)
    else:
        raise ProvenanceError(f"sigstore: malformed DER in {what}: not a time")
    if match is None or (match.lastindex == 7 and not fraction):
        raise ProvenanceError(f"sigstore: malformed DER in {what}: bad time {node.content!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if node.tag == UTC_TIME:
        year += 1900 if year >= 50 else 2000  # RFC 5280 4.1.2.5.1
    micro = 0
    if node.tag == GENERALIZED_TIME and match.group(7):
        micro = int((match.group(7) + b"000000")[:6])
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone.utc)
    except ValueError as error:
        raise ProvenanceError(f"sigstore: malformed DER in {what}: bad time") from error


def encode(tag: int, content: bytes) -> bytes:
    """A DER value from its tag and content (used to re-encode a certificate without a field)."""
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    size = (length.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + length.to_bytes(size, "big") + content
