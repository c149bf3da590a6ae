"""RFC 3161 timestamps (CMS SignedData over a TSTInfo), verified with the trusted root's TSAs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from . import der, keys, x509
from .errors import ProvenanceError
from .trustroot import Authority, TrustedRoot

_SIGNED_DATA = "1.2.840.113549.1.7.2"
_TST_INFO = "1.2.840.113549.1.9.16.1.4"
_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_SIGNING_CERTIFICATE = "1.2.840.113549.1.9.16.2.12"
_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"
_HASHES = {
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
    "1.3.14.3.2.26": "sha1",  # only inside ESS signingCertificate (v1) identifiers
}
_WHAT = "RFC 3161 timestamp"


def _hash_algorithm(node: der.Node) -> str:
    items = der.sequence(node, _WHAT, count=(1, 2))
    if len(items) == 2 and (items[1].tag != der.NULL or items[1].content):
        raise ProvenanceError(f"sigstore: malformed {_WHAT}: hash parameters")
    name = _HASHES.get(der.oid(items[0], _WHAT))
    if name is None:
        raise ProvenanceError(f"sigstore: {_WHAT} uses an unsupported hash algorithm")
    return name


@dataclass(frozen=True)
class Token:
    """The parts of a timestamp response that verification needs."""

    tst_info: bytes  # the eContent: the DER TSTInfo the signed attributes commit to
    gen_time: datetime
    imprint_hash: str
    imprint: bytes
    digest_algorithm: str
    signed_attrs: bytes  # re-tagged as SET OF, as signed (RFC 5652 5.4)
    attributes: dict[str, list[der.Node]]
    signature_algorithm: str
    signature: bytes
    sid_issuer_serial: tuple[bytes, int] | None
    sid_key_id: bytes | None


def parse_response(data: bytes) -> Token:
    """A TimeStampResp (status granted) with its one signer, or ProvenanceError."""
    resp = der.sequence(der.parse(data, _WHAT), _WHAT, count=(1, 2))
    status = der.sequence(resp[0], _WHAT, count=(1, 3))
    if der.integer(status[0], _WHAT) not in (0, 1) or len(resp) != 2:
        raise ProvenanceError(f"sigstore: {_WHAT} was not granted")
    content_info = der.sequence(resp[1], _WHAT, count=(2, 2))
    if der.oid(content_info[0], _WHAT) != _SIGNED_DATA:
        raise ProvenanceError(f"sigstore: {_WHAT} is not a CMS SignedData")
    wrapped = content_info[1].expect(der.context(0), _WHAT).children(_WHAT)
    if len(wrapped) != 1:
        raise ProvenanceError(f"sigstore: malformed {_WHAT}: SignedData")
    signed = der.sequence(wrapped[0], _WHAT, count=(4, 6))
    if der.integer(signed[0], _WHAT) not in (1, 3):
        raise ProvenanceError(f"sigstore: {_WHAT}'s SignedData version is unsupported")
    encap = der.sequence(signed[2], _WHAT, count=(2, 2))
    if der.oid(encap[0], _WHAT) != _TST_INFO:
        raise ProvenanceError(f"sigstore: {_WHAT} does not hold a TSTInfo")
    econtent = encap[1].expect(der.context(0), _WHAT).children(_WHAT)
    if len(econtent) != 1:
        raise ProvenanceError(f"sigstore: malformed {_WHAT}: eContent")
    tst_der = der.octet_string(econtent[0], _WHAT)
    signer_infos = signed[-1].expect(der.SET, _WHAT).children(_WHAT)
    if len(signer_infos) != 1:
        raise ProvenanceError(f"sigstore: {_WHAT} must have exactly one signer")
    info = der.sequence(signer_infos[0], _WHAT, count=(6, 7))
    sid_issuer_serial = None
    sid_key_id = None
    if info[1].tag == der.SEQUENCE:
        sid = der.sequence(info[1], _WHAT, count=(2, 2))
        sid_issuer_serial = (sid[0].expect(der.SEQUENCE, _WHAT).raw, der.integer(sid[1], _WHAT))
    elif info[1].tag == der.context(0, constructed=False):
        sid_key_id = info[1].content
    else:
        raise ProvenanceError(f"sigstore: malformed {_WHAT}: signer identifier")
    digest_algorithm = _hash_algorithm(info[2])
    attrs_node = info[3].expect(der.context(0), _WHAT)
    attributes: dict[str, list[der.Node]] = {}
    for attribute in attrs_node.children(_WHAT):
        parts = der.sequence(attribute, _WHAT, count=(2, 2))
        name = der.oid(parts[0], _WHAT)
        if name in attributes:
            raise ProvenanceError(f"sigstore: {_WHAT} repeats signed attribute {name}")
        attributes[name] = parts[1].expect(der.SET, _WHAT).children(_WHAT)
    signature_algorithm = der.oid(der.sequence(info[4], _WHAT, count=(1, 2))[0], _WHAT)
    signature = der.octet_string(info[5], _WHAT)

    tst = der.sequence(der.parse(tst_der, "TSTInfo"), "TSTInfo", count=(5, 10))
    if der.integer(tst[0], "TSTInfo") != 1:
        raise ProvenanceError(f"sigstore: {_WHAT}'s TSTInfo version is not 1")
    imprint = der.sequence(tst[2], "TSTInfo", count=(2, 2))
    return Token(
        tst_info=tst_der,
        gen_time=der.time(tst[4].expect(der.GENERALIZED_TIME, "TSTInfo"), "TSTInfo", fraction=True),
        imprint_hash=_hash_algorithm(imprint[0]),
        imprint=der.octet_string(imprint[1], "TSTInfo"),
        digest_algorithm=digest_algorithm,
        signed_attrs=der.encode(der.SET, attrs_node.content),
        attributes=attributes,
        signature_algorithm=signature_algorithm,
        signature=signature,
        sid_issuer_serial=sid_issuer_serial,
        sid_key_id=sid_key_id,
    )


def _single(token: Token, name: str, label: str) -> der.Node:
    values = token.attributes.get(name)
    if not values or len(values) != 1:
        raise ProvenanceError(f"sigstore: {_WHAT} lacks a single {label} attribute")
    return values[0]


def _signer_matches(token: Token, cert: x509.Certificate) -> bool:
    if token.sid_issuer_serial is not None:
        return token.sid_issuer_serial == (cert.issuer, cert.serial)
    return token.sid_key_id is not None and token.sid_key_id == cert.subject_key_id


def _ess_binds(token: Token, cert: x509.Certificate) -> bool:
    """The ESS signingCertificate(V2) attribute names cert (RFC 2634 / RFC 5035)."""
    if _SIGNING_CERTIFICATE_V2 in token.attributes:
        node, hash_name = _single(token, _SIGNING_CERTIFICATE_V2, "signingCertificateV2"), "sha256"
    else:
        node, hash_name = _single(token, _SIGNING_CERTIFICATE, "signingCertificate"), "sha1"
    certs = der.sequence(der.sequence(node, _WHAT, count=(1, 2))[0], _WHAT)
    if not certs:
        return False
    first = der.sequence(certs[0], _WHAT, count=(1, 3))
    if first[0].tag == der.SEQUENCE:  # ESSCertIDv2 with an explicit hashAlgorithm
        hash_name = _hash_algorithm(first[0])
        first = first[1:]
    return der.octet_string(first[0], _WHAT) == hashlib.new(hash_name, cert.raw).digest()


def _verify_with(token: Token, authority: Authority) -> str | None:
    """None when authority's TSA signed token at a time all its certificates allow, else why."""
    signer = authority.chain[0]
    if not _signer_matches(token, signer):
        return "signed by another TSA certificate"
    if not _ess_binds(token, signer):
        return "signing certificate attribute does not name the TSA certificate"
    kind, hash_name = keys.SIGNATURE_ALGORITHMS.get(token.signature_algorithm, ("", ""))
    if not kind and token.signature_algorithm in (keys.EC_PUBLIC_KEY, keys.RSA):
        kind = "ec" if token.signature_algorithm == keys.EC_PUBLIC_KEY else "rsa"
        hash_name = token.digest_algorithm
    if kind != signer.public_key.kind:
        return "signature algorithm does not fit the TSA key"
    if not signer.public_key.verify(token.signed_attrs, token.signature, hash_name or None):
        return "signature does not verify with the TSA key"
    if signer.ext_key_usage != frozenset({x509.TIME_STAMPING}):
        return "TSA certificate is not for time stamping only"
    if not authority.chain_verifies():
        return "TSA certificate chain does not verify"
    if not all(c.valid_at(token.gen_time) for c in authority.chain):
        return f"time {token.gen_time.isoformat()} is outside the TSA certificates' validity"
    if not authority.window.contains(token.gen_time):
        return (
            f"time {token.gen_time.isoformat()} is outside the TSA's validity in the trusted root"
        )
    return None


def verify_timestamp(data: bytes, signature: bytes, root: TrustedRoot) -> tuple[datetime, str]:
    """(time, TSA uri) of a timestamp over signature by a TSA of the trusted root."""
    token = parse_response(data)
    if hashlib.new(token.imprint_hash, signature).digest() != token.imprint:
        raise ProvenanceError(f"sigstore: {_WHAT} is not over this signature (message imprint)")
    content_type = _single(token, _CONTENT_TYPE, "content type")
    if der.oid(content_type, _WHAT) != _TST_INFO:
        raise ProvenanceError(f"sigstore: {_WHAT}'s signed content type is not TSTInfo")
    digest = der.octet_string(_single(token, _MESSAGE_DIGEST, "message digest"), _WHAT)
    if hashlib.new(token.digest_algorithm, token.tst_info).digest() != digest:
        raise ProvenanceError(f"sigstore: {_WHAT}'s message digest does not match its TSTInfo")
    if not root.timestamp_authorities:
        raise ProvenanceError("sigstore: trusted root has no timestamp authority")
    reasons = []
    for authority in root.timestamp_authorities:
        why = _verify_with(token, authority)
        if why is None:
            return token.gen_time, authority.uri
        reasons.append(why)
    raise ProvenanceError(f"sigstore: {_WHAT} does not verify ({'; '.join(reasons)})")
