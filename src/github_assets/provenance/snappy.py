"""Snappy block-format decompression (GitHub's `bundle_url` documents), pure Python.

The format: the uncompressed length as a varint, then elements: literals, and copies of earlier
output at a 1-, 2- or 4-byte offset. Every length and offset is checked against the input and
the output so far, and the output is capped before anything is allocated for it.
"""

from __future__ import annotations


class SnappyError(ValueError):
    """The input is not a valid Snappy block (the message says where it breaks)."""


def _varint(data: bytes) -> tuple[int, int]:
    """The preamble's length and where the elements start; at most 32 bits, as Snappy's own."""
    value = 0
    for i in range(min(5, len(data))):
        byte = data[i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if value >= 1 << 32:
                break
            return value, i + 1
    raise SnappyError("the length preamble is not a valid varint")


def decompress(data: bytes, max_size: int) -> bytes:
    """The bytes `data` encodes; SnappyError when it is malformed or would exceed `max_size`."""
    size, pos = _varint(data)
    if size > max_size:
        raise SnappyError(f"it would decompress to {size} bytes, more than {max_size}")
    out = bytearray()
    end = len(data)
    while pos < end:
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:
            length = tag >> 2
            if length >= 60:
                extra = length - 59
                if pos + extra > end:
                    raise SnappyError("truncated literal length")
                length = int.from_bytes(data[pos : pos + extra], "little")
                pos += extra
            length += 1
            if pos + length > end:
                raise SnappyError("a literal runs past the end of the input")
            if len(out) + length > size:
                raise SnappyError("the output exceeds the length the preamble announced")
            out += data[pos : pos + length]
            pos += length
            continue
        if kind == 1:
            if pos + 1 > end:
                raise SnappyError("truncated copy")
            length = 4 + ((tag >> 2) & 7)
            offset = (tag >> 5) << 8 | data[pos]
            pos += 1
        else:
            width = 2 if kind == 2 else 4
            if pos + width > end:
                raise SnappyError("truncated copy")
            length = 1 + (tag >> 2)
            offset = int.from_bytes(data[pos : pos + width], "little")
            pos += width
        if offset == 0 or offset > len(out):
            raise SnappyError(f"a copy refers to offset {offset} with {len(out)} bytes written")
        if len(out) + length > size:
            raise SnappyError("the output exceeds the length the preamble announced")
        start = len(out) - offset
        if length <= offset:
            out += out[start : start + length]
        else:
            # An overlapping copy repeats the last `offset` bytes (run-length encoding).
            pattern = bytes(out[start:])
            out += (pattern * (length // offset + 1))[:length]
    if len(out) != size:
        raise SnappyError(f"it decompressed to {len(out)} bytes, not the announced {size}")
    return bytes(out)
