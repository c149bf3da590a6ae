"""Transparency log proofs: RFC 6962 inclusion proofs, signed checkpoints, entry timestamps."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import ProvenanceError
from .trustroot import Log


def leaf_hash(body: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + body).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes:
    """The tree root an RFC 6962 audit path leads to (RFC 9162 2.1.3.2), or ProvenanceError."""
    if not 0 <= index < size:
        raise ProvenanceError("sigstore: inclusion proof's log index is outside its tree size")
    # The path first climbs the levels where the leaf has a sibling inside the tree, then the
    # right border, where only left siblings remain.
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    if len(path) != inner + border:
        raise ProvenanceError(
            f"sigstore: inclusion proof has {len(path)} hashes, the tree needs {inner + border}"
        )
    node = leaf
    for level, sibling in enumerate(path[:inner]):
        node = _node(node, sibling) if not (index >> level) & 1 else _node(sibling, node)
    for sibling in path[inner:]:
        node = _node(sibling, node)
    return node


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    body: bytes  # the signed text: every line up to the blank line, newline-terminated
    signatures: list[tuple[str, bytes, bytes]]  # (name, key hint, signature)


_SIGNATURE_LINE = re.compile("\u2014 (\\S+) (\\S+)")


def parse_checkpoint(envelope: str) -> Checkpoint:
    """A signed note (transparency-dev format) holding a log checkpoint."""
    if envelope.count("\n\n") != 1:
        raise ProvenanceError("sigstore: checkpoint is not a signed note (one blank line)")
    text, _, block = envelope.partition("\n\n")
    lines = text.split("\n")
    if len(lines) < 3 or not lines[0]:
        raise ProvenanceError("sigstore: checkpoint has no origin, size and root hash lines")
    origin, size_text, hash_text = lines[0], lines[1], lines[2]
    if not re.fullmatch(r"0|[1-9][0-9]{0,19}", size_text):  # a uint64, in decimal
        raise ProvenanceError("sigstore: checkpoint's tree size line is not a number")
    try:
        root = base64.b64decode(hash_text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ProvenanceError("sigstore: checkpoint's root hash line is not base64") from error
    if len(root) != 32:
        raise ProvenanceError("sigstore: checkpoint's root hash is not 32 bytes")
    if not block:
        raise ProvenanceError("sigstore: checkpoint carries no signature")
    if not block.endswith("\n"):
        raise ProvenanceError("sigstore: checkpoint's signature block does not end in a newline")
    signatures = []
    for line in block[:-1].split("\n"):
        match = _SIGNATURE_LINE.fullmatch(line)
        if match is None:
            raise ProvenanceError("sigstore: checkpoint has a malformed signature line")
        try:
            raw = base64.b64decode(match.group(2), validate=True)
        except (binascii.Error, ValueError) as error:
            raise ProvenanceError("sigstore: checkpoint signature is not base64") from error
        if len(raw) < 5:
            raise ProvenanceError("sigstore: checkpoint signature is too short")
        signatures.append((match.group(1), raw[:4], raw[4:]))
    return Checkpoint(origin, int(size_text), root, (text + "\n").encode(), signatures)


def verify_checkpoint(
    envelope: str, log: Log, tree_size: int, root_hash: bytes, *, rekor_v2: bool
) -> None:
    """The checkpoint is signed by log, and commits to this tree size and root hash."""
    checkpoint = parse_checkpoint(envelope)
    if rekor_v2:
        # A Rekor v2 log signs its checkpoints under its host name (sigstore-go's rule).
        host = urlsplit(log.base_url).hostname or ""
        if checkpoint.origin != host:
            raise ProvenanceError(
                f"sigstore: checkpoint origin {checkpoint.origin!r} is not the log's ({host!r})"
            )
    hint = log.log_id[:4]
    candidates = [sig for name, key_hint, sig in checkpoint.signatures if key_hint == hint]
    if not candidates:
        raise ProvenanceError("sigstore: checkpoint carries no signature by the log (key hint)")
    if not any(log.key.verify(checkpoint.body, sig) for sig in candidates):
        raise ProvenanceError("sigstore: checkpoint signature does not verify with the log's key")
    if checkpoint.root_hash != root_hash:
        raise ProvenanceError("sigstore: inclusion proof does not match the checkpoint's root hash")
    if checkpoint.size != tree_size:
        raise ProvenanceError("sigstore: inclusion proof does not match the checkpoint's tree size")


def set_payload(body: bytes, integrated_time: int, log_id: bytes, log_index: int) -> bytes:
    """The canonical JSON (RFC 8785) a signed entry timestamp signs.

    Every value is an integer or an ASCII string (base64 or hex), so sorted keys and no
    whitespace are the whole of RFC 8785 here.
    """
    return json.dumps(
        {
            "body": base64.b64encode(body).decode(),
            "integratedTime": integrated_time,
            "logID": log_id.hex(),
            "logIndex": log_index,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
