"""X.509 certificates, read strictly: the fields and extensions Sigstore verification uses.

An unknown extension marked critical makes the certificate unusable (RFC 5280 4.2), as do
duplicate extensions and DEFAULT values encoded explicitly (not DER).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from . import der, keys
from .errors import ProvenanceError

BASIC_CONSTRAINTS = "2.5.29.19"
KEY_USAGE = "2.5.29.15"
EXT_KEY_USAGE = "2.5.29.37"
SUBJECT_ALT_NAME = "2.5.29.17"
SUBJECT_KEY_ID = "2.5.29.14"
AUTHORITY_KEY_ID = "2.5.29.35"
CERTIFICATE_POLICIES = "2.5.29.32"
FULCIO_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"
FULCIO_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"
SCT_LIST = "1.3.6.1.4.1.11129.2.4.2"
CODE_SIGNING = "1.3.6.1.5.5.7.3.3"
TIME_STAMPING = "1.3.6.1.5.5.7.3.8"
CT_PRECERT_SIGNING = "1.3.6.1.4.1.11129.2.4.4"
_SAN_OTHERNAME_USERNAME = "1.3.6.1.4.1.57264.1.7"

# Extensions this reader understands; any other one marked critical refuses the certificate.
_UNDERSTOOD = {
    BASIC_CONSTRAINTS,
    KEY_USAGE,
    EXT_KEY_USAGE,
    SUBJECT_ALT_NAME,
    SUBJECT_KEY_ID,
    AUTHORITY_KEY_ID,
}

KU_DIGITAL_SIGNATURE = 0
KU_KEY_CERT_SIGN = 5


@dataclass(frozen=True)
class Extension:
    critical: bool
    value: bytes
    raw: bytes  # the whole Extension SEQUENCE, to remove it from a TBS


@dataclass
class Certificate:
    raw: bytes
    tbs: bytes
    tbs_items: list[der.Node]
    signature_algorithm: str
    signature: bytes
    serial: int
    issuer: bytes
    subject: bytes
    not_before: datetime
    not_after: datetime
    public_key: keys.PublicKey
    extensions: dict[str, Extension]
    is_ca: bool = False
    path_len: int | None = None
    key_usage: frozenset[int] | None = None
    ext_key_usage: frozenset[str] | None = None
    sans: list[str] = field(default_factory=list)
    subject_key_id: bytes | None = None
    authority_key_id: bytes | None = None

    def valid_at(self, when: datetime) -> bool:
        """Whether when lies in [notBefore, notAfter], both ends included (RFC 5280)."""
        return self.not_before <= when <= self.not_after

    def issued_by(self, issuer: Certificate) -> bool:
        """Whether issuer's key signed this certificate, with names (and key ids) chaining."""
        if self.issuer != issuer.subject:
            return False
        if (
            self.authority_key_id is not None
            and issuer.subject_key_id is not None
            and self.authority_key_id != issuer.subject_key_id
        ):
            return False
        kind, hash_name = keys.SIGNATURE_ALGORITHMS.get(self.signature_algorithm, ("", ""))
        if kind != issuer.public_key.kind:
            return False
        return issuer.public_key.verify(self.tbs, self.signature, hash_name or None)

    def oidc_issuer(self) -> str | None:
        """The Fulcio OIDC issuer (1.3.6.1.4.1.57264.1.8, else the older 1.1 extension)."""
        v2 = self.extensions.get(FULCIO_ISSUER_V2)
        v1 = self.extensions.get(FULCIO_ISSUER_V1)
        new = (
            der.string(der.parse(v2.value, "OIDC issuer extension"), "OIDC issuer") if v2 else None
        )
        try:
            old = v1.value.decode("utf-8") if v1 else None
        except UnicodeDecodeError as error:
            raise ProvenanceError("sigstore: certificate's OIDC issuer is not text") from error
        if new is not None and old is not None and new != old:
            raise ProvenanceError("sigstore: certificate's two OIDC issuer extensions disagree")
        return new if new is not None else old


def _algorithm(node: der.Node, what: str) -> str:
    items = der.sequence(node, what, count=(1, 2))
    name = der.oid(items[0], what)
    kind, _ = keys.SIGNATURE_ALGORITHMS.get(name, ("", ""))
    if kind == "rsa":
        if len(items) != 2 or items[1].tag != der.NULL or items[1].content:
            raise ProvenanceError(f"sigstore: malformed DER in {what}: RSA parameters")
    elif len(items) != 1:
        raise ProvenanceError(f"sigstore: malformed DER in {what}: unexpected parameters")
    return name


def _general_names(value: bytes, what: str) -> list[str]:
    out = []
    for name in der.sequence(der.parse(value, what), what):
        if name.tag in (0x81, 0x86):  # rfc822Name, uniformResourceIdentifier (IA5String)
            try:
                out.append(name.content.decode("ascii"))
            except UnicodeDecodeError as error:
                raise ProvenanceError(f"sigstore: malformed {what}: not IA5") from error
        elif name.tag == 0xA0:  # otherName: Fulcio's username SAN
            items = name.children(what)
            if len(items) == 2 and der.oid(items[0], what) == _SAN_OTHERNAME_USERNAME:
                inner = items[1].expect(der.context(0), what).children(what)
                if len(inner) == 1:
                    out.append(der.string(inner[0], what))
    return out


def _apply_extension(cert: Certificate, name: str, value: bytes) -> None:
    what = f"certificate extension {name}"
    if name == BASIC_CONSTRAINTS:
        items = der.sequence(der.parse(value, what), what, count=(0, 2))
        if items and items[0].tag == der.BOOLEAN:
            if not der.boolean(items[0], what):
                raise ProvenanceError(f"sigstore: malformed DER in {what}: explicit DEFAULT")
            cert.is_ca = True
            items = items[1:]
        if items:
            cert.path_len = der.integer(items[0], what)
            if cert.path_len < 0 or len(items) != 1:
                raise ProvenanceError(f"sigstore: malformed DER in {what}")
    elif name == KEY_USAGE:
        bits, unused = der.bit_string(der.parse(value, what), what, whole_bytes=False)
        if bits and not bits[-1]:
            raise ProvenanceError(f"sigstore: malformed DER in {what}: trailing zero bits")
        cert.key_usage = frozenset(
            i for i in range(len(bits) * 8 - unused) if bits[i // 8] & (0x80 >> (i % 8))
        )
    elif name == EXT_KEY_USAGE:
        purposes = der.sequence(der.parse(value, what), what)
        if not purposes:
            raise ProvenanceError(f"sigstore: malformed DER in {what}: empty")
        cert.ext_key_usage = frozenset(der.oid(p, what) for p in purposes)
    elif name == SUBJECT_ALT_NAME:
        cert.sans = _general_names(value, what)
    elif name == SUBJECT_KEY_ID:
        cert.subject_key_id = der.octet_string(der.parse(value, what), what)
    elif name == AUTHORITY_KEY_ID:
        for item in der.sequence(der.parse(value, what), what):
            if item.tag == der.context(0, constructed=False):
                cert.authority_key_id = item.content


def parse_certificate(data: bytes, what: str = "certificate") -> Certificate:
    """A certificate from its DER bytes, or ProvenanceError naming what is wrong."""
    top = der.sequence(der.parse(data, what), what, count=(3, 3))
    tbs_node = top[0]
    items = der.sequence(tbs_node, what, count=(6, 10))
    position = 0
    if items[0].tag == der.context(0):
        inner = items[0].children(what)
        if len(inner) != 1 or der.integer(inner[0], what) != 2:
            raise ProvenanceError(f"sigstore: {what} is not an X.509 v3 certificate")
        position = 1
    else:
        raise ProvenanceError(f"sigstore: {what} is not an X.509 v3 certificate")
    serial = der.integer(items[position], what)
    inner_algorithm = _algorithm(items[position + 1], what)
    issuer = items[position + 2].expect(der.SEQUENCE, what).raw
    validity = der.sequence(items[position + 3], what, count=(2, 2))
    subject = items[position + 4].expect(der.SEQUENCE, what).raw
    spki = items[position + 5].expect(der.SEQUENCE, what).raw
    rest = items[position + 6 :]
    outer_algorithm = _algorithm(top[1], what)
    if inner_algorithm != outer_algorithm:
        raise ProvenanceError(f"sigstore: {what}'s two signature algorithms differ")
    signature, _ = der.bit_string(top[2], what)
    cert = Certificate(
        raw=bytes(data),
        tbs=tbs_node.raw,
        tbs_items=items,
        signature_algorithm=outer_algorithm,
        signature=signature,
        serial=serial,
        issuer=issuer,
        subject=subject,
        not_before=der.time(validity[0], what),
        not_after=der.time(validity[1], what),
        public_key=keys.from_spki(spki, f"{what}'s public key"),
        extensions={},
    )
    for extra in rest:
        if extra.tag in (der.context(1, constructed=False), der.context(2, constructed=False)):
            continue  # issuer/subject unique ids: obsolete, carry no meaning for us
        if extra.tag != der.context(3) or extra is not rest[-1]:
            raise ProvenanceError(f"sigstore: malformed DER in {what}: unexpected field")
        wrapped = extra.children(what)
        if len(wrapped) != 1:
            raise ProvenanceError(f"sigstore: malformed DER in {what}: extensions")
        for ext in der.sequence(wrapped[0], what):
            parts = der.sequence(ext, what, count=(2, 3))
            name = der.oid(parts[0], what)
            critical = False
            if len(parts) == 3:
                critical = der.boolean(parts[1], what)
                if not critical:
                    raise ProvenanceError(f"sigstore: malformed DER in {what}: explicit DEFAULT")
            value = der.octet_string(parts[-1], what)
            if name in cert.extensions:
                raise ProvenanceError(f"sigstore: {what} has extension {name} twice")
            if critical and name not in _UNDERSTOOD:
                raise ProvenanceError(f"sigstore: {what} has an unknown critical extension {name}")
            cert.extensions[name] = Extension(critical, value, ext.raw)
            _apply_extension(cert, name, value)
    return cert
