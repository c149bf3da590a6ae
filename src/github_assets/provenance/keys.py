"""Public keys as Sigstore meets them: EC P-256/P-384, Ed25519 and (staging CT logs) RSA."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from . import der, ed25519
from .ecdsa import P256, P384, EcPublicKey
from .errors import ProvenanceError

EC_PUBLIC_KEY = "1.2.840.10045.2.1"
ED25519 = "1.3.101.112"
RSA = "1.2.840.113549.1.1.1"
_CURVES = {"1.2.840.10045.3.1.7": P256, "1.3.132.0.34": P384}

# Signature algorithm OIDs of certificates and CMS: (key kind, hash).
SIGNATURE_ALGORITHMS = {
    "1.2.840.10045.4.3.2": ("ec", "sha256"),
    "1.2.840.10045.4.3.3": ("ec", "sha384"),
    "1.2.840.10045.4.3.4": ("ec", "sha512"),
    "1.2.840.113549.1.1.11": ("rsa", "sha256"),
    "1.2.840.113549.1.1.12": ("rsa", "sha384"),
    "1.2.840.113549.1.1.13": ("rsa", "sha512"),
    ED25519: ("ed25519", ""),
}

# DigestInfo prefixes of PKCS #1 v1.5 signatures (RFC 8017 section 9.2, note 1).
_DIGEST_INFO = {
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}


@dataclass(frozen=True)
class RsaPublicKey:
    n: int
    e: int

    def verify(self, message: bytes, signature: bytes, hash_name: str) -> bool:
        size = (self.n.bit_length() + 7) // 8
        if len(signature) != size:
            return False
        s = int.from_bytes(signature, "big")
        if s >= self.n:
            return False
        encoded = pow(s, self.e, self.n).to_bytes(size, "big")
        digest = _DIGEST_INFO[hash_name] + hashlib.new(hash_name, message).digest()
        expected = b"\x00\x01" + b"\xff" * (size - len(digest) - 3) + b"\x00" + digest
        return encoded == expected


@dataclass(frozen=True)
class PublicKey:
    """A verifying key, with the DER SubjectPublicKeyInfo it was read from."""

    kind: str  # "ec", "ed25519", "rsa"
    spki: bytes
    ec: EcPublicKey | None = None
    ed: bytes = b""
    rsa: RsaPublicKey | None = None

    @property
    def name(self) -> str:
        if self.ec is not None:
            return f"ECDSA {self.ec.curve.name}"
        return "Ed25519" if self.kind == "ed25519" else "RSA"

    def default_hash(self) -> str:
        """The hash Sigstore pairs with this key (P-384 signs SHA-384, others SHA-256)."""
        return "sha384" if self.ec is not None and self.ec.curve is P384 else "sha256"

    def verify(self, message: bytes, signature: bytes, hash_name: str | None = None) -> bool:
        """Whether signature signs message (hashed with hash_name, else the key's default)."""
        if self.ec is not None:
            return self.ec.verify(message, signature, hash_name or self.default_hash())
        if self.rsa is not None:
            return self.rsa.verify(message, signature, hash_name or "sha256")
        return ed25519.verify(self.ed, message, signature)

    def verify_prehashed(self, digest: bytes, signature: bytes) -> bool:
        """Whether signature signs a message whose digest is given (ECDSA only)."""
        if self.ec is None:
            return False
        return self.ec.verify_digest(digest, signature)


def _rsa_key(data: bytes, what: str) -> RsaPublicKey:
    items = der.sequence(der.parse(data, what), what, count=(2, 2))
    n, e = der.integer(items[0], what), der.integer(items[1], what)
    if n <= 0 or n.bit_length() < 2048 or e < 3 or e % 2 == 0:
        raise ProvenanceError(f"sigstore: {what} is not a usable RSA key")
    return RsaPublicKey(n, e)


def from_spki(spki: bytes, what: str) -> PublicKey:
    """A key from a DER SubjectPublicKeyInfo."""
    items = der.sequence(der.parse(spki, what), what, count=(2, 2))
    algorithm = der.sequence(items[0], what, count=(1, 2))
    kind = der.oid(algorithm[0], what)
    bits, _ = der.bit_string(items[1], what)
    if kind == EC_PUBLIC_KEY and len(algorithm) == 2 and algorithm[1].tag == der.OID:
        curve = _CURVES.get(der.oid(algorithm[1], what))
        if curve is None:
            raise ProvenanceError(f"sigstore: {what} uses an unsupported elliptic curve")
        return PublicKey("ec", spki, ec=EcPublicKey.from_point(curve, bits))
    if kind == ED25519 and len(algorithm) == 1:
        if len(bits) != 32:
            raise ProvenanceError(f"sigstore: {what} is not a 32-byte Ed25519 key")
        return PublicKey("ed25519", spki, ed=bits)
    if kind == RSA and len(algorithm) == 2 and algorithm[1].tag == der.NULL:
        if algorithm[1].content:
            raise ProvenanceError(f"sigstore: malformed DER in {what}: NULL with content")
        return PublicKey("rsa", spki, rsa=_rsa_key(bits, what))
    raise ProvenanceError(f"sigstore: {what} has an unsupported key type ({kind})")


def from_trusted_root(raw: bytes, key_details: str, what: str) -> PublicKey:
    """A key of a trusted root's `publicKey` (rawBytes; PKCS#1 for PKCS1_RSA_PKCS1V5)."""
    if key_details == "PKCS1_RSA_PKCS1V5":
        # Sigstore's staging CT log: the raw bytes are a bare PKCS#1 RSAPublicKey.
        try:
            return from_spki(raw, what)
        except ProvenanceError:
            return PublicKey("rsa", raw, rsa=_rsa_key(raw, what))
    key = from_spki(raw, what)
    expected = {
        "PKIX_ECDSA_P256_SHA_256": "ECDSA P-256",
        "PKIX_ECDSA_P384_SHA_384": "ECDSA P-384",
        "PKIX_ED25519": "Ed25519",
    }.get(key_details)
    if expected is not None and expected != key.name:
        raise ProvenanceError(f"sigstore: {what} is {key.name}, its keyDetails say {key_details}")
    return key
