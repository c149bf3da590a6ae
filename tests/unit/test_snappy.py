"""Snappy block decompression against cramjam (Rust's snap crate) on random data and mutations."""

from __future__ import annotations

import random

import cramjam
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from github_assets.provenance import snappy

CAP = 1 << 22


def _compress(data: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(data))


def _theirs(data: bytes) -> bytes | None:
    try:
        return bytes(cramjam.snappy.decompress_raw(data))
    except Exception:  # cramjam raises its own DecompressionError, and ValueError
        return None


def _ours(data: bytes) -> bytes | None:
    try:
        return snappy.decompress(data, CAP)
    except snappy.SnappyError:
        return None


def _sample(rng: random.Random) -> bytes:
    """Data with every element kind: runs, repeats near and far, noise, long literals."""
    parts = []
    for _ in range(rng.randrange(1, 40)):
        kind = rng.randrange(4)
        if kind == 0:
            parts.append(rng.randbytes(rng.randrange(1, 5000)))
        elif kind == 1:
            parts.append(bytes([rng.randrange(256)]) * rng.randrange(1, 3000))
        elif kind == 2 and parts:
            parts.append(rng.choice(parts)[: rng.randrange(1, 200)])
        else:
            parts.append(
                b"".join(rng.choice([b"sha256:", b'"digest"', b"{}", b"\n"]) for _ in range(50))
            )
    return b"".join(parts)


def test_round_trips_what_cramjam_compresses() -> None:
    rng = random.Random(23)
    for size in (0, 1, 59, 60, 61, 255, 256, 65536, 70000):
        data = rng.randbytes(size)
        assert snappy.decompress(_compress(data), CAP) == data
    for _ in range(60):
        data = _sample(rng)
        assert snappy.decompress(_compress(data), CAP) == data
    # Far repeats use 4-byte offsets only past 64 KiB of history.
    far = rng.randbytes(70000)
    data = far + rng.randbytes(1000) + far[:100]
    assert snappy.decompress(_compress(data), CAP) == data


def test_same_verdict_as_cramjam_on_mutations() -> None:
    rng = random.Random(5)
    refused = 0
    for _ in range(300):
        compressed = bytearray(_compress(_sample(rng)))
        how = rng.randrange(3)
        if how == 0:
            compressed[rng.randrange(len(compressed))] ^= 1 << rng.randrange(8)
        elif how == 1:
            del compressed[rng.randrange(len(compressed)) :]
        else:
            compressed += rng.randbytes(rng.randrange(1, 8))
        expected = _theirs(bytes(compressed))
        assert _ours(bytes(compressed)) == expected
        refused += expected is None
    assert refused > 100


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=64))
def test_same_verdict_as_cramjam_on_arbitrary_bytes(data: bytes) -> None:
    assert _ours(data) == _theirs(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a valid varint"),
        (b"\xff\xff\xff\xff\xff\x01", "not a valid varint"),
        (b"\xff\xff\xff\xff\x10", "not a valid varint"),  # 2**32: past Snappy's 32 bits
        (b"\x05\x10abc", "literal runs past the end"),
        (b"\x02\x08abc", "exceeds the length the preamble announced"),
        (b"\x04\x00a\x01\x02", "offset 2 with 1 bytes written"),
        (b"\x04\x00a\x02\x00\x00", "offset 0 with 1 bytes written"),
        (b"\x04\x00a\x02\x01", "truncated copy"),
        (b"\x03\xf0", "truncated literal length"),
        (b"\x05\x00a", "decompressed to 1 bytes, not the announced 5"),
    ],
)
def test_malformed_input_is_refused_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(snappy.SnappyError, match=message):
        snappy.decompress(data, CAP)


def test_the_cap_holds_before_anything_is_written() -> None:
    # 1 MiB announced in a few hundred bytes: refused on the preamble alone.
    bomb = _compress(bytes(1 << 20))
    with pytest.raises(snappy.SnappyError, match="more than 65536"):
        snappy.decompress(bomb, 65536)
    assert snappy.decompress(bomb, 1 << 20) == bytes(1 << 20)
