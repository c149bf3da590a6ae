"""minisign public keys and signatures, verified as `minisign -V` does (pure Python).

A public key is the base64 of ``Ed`` + an 8-byte key id + a 32-byte Ed25519 key. A signature file
has four lines: an untrusted comment, the base64 of an algorithm (``ED``: the signature is over the
BLAKE2b-512 of the file; ``Ed``: the legacy form, over the file itself) + the key id + the
signature, a trusted comment, and the base64 of the global signature over the signature and the
trusted comment. All three must hold: the key id, the signature and the global signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from ..record import Record
from . import ed25519
from .errors import ProvenanceError

# NamedTuples, not dataclasses: detect reads a key (spec.py) and dataclasses imports inspect.

_KEY_ALGORITHM = b"Ed"
_LEGACY = b"Ed"
_PREHASHED = b"ED"
_UNTRUSTED_PREFIX = b"untrusted comment: "
_TRUSTED_PREFIX = b"trusted comment: "
# minisign reads a trusted comment into an 8 KiB buffer; a longer one is refused there too.
_TRUSTED_COMMENT_MAX = 8192
# Past this a file cannot be a signature: refuse before splitting lines.
SIGNATURE_MAX_BYTES = 16 * 1024


class MinisignError(ProvenanceError):
    """A key or signature that cannot be read, or a check that failed; the message names it
    (and starts with `minisign: `)."""


def _fail(message: str) -> MinisignError:
    return MinisignError(f"minisign: {message}")


class PublicKey(Record):
    key_id: bytes
    key: bytes

    @property
    def key_id_text(self) -> str:
        """The key id as minisign prints it (the little-endian number in upper-case hex)."""
        return f"{int.from_bytes(self.key_id, 'little'):X}"


class Signature(Record):
    prehashed: bool
    key_id: bytes
    signature: bytes
    trusted_comment: bytes
    global_signature: bytes


def _b64(text: bytes | str, length: int, what: str) -> bytes:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _fail(f"{what} is not base64") from None
    if len(data) != length:
        raise _fail(f"{what} holds {len(data)} bytes, not {length}")
    return data


def parse_public_key(text: str) -> PublicKey:
    """The key from its base64 line (what `minisign -P` takes and a .pub file's second line)."""
    data = _b64(text.strip(), 42, "the minisign public key")
    if data[:2] != _KEY_ALGORITHM:
        raise _fail("the minisign public key is not an Ed25519 key (its base64 starts RW)")
    return PublicKey(key_id=data[2:10], key=data[10:])


def parse_signature(data: bytes) -> Signature:
    """The four lines of a .minisig file; lines after the fourth are ignored, as minisign does."""
    if len(data) > SIGNATURE_MAX_BYTES:
        raise _fail(f"the signature file is larger than {SIGNATURE_MAX_BYTES} bytes")
    lines = [line.rstrip(b"\r") for line in data.split(b"\n")]
    if len(lines) < 4:
        raise _fail("the signature file has fewer than 4 lines")
    untrusted, sig_line, trusted, global_line = lines[:4]
    if not untrusted.startswith(_UNTRUSTED_PREFIX):
        raise _fail("the signature file's first line is not an untrusted comment")
    sig = _b64(sig_line, 74, "the signature line")
    if not trusted.startswith(_TRUSTED_PREFIX):
        raise _fail("the signature file's third line is not a trusted comment")
    comment = trusted[len(_TRUSTED_PREFIX) :]
    if len(comment) > _TRUSTED_COMMENT_MAX:
        raise _fail("the trusted comment is too long")
    algorithm = sig[:2]
    if algorithm not in (_PREHASHED, _LEGACY):
        raise _fail(f"unsupported signature algorithm {algorithm!r}")
    return Signature(
        prehashed=algorithm == _PREHASHED,
        key_id=sig[2:10],
        signature=sig[10:],
        trusted_comment=comment,
        global_signature=_b64(global_line, 64, "the global signature line"),
    )


class Message:
    """What a signature needs of the signed data, taken as it streams by (never held whole).

    The prehashed form signs the data's BLAKE2b-512; the legacy form signs the data itself,
    and Ed25519 reads it once, after R and the key, so both stream.
    """

    def __init__(self, key: PublicKey, signature: Signature) -> None:
        self.key = key
        self.signature = signature
        self.reset()

    def reset(self) -> None:
        """Forget what was fed (the fetch starts over)."""
        self._hash = (
            hashlib.blake2b(digest_size=64)
            if self.signature.prehashed
            else ed25519.challenge(self.key.key, self.signature.signature)
        )

    def update(self, data: bytes | memoryview) -> None:
        self._hash.update(data)

    def verify(self) -> None:
        """Raise MinisignError naming the check that failed: key id, signature, global one."""
        key, signature = self.key, self.signature
        if signature.key_id != key.key_id:
            other = PublicKey(signature.key_id, b"").key_id_text
            raise _fail(f"signed by key id {other}, not by the configured {key.key_id_text}")
        digest = self._hash.digest()
        if signature.prehashed:
            valid = ed25519.verify(key.key, digest, signature.signature)
        else:
            valid = ed25519.verify_challenge(key.key, signature.signature, digest)
        if not valid:
            raise _fail("the signature does not verify")
        if not ed25519.verify(
            key.key, signature.signature + signature.trusted_comment, signature.global_signature
        ):
            raise _fail("the global signature over the trusted comment does not verify")


def verify(key: PublicKey, signature: Signature, message: bytes) -> None:
    """Raise MinisignError naming the check that failed: key id, signature, global signature."""
    check = Message(key, signature)
    check.update(message)
    check.verify()
