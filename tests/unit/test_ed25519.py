"""Ed25519 verification against RFC 8032's vectors and against `cryptography` on random keys."""

from __future__ import annotations

import random

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from github_assets.provenance import ed25519

# RFC 8032 section 7.1: (secret key, public key, message, signature).
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]


def _public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _reference(public_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032)
def test_rfc8032_vectors(secret: str, public: str, message: str, signature: str) -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
    # The vectors are also what the reference signer produces, so they were copied right.
    assert _public(key).hex() == public
    assert key.sign(bytes.fromhex(message)).hex() == signature
    assert ed25519.verify(bytes.fromhex(public), bytes.fromhex(message), bytes.fromhex(signature))
    assert not ed25519.verify(
        bytes.fromhex(public), bytes.fromhex(message) + b"\0", bytes.fromhex(signature)
    )


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_same_verdict_as_cryptography_on_random_keys_and_mutations() -> None:
    rng = random.Random(23)
    verdicts = {True: 0, False: 0}
    for _ in range(40):
        key = Ed25519PrivateKey.generate()
        public = _public(key)
        message = rng.randbytes(rng.randrange(0, 200))
        signature = key.sign(message)
        cases = [
            (public, message, signature),
            (public, _flip(message + b"x", rng.randrange(8 * (len(message) + 1))), signature),
            (public, message, _flip(signature, rng.randrange(512))),
            (_flip(public, rng.randrange(256)), message, signature),
            (_public(Ed25519PrivateKey.generate()), message, signature),
        ]
        for case in cases:
            expected = _reference(*case)
            assert ed25519.verify(*case) is expected, case
            verdicts[expected] += 1
    assert verdicts[True] >= 40 and verdicts[False] >= 120


def _signed() -> tuple[bytes, bytes, bytes]:
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    return _public(key), b"release.tar.gz", key.sign(b"release.tar.gz")


def test_s_not_below_the_group_order_is_refused() -> None:
    public, message, signature = _signed()
    s = int.from_bytes(signature[32:], "little") + ed25519.L
    malleated = signature[:32] + s.to_bytes(32, "little")
    # [S + L]B == [S]B, so only the range check stops this second signature.
    assert not ed25519.verify(public, message, malleated)
    assert not _reference(public, message, malleated)


def test_non_canonical_point_encodings_are_refused() -> None:
    public, message, signature = _signed()
    # y = 1 is the identity; y + p = 2**255 - 18 encodes it a second time.
    non_canonical_y = (ed25519.P + 1).to_bytes(32, "little")
    assert not ed25519.verify(non_canonical_y, message, signature)
    # x = 0 with the sign bit set: "negative zero", another second encoding.
    negative_zero = (1 | 1 << 255).to_bytes(32, "little")
    assert not ed25519.verify(negative_zero, message, signature)
    # R is compared on its canonical encoding, so R with y + p never matches.
    r_y = int.from_bytes(signature[:32], "little") & ((1 << 255) - 1)
    if r_y + ed25519.P < 2**255:
        assert not ed25519.verify(public, message, (r_y + ed25519.P).to_bytes(32, "little"))


def test_a_small_order_public_key_is_refused_as_libsodium_does() -> None:
    # With the identity as key and R, [k]A vanishes and [0]B == R: one signature fits every message.
    identity = (1).to_bytes(32, "little")
    forged = identity + bytes(32)
    for message in (b"anything", b"at all"):
        assert _reference(identity, message, forged)
        assert not ed25519.verify(identity, message, forged)


@pytest.mark.parametrize(("public_len", "signature_len"), [(31, 64), (33, 64), (32, 63), (32, 65)])
def test_wrong_lengths_are_refused(public_len: int, signature_len: int) -> None:
    assert not ed25519.verify(bytes(public_len), b"", bytes(signature_len))
