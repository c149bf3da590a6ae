"""Pure-Python ECDSA (P-256/SHA-256, P-384/SHA-384): RFC 6979's vectors, and cryptography's
verdict on random keys, messages and mutated signatures."""

from __future__ import annotations

import os
import random

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from github_assets.provenance import ProvenanceError
from github_assets.provenance.ecdsa import P256, P384, EcPublicKey, decode_signature
from github_assets.provenance.keys import from_spki

# RFC 6979 appendix A.2.5 (P-256) and A.2.6 (P-384): public key, then (hash, message, r, s).
RFC6979 = [
    (
        P256,
        "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6",
        "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299",
        [
            (
                "sha256",
                b"sample",
                "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716",
                "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8",
            ),
            (
                "sha256",
                b"test",
                "F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367",
                "019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083",
            ),
        ],
    ),
    (
        P384,
        "EC3A4E415B4E19A4568618029F427FA5DA9A8BC4AE92E02E06AAE5286B300C64"
        "DEF8F0EA9055866064A254515480BC13",
        "8015D9B72D7D57244EA8EF9AC0C621896708A59367F9DFB9F54CA84B3F1C9DB1"
        "288B231C3AE0D4FE7344FD2533264720",
        [
            (
                "sha384",
                b"sample",
                "94EDBB92A5ECB8AAD4736E56C691916B3F88140666CE9FA73D64C4EA95AD133C"
                "81A648152E44ACF96E36DD1E80FABE46",
                "99EF4AEB15F178CEA1FE40DB2603138F130E740A19624526203B6351D0A3A94F"
                "A329C145786E679E7B82C71A38628AC8",
            ),
            (
                "sha384",
                b"test",
                "8203B63D3C853E8D77227FB377BCF7B7B772E97892A80F36AB775D509D7A5FEB"
                "0542A7F0812998DA8F1DD3CA3CF023DB",
                "DDD0760448D42D8A43AF45AF836FCE4DE8BE06B485E9B61B827C2F13173923E0"
                "6A739F040649A667BF3B828246BAA5A5",
            ),
        ],
    ),
]


def _key(curve: object, x: str, y: str) -> EcPublicKey:
    size = P256.size if curve is P256 else P384.size
    point = b"\x04" + bytes.fromhex(x).rjust(size, b"\0") + bytes.fromhex(y).rjust(size, b"\0")
    return EcPublicKey.from_point(P256 if curve is P256 else P384, point)


@pytest.mark.parametrize(
    ("curve", "x", "y", "hash_name", "message", "r", "s"),
    [(c, x, y, *v) for c, x, y, vectors in RFC6979 for v in vectors],
)
def test_rfc6979_vectors_verify_and_their_mutations_do_not(
    curve: object, x: str, y: str, hash_name: str, message: bytes, r: str, s: str
) -> None:
    key = _key(curve, x, y)
    signature = encode_dss_signature(int(r, 16), int(s, 16))
    assert key.verify(message, signature, hash_name)
    assert not key.verify(message + b"!", signature, hash_name)
    assert not key.verify(message, encode_dss_signature(int(r, 16), int(s, 16) ^ 1), hash_name)
    assert not key.verify(message, encode_dss_signature(int(r, 16) ^ 4, int(s, 16)), hash_name)


CURVES = [
    (ec.SECP256R1(), P256, hashes.SHA256(), "sha256"),
    (ec.SECP384R1(), P384, hashes.SHA384(), "sha384"),
]


def _cryptography_says(
    public: ec.EllipticCurvePublicKey,
    message: bytes,
    signature: bytes,
    algorithm: hashes.HashAlgorithm,
) -> bool:
    try:
        public.verify(signature, message, ec.ECDSA(algorithm))
    except (InvalidSignature, ValueError):
        return False
    return True


@pytest.mark.parametrize(
    ("curve", "ours", "algorithm", "hash_name"), CURVES, ids=["P-256", "P-384"]
)
def test_the_verdict_is_cryptographys_on_random_keys_and_mutations(
    curve: ec.EllipticCurve, ours: object, algorithm: hashes.HashAlgorithm, hash_name: str
) -> None:
    rng = random.Random(20261202)
    for _ in range(25):
        private = ec.generate_private_key(curve)
        public = private.public_key()
        spki = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        key = from_spki(spki, "test key")
        message = os.urandom(rng.randrange(0, 200))
        signature = private.sign(message, ec.ECDSA(algorithm))
        candidates = [(message, signature), (message + b"x", signature)]
        for _ in range(4):
            mutated = bytearray(signature)
            mutated[rng.randrange(len(mutated))] ^= 1 << rng.randrange(8)
            candidates.append((message, bytes(mutated)))
        r, s = decode_signature(signature)
        n = (P256 if ours is P256 else P384).n
        candidates.append((message, encode_dss_signature(r, n - s)))  # the other valid s
        candidates.append((message, encode_dss_signature(r, s + n)))  # out of range
        for data, sig in candidates:
            assert key.verify(data, sig, hash_name) == _cryptography_says(
                public, data, sig, algorithm
            )


@pytest.mark.parametrize(
    "signature",
    [
        "3006020100020101",  # r = 0
        "3006020101020100",  # s = 0
        "300702020001020101",  # non-minimal INTEGER
        "3006020101020101ff",  # trailing byte
        "30070201010201010000"[:-2],  # length past the content
        "3180020101020101",  # not a SEQUENCE (and indefinite)
        "",
    ],
)
def test_malformed_signatures_are_false_not_errors(signature: str) -> None:
    key = _key(P256, RFC6979[0][1], RFC6979[0][2])
    assert key.verify(b"sample", bytes.fromhex(signature), "sha256") is False


def test_points_off_the_curve_are_refused() -> None:
    good = _key(P256, RFC6979[0][1], RFC6979[0][2])
    point = b"\x04" + good.x.to_bytes(32, "big") + (good.y ^ 1).to_bytes(32, "big")
    with pytest.raises(ProvenanceError, match="not on the curve"):
        EcPublicKey.from_point(P256, point)
    with pytest.raises(ProvenanceError, match="not an uncompressed point"):
        EcPublicKey.from_point(P256, b"\x02" + good.x.to_bytes(32, "big"))
