"""Transparency-log proofs: RFC 6962 audit paths against trees built here, signed-note checkpoints,
and the RSA and prehashed-ECDSA keys the trusted root and bundles may carry."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timezone

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from github_assets.provenance import ProvenanceError, keys, tlog
from github_assets.provenance.trustroot import Log, Window


def _leaf(i: int) -> bytes:
    return tlog.leaf_hash(f"entry {i}".encode())


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 2.1: the Merkle tree hash, computed the slow, obvious way."""
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(leaves[:split]) + _mth(leaves[split:])).digest()


def _path(index: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 2.1.1: PATH(m, D[n])."""
    if len(leaves) == 1:
        return []
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    if index < split:
        return [*_path(index, leaves[:split]), _mth(leaves[split:])]
    return [*_path(index - split, leaves[split:]), _mth(leaves[:split])]


@pytest.mark.parametrize("size", range(1, 34))
def test_every_audit_path_of_small_trees_leads_to_the_root(size: int) -> None:
    leaves = [_leaf(i) for i in range(size)]
    root = _mth(leaves)
    for index in range(size):
        path = _path(index, leaves)
        assert tlog.root_from_inclusion_proof(index, size, leaves[index], path) == root
        if path:
            wrong = [*path[:-1], bytes(32)]
            assert tlog.root_from_inclusion_proof(index, size, leaves[index], wrong) != root
        if size > 1:  # the same path claimed for another position: refused or another root
            other = (index + 1) % size
            try:
                moved = tlog.root_from_inclusion_proof(other, size, leaves[index], path)
            except ProvenanceError:
                continue
            assert moved != root


def test_impossible_proofs_are_named() -> None:
    with pytest.raises(ProvenanceError, match="outside its tree size"):
        tlog.root_from_inclusion_proof(5, 5, _leaf(0), [])
    with pytest.raises(ProvenanceError, match="has 1 hashes, the tree needs 3"):
        tlog.root_from_inclusion_proof(0, 5, _leaf(0), [bytes(32)])


def _log(private: ec.EllipticCurvePrivateKey, base_url: str = "https://log.example") -> Log:
    spki = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key = keys.from_spki(spki, "log key")
    return Log(base_url, hashlib.sha256(spki).digest(), key, Window(None, None))


def _note(
    private: ec.EllipticCurvePrivateKey, log: Log, body: str, name: str = "log.example"
) -> str:
    signature = private.sign(body.encode(), ec.ECDSA(hashes.SHA256()))
    return f"{body}\n\u2014 {name} {base64.b64encode(log.log_id[:4] + signature).decode()}\n"


ROOT_HASH = hashlib.sha256(b"root").digest()
BODY = f"log.example\n42\n{base64.b64encode(ROOT_HASH).decode()}\nTimestamp: 1\n"


def test_a_signed_checkpoint_verifies_with_cosignatures_in_any_order() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    log = _log(private)
    note = _note(private, log, BODY)
    tlog.verify_checkpoint(note, log, 42, ROOT_HASH, rekor_v2=True)
    head, _, own = note.partition("\n\n")
    witness = "\u2014 witness.example " + base64.b64encode(b"wxyz" + bytes(64)).decode() + "\n"
    tlog.verify_checkpoint(f"{head}\n\n{witness}{own}", log, 42, ROOT_HASH, rekor_v2=True)


def _rehint(note: str) -> str:
    """note with its signature's key hint changed."""
    head, _, line = note.partition("\n\n")
    name, _, sig = line.rstrip("\n").rpartition(" ")
    raw = base64.b64decode(sig)
    return f"{head}\n\n{name} {base64.b64encode(b'zzzz' + raw[4:]).decode()}\n"


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda n: n.replace("\n42\n", "\n43\n", 1), "signature does not verify"),
        (lambda n: n.replace("\n\n", "\n", 1), "not a signed note"),
        (lambda n: n.rstrip("\n"), "does not end in a newline"),
        (lambda n: n.replace("\u2014 ", "- "), "malformed signature line"),
        (lambda n: n.split("\n\n")[0] + "\n\n", "carries no signature"),
        (lambda n: _rehint(n), "no signature by the log"),
        (lambda n: n.replace("log.example\n", "", 1), "tree size line is not a number"),
    ],
)
def test_bad_checkpoints_are_named(edit: object, problem: str) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    log = _log(private)
    note = edit(_note(private, log, BODY))  # type: ignore[operator]
    with pytest.raises(ProvenanceError, match=problem):
        tlog.verify_checkpoint(note, log, 42, ROOT_HASH, rekor_v2=False)


def test_a_checkpoint_must_commit_to_the_proofs_root_and_size() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    log = _log(private)
    note = _note(private, log, BODY)
    with pytest.raises(ProvenanceError, match="checkpoint's root hash"):
        tlog.verify_checkpoint(note, log, 42, bytes(32), rekor_v2=False)
    with pytest.raises(ProvenanceError, match="checkpoint's tree size"):
        tlog.verify_checkpoint(note, log, 41, ROOT_HASH, rekor_v2=False)
    other = _log(private, "https://other.example")
    with pytest.raises(ProvenanceError, match=r"origin 'log\.example' is not the log's"):
        tlog.verify_checkpoint(note, other, 42, ROOT_HASH, rekor_v2=True)


def test_the_set_payload_is_canonical_json() -> None:
    payload = tlog.set_payload(b"{}", 1700000000, bytes.fromhex("ab" * 32), 7)
    assert payload == (
        b'{"body":"e30=","integratedTime":1700000000,"logID":"' + b"ab" * 32 + b'","logIndex":7}'
    )


def _rsa_verdict(public: rsa.RSAPublicKey, message: bytes, signature: bytes) -> bool:
    try:
        public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def test_rsa_pkcs1_keys_verify_as_cryptography_does() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private.public_key()
    spki = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pkcs1 = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    for key in (
        keys.from_trusted_root(spki, "PKCS1_RSA_PKCS1V5", "ct key"),
        keys.from_trusted_root(pkcs1, "PKCS1_RSA_PKCS1V5", "ct key"),
    ):
        signature = private.sign(b"sct", padding.PKCS1v15(), hashes.SHA256())
        for message, sig in [
            (b"sct", signature),
            (b"sct!", signature),
            (b"sct", signature[:-1] + bytes([signature[-1] ^ 1])),
            (b"sct", signature[:-1]),
        ]:
            assert key.verify(message, sig) == _rsa_verdict(public, message, sig)


def test_a_key_must_be_what_the_trusted_root_says() -> None:
    spki = (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert keys.from_trusted_root(spki, "PKIX_ECDSA_P384_SHA_384", "k").name == "ECDSA P-384"
    with pytest.raises(ProvenanceError, match=r"its keyDetails say PKIX_ECDSA_P256_SHA_256"):
        keys.from_trusted_root(spki, "PKIX_ECDSA_P256_SHA_256", "k")


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP384R1()], ids=["P-256", "P-384"])
@pytest.mark.parametrize("digest", [hashes.SHA256(), hashes.SHA384()], ids=["SHA-256", "SHA-384"])
def test_prehashed_signatures_verify_as_cryptography_does(
    curve: ec.EllipticCurve, digest: hashes.HashAlgorithm
) -> None:
    """A hashedrekord signs a digest; with another curve size it is truncated (or not)."""
    private = ec.generate_private_key(curve)
    spki = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key = keys.from_spki(spki, "leaf")
    hashed = hashlib.new(digest.name, b"artifact").digest()
    signature = private.sign(hashed, ec.ECDSA(Prehashed(digest)))
    assert key.verify_prehashed(hashed, signature)
    assert not key.verify_prehashed(hashlib.new(digest.name, b"other").digest(), signature)


def test_windows_are_closed_intervals() -> None:
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    end = datetime(2025, 1, 1, tzinfo=timezone.utc)
    window = Window(start, end)
    assert window.contains(start) and window.contains(end)
    assert not window.contains(datetime(2023, 12, 31, 23, 59, 59, tzinfo=timezone.utc))
    assert not window.contains(datetime(2025, 1, 1, 0, 0, 0, 1, tzinfo=timezone.utc))
    assert Window(start, None).contains(datetime(2099, 1, 1, tzinfo=timezone.utc))
