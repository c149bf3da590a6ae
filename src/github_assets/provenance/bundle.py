"""Sigstore bundle verification: the checks, in order (docs/provenance.md lists them).

1. the bundle's shape (media type v0.1-v0.3, one certificate, one log entry, one signature);
2. a verified signing time: an RFC 3161 timestamp of a trusted TSA, or the log's integrated
   time under a verified signed entry timestamp (SET);
3. the certificate chain to a Fulcio CA of the trusted root at every verified time;
4. the embedded SCT; 5. the identity policy;
6. the log entry: its body is this signature, its inclusion proof leads to a signed
   checkpoint (v0.2+; v0.1 when present), its log key was valid;
7. the signature over the artifact (or the DSSE PAE) and the in-toto subject digest.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from . import rfc3161, sct, tlog, x509
from .errors import ProvenanceError
from .trustroot import Authority, Log, TrustedRoot, b64

_MEDIA_TYPES = {
    "application/vnd.dev.sigstore.bundle+json;version=0.1": 1,
    "application/vnd.dev.sigstore.bundle+json;version=0.2": 2,
    "application/vnd.dev.sigstore.bundle+json;version=0.3": 3,
    "application/vnd.dev.sigstore.bundle.v0.3+json": 3,
}
_IN_TOTO = "application/vnd.in-toto+json"
_STATEMENT_TYPES = ("https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1")
_MAX_TIMESTAMPS = 32
_YEAR_10000 = 253402300800  # seconds since the epoch; datetime stops at year 9999


@dataclass(frozen=True)
class ArtifactDigest:
    """An artifact known by its sha256 only."""

    sha256: bytes

    @classmethod
    def from_hex(cls, text: str) -> ArtifactDigest:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise ProvenanceError(f"sigstore: artifact digest is not a sha256 hex: {text!r}")
        return cls(raw)


@dataclass(frozen=True)
class Identity:
    """Who must have signed: the certificate's SAN and its OIDC issuer extension."""

    san: str  # exact, or a regular expression fully matched when it starts with "^"
    issuer: str

    def match(self, sans: list[str]) -> str | None:
        """The SAN that is the identity (or fully matches it, for a "^" pattern), if any."""
        if self.san.startswith("^"):
            try:
                pattern = re.compile(self.san)
            except re.error as error:
                raise _fail(
                    f"identity {self.san!r} is not a regular expression: {error}"
                ) from error
            return next((s for s in sans if pattern.fullmatch(s)), None)
        return self.san if self.san in sans else None


@dataclass(frozen=True)
class Verification:
    """What a verified bundle established."""

    san: str
    issuer: str
    signing_time: datetime
    time_source: str
    payload_type: str | None
    statement: Mapping[str, Any] | None


def _fail(message: str) -> ProvenanceError:
    return ProvenanceError(f"sigstore: {message}")


def _obj(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(f"bundle's {what} is missing or not an object")
    return value


def _int(value: object, what: str) -> int:
    """A protobuf JSON int64: a decimal string or a JSON number."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _fail(f"bundle's {what} is not an integer")
    # int64 in protobuf JSON: at most 19 digits (and int() refuses very long digit strings).
    if isinstance(value, str) and not re.fullmatch(r"-?(0|[1-9][0-9]{0,18})", value):
        raise _fail(f"bundle's {what} is not an integer")
    number = int(value)
    if not -(2**63) <= number < 2**64:
        raise _fail(f"bundle's {what} is out of range")
    return number


@dataclass
class _Entry:
    log_index: int
    log_id: bytes
    kind: str
    version: str
    integrated_time: int
    set_signature: bytes | None
    body: bytes
    proof: dict[str, Any] | None

    @property
    def rekor_v2(self) -> bool:
        """Rekor v2 (tile-based) logs write these kinds only; they have no SET."""
        return (self.kind, self.version) in (("hashedrekord", "0.0.2"), ("dsse", "0.0.2"))


def _entry(raw: object) -> _Entry:
    entry = _obj(raw, "tlog entry")
    kind_version = _obj(entry.get("kindVersion"), "tlog entry kindVersion")
    log_index = _int(entry.get("logIndex", "0"), "tlog entry logIndex")
    if log_index < 0:
        raise _fail("log entry has a negative log index")
    integrated = _int(entry.get("integratedTime", "0"), "tlog entry integratedTime")
    if not 0 <= integrated < _YEAR_10000:
        raise _fail("log entry's integrated time is out of range")
    promise = entry.get("inclusionPromise")
    set_signature = None
    if promise is not None:
        set_signature = b64(
            _obj(promise, "inclusionPromise").get("signedEntryTimestamp"), "signed entry timestamp"
        )
    proof = entry.get("inclusionProof")
    return _Entry(
        log_index=log_index,
        log_id=b64(_obj(entry.get("logId"), "tlog entry logId").get("keyId"), "log id"),
        kind=str(kind_version.get("kind")),
        version=str(kind_version.get("version")),
        integrated_time=integrated,
        set_signature=set_signature,
        body=b64(entry.get("canonicalizedBody"), "canonicalized body"),
        proof=_obj(proof, "inclusionProof") if proof is not None else None,
    )


def _pae(payload_type: str, payload: bytes) -> bytes:
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


@dataclass
class _Content:
    signature: bytes
    message_digest: bytes | None = None  # messageSignature's stated sha256, if any
    payload_type: str | None = None
    payload: bytes | None = None


def _content(doc: dict[str, Any]) -> _Content:
    has_message = "messageSignature" in doc
    has_envelope = "dsseEnvelope" in doc
    if has_message == has_envelope:
        raise _fail("bundle must hold exactly one of messageSignature and dsseEnvelope")
    if has_message:
        message = _obj(doc["messageSignature"], "messageSignature")
        digest = None
        if message.get("messageDigest") is not None:
            stated = _obj(message["messageDigest"], "messageDigest")
            if stated.get("algorithm") != "SHA2_256":
                raise _fail("bundle's message digest is not SHA2_256")
            digest = b64(stated.get("digest"), "message digest")
        return _Content(b64(message.get("signature"), "signature"), message_digest=digest)
    envelope = _obj(doc["dsseEnvelope"], "dsseEnvelope")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or len(signatures) != 1:
        raise _fail("DSSE envelope must have exactly one signature")
    payload_type = envelope.get("payloadType")
    if not isinstance(payload_type, str):
        raise _fail("DSSE envelope has no payload type")
    return _Content(
        b64(_obj(signatures[0], "DSSE signature").get("sig"), "DSSE signature"),
        payload_type=payload_type,
        payload=b64(envelope.get("payload"), "DSSE payload"),
    )


def _leaf_certificate(material: dict[str, Any], version: int) -> x509.Certificate:
    if "publicKey" in material:
        raise _fail("bundle is signed with a managed key, not a Fulcio certificate (unsupported)")
    if version >= 3:
        if "x509CertificateChain" in material:
            raise _fail("a v0.3 bundle must carry a single certificate, not a chain")
        cert = _obj(material.get("certificate"), "certificate")
        raw = b64(cert.get("rawBytes"), "certificate")
    else:
        chain = _obj(material.get("x509CertificateChain"), "x509CertificateChain")
        certs = chain.get("certificates")
        if not isinstance(certs, list) or not certs:
            raise _fail("bundle's certificate chain is empty")
        # Only the leaf counts: the chain is built from the trusted root, never the bundle.
        raw = b64(_obj(certs[0], "certificate").get("rawBytes"), "certificate")
    leaf = x509.parse_certificate(raw, "signing certificate")
    if leaf.is_ca:
        raise _fail("signing certificate is a CA certificate, not a leaf")
    return leaf


def _times(
    doc: dict[str, Any], version: int, entry: _Entry, log: Log, content: _Content, root: TrustedRoot
) -> list[tuple[datetime, str]]:
    """Every verified time of signing, with its source; a bad SET fails, a bad TSA is skipped."""
    times: list[tuple[datetime, str]] = []
    problems: list[str] = []
    material = doc["verificationMaterial"]
    data = material.get("timestampVerificationData")
    stamps = _obj(data, "timestampVerificationData").get("rfc3161Timestamps") if data else None
    if stamps:
        if not isinstance(stamps, list) or len(stamps) > _MAX_TIMESTAMPS:
            raise _fail("bundle's RFC 3161 timestamps are not a list of at most 32")
        raw_stamps = [b64(_obj(s, "timestamp").get("signedTimestamp"), "timestamp") for s in stamps]
        if len(set(raw_stamps)) != len(raw_stamps):
            raise _fail("bundle repeats an RFC 3161 timestamp")
        for raw in raw_stamps:
            try:
                when, uri = rfc3161.verify_timestamp(raw, content.signature, root)
            except ProvenanceError as error:
                problems.append(error.message.removeprefix("sigstore: "))
                continue
            times.append((when, f"RFC 3161 timestamp ({uri})"))
    if entry.set_signature is not None:
        if not entry.integrated_time:
            raise _fail("signed entry timestamp without an integrated time")
        payload = tlog.set_payload(entry.body, entry.integrated_time, entry.log_id, entry.log_index)
        if not log.key.verify(payload, entry.set_signature):
            raise _fail("signed entry timestamp does not verify with the log's key")
        when = datetime.fromtimestamp(entry.integrated_time, tz=timezone.utc)
        if not log.window.contains(when):
            raise _fail(f"integrated time {when.isoformat()} is outside the log key's validity")
        times.append((when, "signed entry timestamp"))
    elif version == 1:
        raise _fail("a v0.1 bundle must carry a signed entry timestamp")
    if not times:
        detail = f" ({'; '.join(problems)})" if problems else ""
        raise _fail(f"no verified signing time (signed entry timestamp or RFC 3161){detail}")
    return times


def _chain(
    leaf: x509.Certificate, root: TrustedRoot, times: list[datetime]
) -> list[x509.Certificate]:
    """The Fulcio CA chain (issuer first) that issued leaf and is valid at every time."""
    if not root.certificate_authorities:
        raise _fail("trusted root has no certificate authority")
    reasons = []
    for authority in root.certificate_authorities:
        if not leaf.issued_by(authority.chain[0]):
            continue
        reason = _authority_problem(authority, times)
        if reason is None:
            return authority.chain
        reasons.append(reason)
    if not reasons:
        raise _fail("signing certificate does not chain to a Fulcio CA of the trusted root")
    raise _fail(f"signing certificate's CA is not valid at the signing time ({reasons[0]})")


def _authority_problem(authority: Authority, times: list[datetime]) -> str | None:
    if not authority.chain_verifies():
        return "the CA's own chain does not verify"
    for child_depth, parent in enumerate(authority.chain):
        if not parent.is_ca or (
            parent.key_usage is not None and x509.KU_KEY_CERT_SIGN not in parent.key_usage
        ):
            return "a CA certificate may not sign certificates"
        if parent.path_len is not None and parent.path_len < child_depth:
            return "a CA certificate's path length is exceeded"
    for when in times:
        if not all(c.valid_at(when) for c in authority.chain):
            return f"a CA certificate is not valid at {when.isoformat()}"
        if not authority.window.contains(when):
            return f"{when.isoformat()} is outside the CA's validity in the trusted root"
    return None


def _check_leaf(leaf: x509.Certificate, times: list[datetime]) -> None:
    for when in times:
        if not leaf.valid_at(when):
            raise _fail(
                f"signing certificate is not valid at the signing time {when.isoformat()} "
                f"(valid {leaf.not_before.isoformat()} to {leaf.not_after.isoformat()})"
            )
    if leaf.key_usage is None or x509.KU_DIGITAL_SIGNATURE not in leaf.key_usage:
        raise _fail("signing certificate's key usage lacks digitalSignature")
    if leaf.ext_key_usage is None or x509.CODE_SIGNING not in leaf.ext_key_usage:
        raise _fail("signing certificate's extended key usage lacks codeSigning")
    if leaf.public_key.ec is None:
        raise _fail(f"signing certificate's {leaf.public_key.name} key is not supported")


def _pem(der_bytes: bytes) -> bytes:
    text = base64.b64encode(der_bytes).decode()
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return (
        "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"
    ).encode()


def _pem_matches(value: object, leaf: x509.Certificate) -> bool:
    """Whether a log body's base64 PEM is the signing certificate."""
    try:
        pem = base64.b64decode(str(value), validate=True).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return False
    match = re.fullmatch(
        r"-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=\n]+)-----END CERTIFICATE-----\n?", pem
    )
    if match is None:
        return False
    try:
        return base64.b64decode(match.group(1).replace("\n", ""), validate=True) == leaf.raw
    except ValueError:
        return False


def _exact(value: object, keys: set[str], what: str) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != keys:
        raise _fail(f"log entry body is not this signature's ({what})")
    return value


def _v2_verifier(leaf: x509.Certificate) -> dict[str, Any]:
    assert leaf.public_key.ec is not None
    details = {"P-256": "PKIX_ECDSA_P256_SHA_256", "P-384": "PKIX_ECDSA_P384_SHA_384"}
    return {
        "keyDetails": details[leaf.public_key.ec.curve.name],
        "x509Certificate": {"rawBytes": base64.b64encode(leaf.raw).decode()},
    }


def _check_body(
    entry: _Entry, content: _Content, leaf: x509.Certificate, artifact_sha256: bytes | None
) -> None:
    """The log entry's body records exactly this signature, key and digest."""
    try:
        body = json.loads(entry.body)
    except (ValueError, RecursionError) as error:
        raise _fail("log entry body is not JSON") from error
    mismatch = _fail("log entry body is not this signature's (kind, digest, signature or key)")
    top = _exact(body, {"apiVersion", "kind", "spec"}, "fields")
    if top["kind"] != entry.kind or top["apiVersion"] != entry.version:
        raise _fail("log entry body's kind does not match its kindVersion")
    spec = top["spec"]
    sig_b64 = base64.b64encode(content.signature).decode()
    kind = (entry.kind, entry.version)
    if kind == ("hashedrekord", "0.0.1"):
        if content.payload is not None or artifact_sha256 is None:
            raise _fail("log entry is a hashedrekord, the bundle holds a DSSE envelope")
        spec = _exact(spec, {"data", "signature"}, "spec")
        digest = _exact(
            _exact(spec["data"], {"hash"}, "data")["hash"], {"algorithm", "value"}, "hash"
        )
        signature = _exact(spec["signature"], {"content", "publicKey"}, "signature")
        key = _exact(signature["publicKey"], {"content"}, "publicKey")
        if (
            digest != {"algorithm": "sha256", "value": artifact_sha256.hex()}
            or signature["content"] != sig_b64
            or not _pem_matches(key["content"], leaf)
        ):
            raise mismatch
    elif kind == ("dsse", "0.0.1"):
        if content.payload is None:
            raise _fail("log entry is a dsse entry, the bundle holds a message signature")
        spec = _exact(spec, {"envelopeHash", "payloadHash", "signatures"}, "spec")
        payload_hash = {"algorithm": "sha256", "value": hashlib.sha256(content.payload).hexdigest()}
        signatures = spec["signatures"]
        if (
            spec["payloadHash"] != payload_hash
            or not isinstance(signatures, list)
            or len(signatures) != 1
        ):
            raise mismatch
        recorded = _exact(signatures[0], {"signature", "verifier"}, "signatures")
        if recorded["signature"] != sig_b64 or not _pem_matches(recorded["verifier"], leaf):
            raise mismatch
    elif kind == ("hashedrekord", "0.0.2"):
        spec = _exact(spec, {"hashedRekordV002"}, "spec")["hashedRekordV002"]
        if content.payload is not None:
            assert content.payload_type is not None and leaf.public_key.ec is not None
            hash_name = leaf.public_key.default_hash()
            digest_bytes = hashlib.new(
                hash_name, _pae(content.payload_type, content.payload)
            ).digest()
            algorithm = {"sha256": "SHA2_256", "sha384": "SHA2_384"}[hash_name]
        else:
            assert artifact_sha256 is not None
            digest_bytes, algorithm = artifact_sha256, "SHA2_256"
        expected = {
            "data": {"algorithm": algorithm, "digest": base64.b64encode(digest_bytes).decode()},
            "signature": {"content": sig_b64, "verifier": _v2_verifier(leaf)},
        }
        if spec != expected:
            raise mismatch
    elif kind == ("dsse", "0.0.2"):
        if content.payload is None:
            raise _fail("log entry is a dsse entry, the bundle holds a message signature")
        spec = _exact(spec, {"dsseV002"}, "spec")["dsseV002"]
        payload_digest = base64.b64encode(hashlib.sha256(content.payload).digest()).decode()
        expected = {
            "payloadHash": {"algorithm": "SHA2_256", "digest": payload_digest},
            "signatures": [{"content": sig_b64, "verifier": _v2_verifier(leaf)}],
        }
        if spec != expected:
            raise mismatch
    else:
        raise _fail(f"log entry kind {entry.kind} {entry.version} is not supported")


def _check_inclusion(entry: _Entry, log: Log) -> None:
    proof = entry.proof
    assert proof is not None
    index = _int(proof.get("logIndex"), "inclusion proof logIndex")
    size = _int(proof.get("treeSize"), "inclusion proof treeSize")
    hashes = proof.get("hashes")
    if not isinstance(hashes, list):
        raise _fail("inclusion proof has no hash list")
    path = [b64(h, "inclusion proof hash") for h in hashes]
    root_hash = b64(proof.get("rootHash"), "inclusion proof root hash")
    if any(len(h) != 32 for h in [*path, root_hash]):
        raise _fail("inclusion proof hashes are not 32 bytes")
    computed = tlog.root_from_inclusion_proof(index, size, tlog.leaf_hash(entry.body), path)
    if computed != root_hash:
        raise _fail("inclusion proof does not lead to its root hash")
    checkpoint = proof.get("checkpoint")
    envelope = _obj(checkpoint, "checkpoint").get("envelope") if checkpoint else None
    if not isinstance(envelope, str) or not envelope:
        raise _fail("inclusion proof has no checkpoint")
    tlog.verify_checkpoint(envelope, log, size, root_hash, rekor_v2=entry.rekor_v2)


def _check_signature(
    content: _Content, leaf: x509.Certificate, artifact_sha256: bytes
) -> Mapping[str, Any] | None:
    """The signature covers the artifact (or DSSE PAE, whose statement names the artifact)."""
    key = leaf.public_key
    if content.payload is None:
        if content.message_digest is not None and content.message_digest != artifact_sha256:
            raise _fail("bundle's message digest is not the artifact's sha256")
        if not key.verify_prehashed(artifact_sha256, content.signature):
            raise _fail("signature does not verify over the artifact")
        return None
    assert content.payload_type is not None
    if not key.verify(_pae(content.payload_type, content.payload), content.signature):
        raise _fail("DSSE signature does not verify over the envelope")
    if content.payload_type != _IN_TOTO:
        raise _fail(f"DSSE payload type {content.payload_type!r} is not an in-toto statement")
    try:
        statement = json.loads(content.payload)
    except (ValueError, RecursionError) as error:
        raise _fail("DSSE payload is not a JSON in-toto statement") from error
    if not isinstance(statement, dict) or statement.get("_type") not in _STATEMENT_TYPES:
        raise _fail("DSSE payload is not an in-toto statement")
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise _fail("in-toto statement has no subject")
    wanted = artifact_sha256.hex()
    for subject in subjects:
        digest = subject.get("digest") if isinstance(subject, dict) else None
        if isinstance(digest, dict) and str(digest.get("sha256", "")).lower() == wanted:
            return statement
    raise _fail("no in-toto statement subject has the artifact's sha256")


def verify_bundle(
    bundle: bytes | Mapping[str, Any],
    artifact: bytes | ArtifactDigest,
    policy: Identity | None,
    trusted_root: TrustedRoot,
) -> Verification:
    """Verify bundle for artifact under policy against trusted_root, or raise ProvenanceError."""
    if isinstance(bundle, (bytes, bytearray)):
        try:
            doc = json.loads(bundle)
        except (ValueError, RecursionError) as error:  # RecursionError: absurd nesting
            raise _fail(f"bundle is not JSON: {error}") from error
    else:
        doc = dict(bundle)
    doc = _obj(doc, "document")
    version = _MEDIA_TYPES.get(str(doc.get("mediaType")))
    if version is None:
        raise _fail(f"unsupported bundle media type {doc.get('mediaType')!r}")
    material = _obj(doc.get("verificationMaterial"), "verificationMaterial")
    content = _content(doc)
    leaf = _leaf_certificate(material, version)
    entries = material.get("tlogEntries")
    if not isinstance(entries, list) or len(entries) != 1:
        raise _fail("bundle must hold exactly one transparency log entry")
    entry = _entry(entries[0])
    log = trusted_root.tlog(entry.log_id)
    if log is None:
        raise _fail("log entry is from a transparency log not in the trusted root")
    if version >= 2 and entry.proof is None:
        raise _fail(f"a v0.{version} bundle must carry an inclusion proof")
    if entry.rekor_v2 and entry.set_signature is not None:
        raise _fail("a Rekor v2 entry cannot carry a signed entry timestamp")

    artifact_sha256 = (
        artifact.sha256
        if isinstance(artifact, ArtifactDigest)
        else hashlib.sha256(artifact).digest()
    )

    # 2. verified time, 3. chain, 4. SCT, 5. identity
    times = _times(doc, version, entry, log, content, trusted_root)
    moments = [when for when, _ in times]
    _check_leaf(leaf, moments)
    chain = _chain(leaf, trusted_root, moments)
    sct.verify_embedded_sct(leaf, chain, trusted_root)
    issuer = leaf.oidc_issuer()
    san = leaf.sans[0] if leaf.sans else ""
    if policy is not None:
        if issuer != policy.issuer:
            raise _fail(f"certificate's OIDC issuer {issuer!r} is not {policy.issuer!r}")
        matched = policy.match(leaf.sans)
        if matched is None:
            raise _fail(f"certificate's identity {san!r} does not match {policy.san!r}")
        san = matched

    # 6. the log entry records this signature and is included in the log
    _check_body(entry, content, leaf, artifact_sha256 if content.payload is None else None)
    if entry.proof is not None:
        _check_inclusion(entry, log)
    for when in moments:
        if not log.window.contains(when):
            raise _fail(f"the log's key is not valid at the signing time {when.isoformat()}")

    # 7. the signature covers the artifact
    statement = _check_signature(content, leaf, artifact_sha256)
    first_time, source = min(times)
    return Verification(
        san=san,
        issuer=issuer or "",
        signing_time=first_time,
        time_source=source,
        payload_type=content.payload_type,
        statement=statement,
    )
