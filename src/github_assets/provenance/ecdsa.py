"""ECDSA signature verification on NIST P-256 and P-384, with Python integers.

Verification handles only public values, so the arithmetic need not be constant-time: it uses
Jacobian coordinates (one inversion per verification) and Shamir's trick (u1*G + u2*Q in a
single double-and-add pass).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from . import der
from .errors import ProvenanceError


@dataclass(frozen=True)
class Curve:
    name: str
    p: int
    b: int
    n: int
    gx: int
    gy: int
    size: int  # bytes per coordinate

    def on_curve(self, x: int, y: int) -> bool:
        p = self.p
        return 0 <= x < p and 0 <= y < p and (y * y - (x * x * x - 3 * x + self.b)) % p == 0


P256 = Curve(
    "P-256",
    p=2**256 - 2**224 + 2**192 + 2**96 - 1,
    b=0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
    n=0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    gx=0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    gy=0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
    size=32,
)
P384 = Curve(
    "P-384",
    p=2**384 - 2**128 - 2**96 + 2**32 - 1,
    b=0xB3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875AC656398D8A2ED19D2A85C8EDD3EC2AEF,
    n=0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973,
    gx=0xAA87CA22BE8B05378EB1C71EF320AD746E1D3B628BA79B9859F741E082542A385502F25DBF55296C3A545E3872760AB7,
    gy=0x3617DE4A96262C6F5D9E98BF9292DC29F8F41DBD289A147CE9DA3113B5F0B8C00A60B1CE1D7E819D7A431D7C90EA0E5F,
    size=48,
)

_Jacobian = tuple[int, int, int]


def _double(pt: _Jacobian, p: int) -> _Jacobian:
    x, y, z = pt
    if not y or not z:
        return (1, 1, 0)
    delta = z * z % p
    gamma = y * y % p
    beta = x * gamma % p
    alpha = 3 * (x - delta) * (x + delta) % p
    x3 = (alpha * alpha - 8 * beta) % p
    z3 = ((y + z) ** 2 - gamma - delta) % p
    y3 = (alpha * (4 * beta - x3) - 8 * gamma * gamma) % p
    return (x3, y3, z3)


def _add_affine(pt: _Jacobian, x2: int, y2: int, p: int) -> _Jacobian:
    """pt + (x2, y2), the second point affine (Z = 1)."""
    x1, y1, z1 = pt
    if not z1:
        return (x2, y2, 1)
    z1z1 = z1 * z1 % p
    u2 = x2 * z1z1 % p
    s2 = y2 * z1 * z1z1 % p
    h = (u2 - x1) % p
    r = (s2 - y1) % p
    if not h:
        return _double(pt, p) if not r else (1, 1, 0)
    hh = h * h % p
    hhh = h * hh % p
    v = x1 * hh % p
    x3 = (r * r - hhh - 2 * v) % p
    y3 = (r * (v - x3) - y1 * hhh) % p
    return (x3, y3, z1 * h % p)


def _to_affine(pt: _Jacobian, p: int) -> tuple[int, int] | None:
    x, y, z = pt
    if not z:
        return None
    zinv = pow(z, -1, p)
    zinv2 = zinv * zinv % p
    return (x * zinv2 % p, y * zinv2 * zinv % p)


def _shamir(curve: Curve, u1: int, u2: int, qx: int, qy: int) -> tuple[int, int] | None:
    p = curve.p
    both = _to_affine(_add_affine((curve.gx, curve.gy, 1), qx, qy, p), p)
    table: dict[int, tuple[int, int] | None] = {
        1: (curve.gx, curve.gy),
        2: (qx, qy),
        3: both,
    }
    acc: _Jacobian = (1, 1, 0)
    for bit in range(max(u1.bit_length(), u2.bit_length()) - 1, -1, -1):
        acc = _double(acc, p)
        index = ((u1 >> bit) & 1) | (((u2 >> bit) & 1) << 1)
        if index:
            point = table[index]
            if point is not None:
                acc = _add_affine(acc, point[0], point[1], p)
    return _to_affine(acc, p)


@dataclass(frozen=True)
class EcPublicKey:
    curve: Curve
    x: int
    y: int

    @classmethod
    def from_point(cls, curve: Curve, point: bytes) -> EcPublicKey:
        """An uncompressed point (04 || X || Y), checked to be on the curve."""
        size = curve.size
        if len(point) != 1 + 2 * size or point[0] != 4:
            raise ProvenanceError(f"sigstore: {curve.name} public key is not an uncompressed point")
        x = int.from_bytes(point[1 : 1 + size], "big")
        y = int.from_bytes(point[1 + size :], "big")
        if not curve.on_curve(x, y):
            raise ProvenanceError(f"sigstore: {curve.name} public key is not on the curve")
        return cls(curve, x, y)

    def verify_digest(self, digest: bytes, signature: bytes) -> bool:
        """Whether signature (DER ECDSA-Sig-Value) signs this message digest."""
        try:
            r, s = decode_signature(signature)
        except ProvenanceError:
            return False
        n = self.curve.n
        if not (0 < r < n and 0 < s < n):
            return False
        e = int.from_bytes(digest, "big")
        excess = len(digest) * 8 - n.bit_length()
        if excess > 0:
            e >>= excess
        w = pow(s, -1, n)
        point = _shamir(self.curve, e * w % n, r * w % n, self.x, self.y)
        return point is not None and point[0] % n == r

    def verify(self, message: bytes, signature: bytes, hash_name: str) -> bool:
        return self.verify_digest(hashlib.new(hash_name, message).digest(), signature)


def decode_signature(signature: bytes) -> tuple[int, int]:
    """(r, s) of a strict DER ECDSA-Sig-Value."""
    items = der.sequence(der.parse(signature, "ECDSA signature"), "ECDSA signature", count=(2, 2))
    r = der.integer(items[0], "ECDSA signature")
    s = der.integer(items[1], "ECDSA signature")
    return r, s
