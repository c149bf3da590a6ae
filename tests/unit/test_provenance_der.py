"""The strict DER and X.509 readers: one encoding per value, unknown critical extensions refused."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from github_assets.provenance import ProvenanceError, der
from github_assets.provenance.x509 import parse_certificate


@pytest.mark.parametrize(
    ("hex_der", "problem"),
    [
        ("3080020100 0000", "indefinite length"),
        ("308103020100", "non-minimal length"),
        ("30820003020100", "non-minimal length"),
        ("3003020100ff", "trailing bytes"),
        ("300502010002", "truncated"),
        ("1f0100", "high tag number"),
        ("30", "truncated"),
        ("3085ffffffffff", "bad length"),
    ],
)
def test_non_der_encodings_are_refused(hex_der: str, problem: str) -> None:
    with pytest.raises(ProvenanceError, match=f"malformed DER in test: {problem}"):
        der.parse(bytes.fromhex(hex_der.replace(" ", "")), "test").children("test")


@pytest.mark.parametrize(
    ("reader", "hex_der", "problem"),
    [
        (der.integer, "02020001", "non-minimal INTEGER"),
        (der.integer, "0202ff80", "non-minimal INTEGER"),
        (der.integer, "0200", "empty INTEGER"),
        (der.boolean, "010101", "BOOLEAN not 00 or FF"),
        (der.bit_string, "030208ff", "bad BIT STRING"),
        (der.bit_string, "030201fe", "BIT STRING with unused bits"),
        (der.oid, "06028001", "non-minimal OID arc"),
        (der.oid, "060188", "bad OBJECT IDENTIFIER"),
        (der.time, "170b323430313031303030305a", "bad time"),  # UTCTime without seconds
        (der.time, der.encode(der.UTC_TIME, b"240101000000+0100").hex(), "bad time"),
        (der.time, der.encode(der.GENERALIZED_TIME, b"20240101000000.5Z").hex(), "bad time"),
        (der.time, der.encode(der.GENERALIZED_TIME, b"20241301000000Z").hex(), "bad time"),
        (der.time, "020101", "not a time"),
    ],
)
def test_non_canonical_values_are_refused(reader: object, hex_der: str, problem: str) -> None:
    node = der.parse(bytes.fromhex(hex_der), "test")
    with pytest.raises(ProvenanceError, match=problem):
        reader(node, "test")  # type: ignore[operator]


def test_values_read_back() -> None:
    assert der.integer(der.parse(bytes.fromhex("0201ff"), "t"), "t") == -1
    assert der.integer(der.parse(bytes.fromhex("02020080"), "t"), "t") == 128
    assert der.oid(der.parse(bytes.fromhex("06072a8648ce3d0201"), "t"), "t") == "1.2.840.10045.2.1"
    when = der.time(der.parse(b"\x18\x0f20240101000000Z", "t"), "t")
    assert when == dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    utc = der.time(der.parse(b"\x17\x0d491231235959Z", "t"), "t")
    assert utc.year == 2049  # RFC 5280: YY < 50 is 20YY
    fraction = der.time(der.parse(b"\x18\x1320240101000000.125Z", "t"), "t", fraction=True)
    assert fraction.microsecond == 125000
    bits, unused = der.bit_string(der.parse(bytes.fromhex("03020780"), "t"), "t", whole_bytes=False)
    assert (bits, unused) == (b"\x80", 7)
    encoded = der.encode(der.OCTET_STRING, b"x" * 300)
    assert der.octet_string(der.parse(encoded, "t"), "t") == b"x" * 300


NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _certificate(*extensions: tuple[cx509.ExtensionType, bool]) -> tuple[bytes, bytes]:
    """(leaf DER, CA DER): a CA and a code-signing leaf with the given extra extensions."""
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca_name = cx509.Name([cx509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        cx509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + dt.timedelta(days=1))
        .add_extension(cx509.BasicConstraints(ca=True, path_length=1), critical=True)
        .sign(ca_key, hashes.SHA384())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        cx509.CertificateBuilder()
        .subject_name(cx509.Name([]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(2)
        .not_valid_before(NOW)
        .not_valid_after(NOW + dt.timedelta(minutes=10))
        .add_extension(
            cx509.SubjectAlternativeName(
                [
                    cx509.UniformResourceIdentifier("https://example.com/wf"),
                    cx509.RFC822Name("a@b.c"),
                ]
            ),
            critical=True,
        )
        .add_extension(cx509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    leaf = builder.sign(ca_key, hashes.SHA384())
    return (
        leaf.public_bytes(serialization.Encoding.DER),
        ca.public_bytes(serialization.Encoding.DER),
    )


def test_a_certificate_reads_as_cryptography_reads_it() -> None:
    leaf_der, ca_der = _certificate()
    leaf, ca = parse_certificate(leaf_der), parse_certificate(ca_der)
    reference = cx509.load_der_x509_certificate(leaf_der)
    assert leaf.serial == reference.serial_number == 2
    assert leaf.tbs == reference.tbs_certificate_bytes
    assert leaf.sans == ["https://example.com/wf", "a@b.c"]
    assert leaf.ext_key_usage == frozenset({"1.3.6.1.5.5.7.3.3"})
    assert not leaf.is_ca and ca.is_ca and ca.path_len == 1
    assert leaf.issued_by(ca)
    assert not ca.issued_by(leaf)
    other_ca_der = _certificate()[1]
    assert not leaf.issued_by(parse_certificate(other_ca_der))


def test_validity_is_a_closed_interval() -> None:
    leaf = parse_certificate(_certificate()[0])
    assert leaf.valid_at(NOW) and leaf.valid_at(NOW + dt.timedelta(minutes=10))
    assert not leaf.valid_at(NOW - dt.timedelta(microseconds=1))
    assert not leaf.valid_at(NOW + dt.timedelta(minutes=10, microseconds=1))


UNKNOWN = cx509.UnrecognizedExtension(cx509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00")


def test_an_unknown_critical_extension_refuses_the_certificate() -> None:
    with pytest.raises(
        ProvenanceError, match=r"unknown critical extension 1\.3\.6\.1\.4\.1\.99999\.1"
    ):
        parse_certificate(_certificate((UNKNOWN, True))[0])
    assert parse_certificate(_certificate((UNKNOWN, False))[0]).extensions


def _rewrite_extensions(cert_der: bytes, edit: object) -> bytes:
    """cert_der with its extension list passed through edit (signature left as it was)."""
    top = der.parse(cert_der, "t").children()
    tbs = top[0].children()
    wrapper = tbs[-1]
    exts = [e.raw for e in wrapper.children()[0].children()]
    exts = edit(exts)  # type: ignore[operator]
    new_wrapper = der.encode(der.context(3), der.encode(der.SEQUENCE, b"".join(exts)))
    new_tbs = der.encode(der.SEQUENCE, b"".join([i.raw for i in tbs[:-1]] + [new_wrapper]))
    return der.encode(der.SEQUENCE, new_tbs + top[1].raw + top[2].raw)


def test_duplicate_extensions_and_explicit_defaults_are_refused() -> None:
    leaf_der = _certificate()[0]
    with pytest.raises(ProvenanceError, match="twice"):
        parse_certificate(_rewrite_extensions(leaf_der, lambda exts: [*exts, exts[-1]]))

    def explicit_false(exts: list[bytes]) -> list[bytes]:
        last = der.parse(exts[-1], "t").children()  # the non-critical extKeyUsage
        return [*exts[:-1], der.encode(der.SEQUENCE, last[0].raw + b"\x01\x01\x00" + last[1].raw)]

    with pytest.raises(ProvenanceError, match="explicit DEFAULT"):
        parse_certificate(_rewrite_extensions(leaf_der, explicit_false))
    with pytest.raises(ProvenanceError, match="trailing bytes"):
        parse_certificate(leaf_der + b"\x00")
