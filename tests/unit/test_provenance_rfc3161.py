"""RFC 3161 timestamps from a timestamp authority made in the test: every binding that makes a
timestamp trustworthy (imprint, signed attributes, signer, ESS certificate id, EKU, validity,
the trusted root's window) is broken once and named."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from github_assets.provenance import ProvenanceError, TrustedRoot, der
from github_assets.provenance.rfc3161 import verify_timestamp

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
SIGNATURE = b"the bundle's signature bytes"


def _oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.append(0x80 | (arc & 0x7F))
        body += bytes(reversed(chunk))
    return der.encode(der.OID, bytes(body))


def _seq(*parts: bytes) -> bytes:
    return der.encode(der.SEQUENCE, b"".join(parts))


def _set(*parts: bytes) -> bytes:
    return der.encode(der.SET, b"".join(parts))


def _int(value: int) -> bytes:
    return der.encode(der.INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def _octets(data: bytes) -> bytes:
    return der.encode(der.OCTET_STRING, data)


SHA256 = _seq(_oid("2.16.840.1.101.3.4.2.1"), b"\x05\x00")


@dataclass
class Tsa:
    """A root CA and a timestamping certificate under it, with their keys."""

    eku: list[cx509.ObjectIdentifier] = field(
        default_factory=lambda: [ExtendedKeyUsageOID.TIME_STAMPING]
    )

    def __post_init__(self) -> None:
        self.root_key = ec.generate_private_key(ec.SECP384R1())
        name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "test TSA root")])
        self.root = (
            cx509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.root_key.public_key())
            .serial_number(1)
            .not_valid_before(T0)
            .not_valid_after(T0 + dt.timedelta(days=365))
            .add_extension(cx509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.root_key, hashes.SHA384())
        )
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = (
            cx509.CertificateBuilder()
            .subject_name(cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "test TSA")]))
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(7)
            .not_valid_before(T0)
            .not_valid_after(T0 + dt.timedelta(days=30))
            .add_extension(cx509.ExtendedKeyUsage(self.eku), critical=True)
            .add_extension(
                cx509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False
            )
            .sign(self.root_key, hashes.SHA384())
        )

    def der(self, cert: cx509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.DER)

    def trusted_root(self, window: dict[str, str] | None = None) -> TrustedRoot:
        doc: dict[str, Any] = {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "timestampAuthorities": [
                {
                    "uri": "https://tsa.example",
                    "certChain": {
                        "certificates": [
                            {"rawBytes": base64.b64encode(self.der(c)).decode()}
                            for c in (self.cert, self.root)
                        ]
                    },
                    "validFor": window or {"start": "2025-01-01T00:00:00Z"},
                }
            ],
        }
        return TrustedRoot.from_json(json.dumps(doc))

    def response(
        self,
        *,
        over: bytes = SIGNATURE,
        when: str = "20260102030405.25Z",
        status: int = 0,
        by_key_id: bool = False,
        ess_v1: bool = False,
        ess_cert: bytes | None = None,
        content_type: str = "1.2.840.113549.1.9.16.1.4",
        digest_of: bytes | None = None,
        signer: ec.EllipticCurvePrivateKey | None = None,
        signers: int = 1,
    ) -> bytes:
        tst = _seq(
            _int(1),
            _oid("1.3.6.1.4.1.57264.2"),
            _seq(SHA256, _octets(hashlib.sha256(over).digest())),
            _int(12345),
            der.encode(der.GENERALIZED_TIME, when.encode()),
        )
        cert_der = ess_cert if ess_cert is not None else self.der(self.cert)
        if ess_v1:
            ess = _seq(
                _oid("1.2.840.113549.1.9.16.2.12"),
                _set(_seq(_seq(_seq(_octets(hashlib.sha1(cert_der).digest()))))),
            )
        else:
            ess = _seq(
                _oid("1.2.840.113549.1.9.16.2.47"),
                _set(_seq(_seq(_seq(_octets(hashlib.sha256(cert_der).digest()))))),
            )
        attributes = (
            _seq(_oid("1.2.840.113549.1.9.3"), _set(_oid(content_type)))
            + _seq(
                _oid("1.2.840.113549.1.9.4"),
                _set(_octets(hashlib.sha256(digest_of or tst).digest())),
            )
            + ess
        )
        signature = (signer or self.key).sign(_set(attributes), ec.ECDSA(hashes.SHA256()))
        if by_key_id:
            ski = self.cert.extensions.get_extension_for_class(cx509.SubjectKeyIdentifier)
            sid = der.encode(der.context(0, constructed=False), ski.value.digest)
        else:
            issuer = self.cert.issuer.public_bytes()
            sid = _seq(issuer, _int(self.cert.serial_number))
        signer_info = _seq(
            _int(3 if by_key_id else 1),
            sid,
            SHA256,
            der.encode(der.context(0), attributes),
            _seq(_oid("1.2.840.10045.4.3.2")),
            _octets(signature),
        )
        signed_data = _seq(
            _int(3),
            _set(SHA256),
            _seq(_oid("1.2.840.113549.1.9.16.1.4"), der.encode(der.context(0), _octets(tst))),
            der.encode(der.context(0), self.der(self.cert)),
            _set(*[signer_info] * signers),
        )
        token = _seq(_oid("1.2.840.113549.1.7.2"), der.encode(der.context(0), signed_data))
        return _seq(_seq(_int(status)), token)


@pytest.fixture(scope="module")
def tsa() -> Tsa:
    return Tsa()


WHEN = dt.datetime(2026, 1, 2, 3, 4, 5, 250000, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    "form",
    [{}, {"by_key_id": True}, {"ess_v1": True}],
    ids=["issuer-and-serial", "subject-key-id", "ess-v1"],
)
def test_a_timestamp_of_a_trusted_tsa_gives_its_time(tsa: Tsa, form: dict[str, bool]) -> None:
    assert verify_timestamp(tsa.response(**form), SIGNATURE, tsa.trusted_root()) == (
        WHEN,
        "https://tsa.example",
    )


def test_the_trusted_roots_window_is_closed(tsa: Tsa) -> None:
    at_end = tsa.trusted_root({"start": "2025-01-01T00:00:00Z", "end": "2026-01-02T03:04:05.25Z"})
    assert verify_timestamp(tsa.response(), SIGNATURE, at_end)[0] == WHEN
    before_end = tsa.trusted_root({"start": "2025-01-01T00:00:00Z", "end": "2026-01-02T03:04:05Z"})
    with pytest.raises(ProvenanceError, match="outside the TSA's validity in the trusted root"):
        verify_timestamp(tsa.response(), SIGNATURE, before_end)


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        ({"over": b"another signature"}, "not over this signature"),
        ({"digest_of": b"something else"}, "message digest does not match its TSTInfo"),
        ({"content_type": "1.2.840.113549.1.7.1"}, "signed content type is not TSTInfo"),
        ({"status": 2}, "was not granted"),
        ({"signers": 2}, "exactly one signer"),
        ({"when": "20260301000000Z"}, "outside the TSA certificates' validity"),
        ({"when": "20260102030405.250Z"}, "bad time"),
    ],
)
def test_a_broken_binding_is_named(tsa: Tsa, edit: dict[str, Any], problem: str) -> None:
    with pytest.raises(ProvenanceError, match=problem):
        verify_timestamp(tsa.response(**edit), SIGNATURE, tsa.trusted_root())


def test_another_key_or_certificate_is_not_the_tsa(tsa: Tsa) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(ProvenanceError, match="signature does not verify with the TSA key"):
        verify_timestamp(tsa.response(signer=stranger), SIGNATURE, tsa.trusted_root())
    with pytest.raises(ProvenanceError, match="does not name the TSA certificate"):
        verify_timestamp(tsa.response(ess_cert=b"other"), SIGNATURE, tsa.trusted_root())
    # Another TSA with the same issuer name and serial: the ESS certificate id tells them apart.
    impostor = Tsa()
    with pytest.raises(ProvenanceError, match="does not name the TSA certificate"):
        verify_timestamp(impostor.response(), SIGNATURE, tsa.trusted_root())
    with pytest.raises(ProvenanceError, match="signed by another TSA certificate"):
        verify_timestamp(impostor.response(by_key_id=True), SIGNATURE, tsa.trusted_root())


def test_a_tsa_certificate_must_be_for_time_stamping() -> None:
    code_signer = Tsa(eku=[ExtendedKeyUsageOID.CODE_SIGNING])
    with pytest.raises(ProvenanceError, match="not for time stamping only"):
        verify_timestamp(code_signer.response(), SIGNATURE, code_signer.trusted_root())
