"""Ed25519 signature verification (RFC 8032), pure Python, strict.

Strict means: S must be below the group order L, both points must be canonical encodings
(y < p, no "negative zero" x), and, as libsodium does (minisign's library), a public key or R of
small order is refused, since with such a key one signature verifies for many messages. The
equation is the cofactorless one, ``[S]B == R + [k]A`` compared on R's encoding, as OpenSSL and
libsodium check it.
"""

from __future__ import annotations

import hashlib

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, P - 2, P) % P
_D2 = 2 * _D % P
_SQRT_M1 = pow(2, (P - 1) // 4, P)

# A point in extended coordinates (X, Y, Z, T) with x = X/Z, y = Y/Z, x*y = T/Z.
_Point = tuple[int, int, int, int]
_IDENTITY: _Point = (0, 1, 1, 0)


def _add(p: _Point, q: _Point) -> _Point:
    # add-2008-hwcd-3 for a = -1: complete, so it also doubles and handles the identity.
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = t1 * _D2 * t2 % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _double(p: _Point) -> _Point:
    # dbl-2008-hwcd with a = -1, signs folded in (each output is a product of two negated terms).
    x1, y1, z1, _ = p
    a = x1 * x1 % P
    b = y1 * y1 % P
    c = 2 * z1 * z1 % P
    h = a + b
    e = h - (x1 + y1) * (x1 + y1) % P
    g = a - b
    f = c + g
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _negate(p: _Point) -> _Point:
    x, y, z, t = p
    return (-x % P, y, z, -t % P)


def _is_identity(p: _Point) -> bool:
    x, y, z, _ = p
    return x % P == 0 and (y - z) % P == 0


def _encode(p: _Point) -> bytes:
    x, y, z, _ = p
    zinv = pow(z, P - 2, P)
    x, y = x * zinv % P, y * zinv % P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def _decode(data: bytes) -> _Point | None:
    """The point `data` encodes, or None for a non-canonical or off-curve encoding."""
    if len(data) != 32:
        return None
    value = int.from_bytes(data, "little")
    sign = value >> 255
    y = value & ((1 << 255) - 1)
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        if sign:
            return None  # x = 0 has no negative form; the sign bit set is a second encoding
        return (0, y, 1, 0)
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * _SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y, 1, x * y % P)


def _has_small_order(p: _Point) -> bool:
    return _is_identity(_double(_double(_double(p))))


_B: _Point = _decode((4 * pow(5, P - 2, P) % P).to_bytes(32, "little"))  # type: ignore[assignment]


def _table(p: _Point) -> list[_Point]:
    """[0]p .. [15]p, for 4-bit windows."""
    table = [_IDENTITY, p]
    for _ in range(14):
        table.append(_add(table[-1], p))
    return table


_B_TABLE = _table(_B)


def _double_scalar_mult(s: int, k: int, q: _Point) -> _Point:
    """[s]B + [k]q, both scalars below 2**256, sharing the doublings (Straus, 4-bit windows)."""
    q_table = _table(q)
    acc = _IDENTITY
    for shift in range(252, -1, -4):
        if acc is not _IDENTITY:
            acc = _double(_double(_double(_double(acc))))
        i = (s >> shift) & 15
        j = (k >> shift) & 15
        if i:
            acc = _add(acc, _B_TABLE[i])
        if j:
            acc = _add(acc, q_table[j])
    return acc


def challenge(public_key: bytes, signature: bytes) -> hashlib._Hash:
    """SHA-512 over R and A, to be fed the message: signatures over data that streams by."""
    return hashlib.sha512(signature[:32] + public_key)


def verify_challenge(public_key: bytes, signature: bytes, digest: bytes) -> bool:
    """Like verify, given SHA-512(R || A || message) (challenge() fed the message)."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    r_bytes, s_bytes = signature[:32], signature[32:]
    s = int.from_bytes(s_bytes, "little")
    if s >= L:
        return False
    a = _decode(public_key)
    r = _decode(r_bytes)
    if a is None or r is None or _has_small_order(a) or _has_small_order(r):
        return False
    k = int.from_bytes(digest, "little") % L
    # R' = [S]B - [k]A must encode to exactly R's bytes; R was checked canonical above.
    return _encode(_double_scalar_mult(s, k, _negate(a))) == r_bytes


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True when `signature` is a valid Ed25519 signature of `message` by `public_key`."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    digest = challenge(public_key, signature)
    digest.update(message)
    return verify_challenge(public_key, signature, digest.digest())
