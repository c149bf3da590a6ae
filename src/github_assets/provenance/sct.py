"""The signing certificate's embedded SCT (RFC 6962): proof Fulcio logged it to a CT log."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from datetime import datetime, timezone

from . import der, x509
from .errors import ProvenanceError
from .trustroot import TrustedRoot

_SHA256 = 4
_SIGNATURE_KINDS = {1: "rsa", 3: "ec"}


@dataclass(frozen=True)
class Sct:
    log_id: bytes
    timestamp_ms: int
    extensions: bytes
    hash_algorithm: int
    signature_algorithm: int
    signature: bytes

    @property
    def time(self) -> datetime:
        try:
            return datetime.fromtimestamp(self.timestamp_ms / 1000, tz=timezone.utc)
        except (OverflowError, OSError, ValueError) as error:
            raise ProvenanceError("sigstore: SCT timestamp is out of range") from error


def _vector(data: bytes, pos: int, width: int, what: str) -> tuple[bytes, int]:
    if pos + width > len(data):
        raise ProvenanceError(f"sigstore: malformed SCT list: truncated {what}")
    length = int.from_bytes(data[pos : pos + width], "big")
    pos += width
    if pos + length > len(data):
        raise ProvenanceError(f"sigstore: malformed SCT list: truncated {what}")
    return data[pos : pos + length], pos + length


def parse_sct_list(extension_value: bytes) -> list[Sct]:
    """The SCTs of the certificate extension 1.3.6.1.4.1.11129.2.4.2 (TLS-encoded list)."""
    tls = der.octet_string(der.parse(extension_value, "SCT extension"), "SCT extension")
    body, end = _vector(tls, 0, 2, "list")
    if end != len(tls) or not body:
        raise ProvenanceError("sigstore: malformed SCT list: bad list length")
    out = []
    pos = 0
    while pos < len(body):
        item, pos = _vector(body, pos, 2, "SCT")
        if len(item) < 1 + 32 + 8 + 2 or item[0] != 0:
            raise ProvenanceError("sigstore: malformed SCT list: not a v1 SCT")
        log_id = item[1:33]
        (timestamp,) = struct.unpack(">Q", item[33:41])
        extensions, at = _vector(item, 41, 2, "SCT extensions")
        if at + 2 > len(item):
            raise ProvenanceError("sigstore: malformed SCT list: truncated signature")
        hash_alg, sig_alg = item[at], item[at + 1]
        signature, at = _vector(item, at + 2, 2, "SCT signature")
        if at != len(item):
            raise ProvenanceError("sigstore: malformed SCT list: trailing bytes in an SCT")
        out.append(Sct(log_id, timestamp, extensions, hash_alg, sig_alg, signature))
    return out


def precertificate_tbs(cert: x509.Certificate) -> bytes:
    """The TBS the CT log signed: the certificate's TBS without its SCT extension, re-encoded."""
    items = cert.tbs_items
    wrapper = items[-1]
    if wrapper.tag != der.context(3):
        raise ProvenanceError("sigstore: certificate has no extensions to hold an SCT")
    kept = [e.raw for name, e in cert.extensions.items() if name != x509.SCT_LIST]
    extensions = der.encode(der.SEQUENCE, b"".join(kept))
    tail = [der.encode(der.context(3), extensions)] if kept else []
    return der.encode(der.SEQUENCE, b"".join([i.raw for i in items[:-1]] + tail))


def _issuer_for_sct(chain: list[x509.Certificate]) -> x509.Certificate:
    issuer = chain[0]
    # A precertificate signing certificate stands in for its CA; the key hash is the CA's.
    if issuer.ext_key_usage and x509.CT_PRECERT_SIGNING in issuer.ext_key_usage:
        if len(chain) < 2:
            raise ProvenanceError("sigstore: SCT issuer is a precertificate signer without a CA")
        issuer = chain[1]
    return issuer


def verify_embedded_sct(
    leaf: x509.Certificate, chain: list[x509.Certificate], root: TrustedRoot
) -> None:
    """At least one embedded SCT verifies with a CT log of the trusted root valid at its time."""
    extension = leaf.extensions.get(x509.SCT_LIST)
    if extension is None:
        raise ProvenanceError("sigstore: signing certificate has no embedded SCT")
    scts = parse_sct_list(extension.value)
    issuer = _issuer_for_sct(chain)
    if not issuer.is_ca:
        raise ProvenanceError("sigstore: SCT issuer certificate is not a CA")
    issuer_key_hash = hashlib.sha256(issuer.public_key.spki).digest()
    tbs = precertificate_tbs(leaf)
    if len(tbs) >= 1 << 24:
        raise ProvenanceError("sigstore: certificate too large for an SCT")
    problems = []
    for sct in scts:
        log = root.ctlog(sct.log_id)
        if log is None:
            problems.append("SCT from a CT log not in the trusted root")
            continue
        if not log.window.contains(sct.time):
            problems.append(f"SCT time {sct.time.isoformat()} outside the CT log's validity")
            continue
        if (
            sct.hash_algorithm != _SHA256
            or _SIGNATURE_KINDS.get(sct.signature_algorithm) != log.key.kind
        ):
            problems.append("SCT signature algorithm does not match the CT log's key")
            continue
        signed = (
            struct.pack(">BBQH", 0, 0, sct.timestamp_ms, 1)
            + issuer_key_hash
            + len(tbs).to_bytes(3, "big")
            + tbs
            + len(sct.extensions).to_bytes(2, "big")
            + sct.extensions
        )
        if log.key.verify(signed, sct.signature, "sha256"):
            return
        problems.append("SCT signature does not verify with the CT log's key")
    raise ProvenanceError(f"sigstore: embedded SCT does not verify ({'; '.join(problems)})")
