"""Unpacking while the bytes arrive (archive.stream): any chunking, restarts, failures, teardown.

The download side is played here by feeding a StreamUnpack by hand, in whatever pieces a
network could deliver; the real downloader drives it in tests/integration/test_parallel.py.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import tarfile
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from github_assets.archive import Limits, Unpacked, stream_unpack
from github_assets.archive.sniff import Kind
from github_assets.archive.staging import CHUNK
from github_assets.archive.stream import POOL, StreamUnpack, _BlockReader, inflate
from github_assets.errors import ArchiveError

MiB = 1 << 20


def tar_bytes(members: dict[str, bytes], compression: str = "") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=f"w:{compression}" if compression else "w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            info.mtime = 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (0o100755) << 16
            zf.writestr(info, data)
    return buf.getvalue()


MEMBERS = {
    "tool-1.0/bin/tool": os.urandom(300_000) + b"\0" * 2 * MiB,
    "tool-1.0/README": b"read me\n",
    "tool-1.0/lib/empty": b"",
}

ARCHIVES = {
    "tar": ("tar", tar_bytes(MEMBERS)),
    "tar.gz": ("tar+gzip", tar_bytes(MEMBERS, "gz")),
    "tar.xz": ("tar+xz", tar_bytes(MEMBERS, "xz")),
    "tar.bz2": ("tar+bzip2", tar_bytes(MEMBERS, "bz2")),
    "zip": ("zip", zip_bytes(MEMBERS)),
}
LONE = os.urandom(100_000) * 3
LONE_FILES = {
    "raw": ("raw", b"\x7fELF" + LONE),
    "gz": ("gzip", gzip.compress(LONE, mtime=0)),
    "xz": ("xz", lzma.compress(LONE)),
    "bz2": ("bzip2", bz2.compress(LONE)),
}


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def feed(sink: StreamUnpack, data: bytes, size: int) -> None:
    """What the downloader does: read into the sink's buffer, commit."""
    for piece in pieces(data, size):
        view = memoryview(piece)
        while view:
            buf = sink.buffer()
            n = min(len(buf), len(view))
            buf[:n] = view[:n]
            sink.commit(n)
            view = view[n:]


def new_sink(tmp_path: Path, limits: Limits | None = None) -> tuple[StreamUnpack, Path]:
    dest = tmp_path / "unpack"
    dest.mkdir()
    sink = stream_unpack(
        dest,
        strip_components=1,
        raw_path="bin/tool",
        limits=limits or Limits(),
        spool=tmp_path / "spool",
    )
    return sink, dest


def files(dest: Path) -> dict[str, bytes]:
    return {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()}


@pytest.fixture(autouse=True)
def no_thread_left() -> Iterator[None]:
    before = threading.active_count()
    yield
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before, "an unpack thread outlived its sink"


CHUNKINGS = [
    *((fmt, size) for fmt in ARCHIVES for size in (512, 4097, 65536, CHUNK, 3 * CHUNK)),
    *(("tar.gz", size) for size in (7, 511)),  # pieces smaller than the sniffed head
]


@pytest.mark.parametrize(("fmt", "size"), CHUNKINGS)
def test_any_chunking_unpacks_the_same_tree(tmp_path: Path, fmt: str, size: int) -> None:
    kind, data = ARCHIVES[fmt]
    sink, dest = new_sink(tmp_path)
    try:
        feed(sink, data, size)
        result = sink.finish()
    finally:
        sink.close()
    assert result == Unpacked(kind, ("README", "bin/tool", "lib/empty"), ())
    assert files(dest) == {k.removeprefix("tool-1.0/"): v for k, v in MEMBERS.items()}
    assert not (tmp_path / "spool").exists(), "a zip's spool file is removed"


@pytest.mark.parametrize("fmt", LONE_FILES)
def test_lone_files_stream_to_the_raw_path_as_executables(tmp_path: Path, fmt: str) -> None:
    kind, data = LONE_FILES[fmt]
    sink, dest = new_sink(tmp_path)
    try:
        feed(sink, data, 10_000)
        assert sink.finish() == Unpacked(kind, ("bin/tool",), ())
    finally:
        sink.close()
    expected = data if fmt == "raw" else LONE
    assert (dest / "bin" / "tool").read_bytes() == expected
    assert (dest / "bin" / "tool").stat().st_mode & 0o777 == 0o755


@pytest.mark.parametrize("data", [b"", b"#!/bin/sh\n", b"\x1f"], ids=["empty", "short", "1-byte"])
def test_assets_shorter_than_the_sniffed_head_are_raw(tmp_path: Path, data: bytes) -> None:
    sink, dest = new_sink(tmp_path)
    try:
        feed(sink, data, 1)
        assert sink.finish().kind == "raw"
    finally:
        sink.close()
    assert (dest / "bin" / "tool").read_bytes() == data


@pytest.mark.parametrize("fmt", ["tar.gz", "zip", "raw"])
def test_restart_throws_away_the_partial_unpack(tmp_path: Path, fmt: str) -> None:
    """A download that starts over from byte 0: what the first attempt unpacked is gone."""
    first = {"tool-1.0/old-only": b"x" * 3 * MiB, "tool-1.0/bin/tool": b"old"}
    data = {
        "tar.gz": tar_bytes(first, "gz"),
        "zip": zip_bytes(first),
        "raw": b"\x7fELF" + b"old" * MiB,
    }[fmt]
    new_kind, new_data = {**ARCHIVES, "raw": LONE_FILES["raw"]}[fmt]
    sink, dest = new_sink(tmp_path)
    try:
        feed(sink, data[: len(data) * 3 // 4], 64 * 1024)
        sink.restart()
        feed(sink, new_data, 64 * 1024)
        result = sink.finish()
    finally:
        sink.close()
    assert result.kind == new_kind
    if fmt == "raw":
        assert files(dest) == {"bin/tool": new_data}
    else:
        assert files(dest) == {k.removeprefix("tool-1.0/"): v for k, v in MEMBERS.items()}


def test_a_failed_unpack_keeps_taking_bytes_and_reports_at_finish(tmp_path: Path) -> None:
    """The rest is still downloaded (and hashed by the downloader), never blocked on a buffer."""
    hostile = tar_bytes({"../evil": b"x"}, "gz")
    sink, _ = new_sink(tmp_path)
    try:
        feed(sink, hostile, 100)
        # Far more than the pool holds: a stopped unpack thread must keep giving buffers back.
        feed(sink, os.urandom(MiB) * (POOL * 4), CHUNK)
        with pytest.raises(ArchiveError, match=r"refusing archive member '\.\./evil'"):
            sink.finish()
    finally:
        sink.close()
    assert not (tmp_path / "evil").exists()


def test_trailing_bytes_after_the_end_of_a_tar_are_ignored(tmp_path: Path) -> None:
    kind, data = ARCHIVES["tar"]
    sink, dest = new_sink(tmp_path)
    try:
        feed(sink, data + os.urandom(5 * MiB), CHUNK)
        assert sink.finish().kind == kind
    finally:
        sink.close()
    assert files(dest)["bin/tool"] == MEMBERS["tool-1.0/bin/tool"]


def test_close_without_finish_stops_the_thread_mid_archive(tmp_path: Path) -> None:
    _, data = ARCHIVES["tar.gz"]
    sink, _ = new_sink(tmp_path)
    feed(sink, data[: len(data) // 2], 4096)
    unpackers = [t for t in threading.enumerate() if t.name.startswith("unpack-")]
    assert unpackers, "the tar+gzip unpack runs on a thread of its own while bytes arrive"
    sink.close()
    sink.close()  # twice is fine
    assert not any(t.is_alive() for t in unpackers), "close() must stop the unpack thread"


def test_a_truncated_compressed_stream_is_damaged(tmp_path: Path) -> None:
    data = gzip.compress(LONE, mtime=0)
    sink, _ = new_sink(tmp_path)
    try:
        feed(sink, data[: len(data) // 2], 4096)
        with pytest.raises(ArchiveError, match=r"^failed to unpack gzip archive: Compressed file"):
            sink.finish()
    finally:
        sink.close()


def test_a_lone_bomb_stops_at_the_byte_limit(tmp_path: Path) -> None:
    bomb = gzip.compress(bytes(64 * MiB), mtime=0)
    assert len(bomb) < MiB
    sink, dest = new_sink(tmp_path, Limits(max_bytes=MiB))
    try:
        feed(sink, bomb, CHUNK)
        with pytest.raises(ArchiveError, match="unpacks to more than 1048576 bytes"):
            sink.finish()
    finally:
        sink.close()
    assert sum(len(v) for v in files(dest).values()) <= MiB


@pytest.mark.parametrize("kind", [Kind.GZIP, Kind.XZ, Kind.BZIP2])
def test_inflate_hands_out_small_blocks_of_a_bomb(kind: Kind) -> None:
    compress = {Kind.GZIP: gzip.compress, Kind.XZ: lzma.compress, Kind.BZIP2: bz2.compress}[kind]
    blocks = inflate(kind, iter([compress(bytes(16 * MiB))]))
    sizes = [len(b) for b in blocks]
    assert sum(sizes) == 16 * MiB
    assert max(sizes) <= CHUNK


def test_inflate_reads_concatenated_members_like_the_stdlib() -> None:
    parts = [b"one\n" * 1000, b"two\n" * 1000]
    gz = gzip.compress(parts[0], mtime=0) + bytes(10) + gzip.compress(parts[1], mtime=0)
    assert b"".join(inflate(Kind.GZIP, pieces(gz, 100))) == gzip.decompress(gz)
    xz = lzma.compress(parts[0]) + lzma.compress(parts[1]) + b"trailing garbage"
    assert b"".join(inflate(Kind.XZ, pieces(xz, 100))) == b"".join(parts)
    bz = bz2.compress(parts[0]) + bz2.compress(parts[1])
    assert b"".join(inflate(Kind.BZIP2, pieces(bz, 100))) == b"".join(parts)
    with pytest.raises(zlib.error, match=r"incorrect header check"):
        b"".join(inflate(Kind.GZIP, iter([gzip.compress(b"x") + b"not gzip"])))


def test_block_reader_reads_exact_sizes_and_only_forward() -> None:
    reader = _BlockReader(iter([b"abc", b"", b"defgh", b"ij"]))
    assert reader.peek(5) == b"abcde"
    assert reader.read(2) == b"ab"
    assert reader.tell() == 2
    assert reader.read(6) == b"cdefgh"
    assert reader.seek(9) == 9
    with pytest.raises(OSError, match="only be read forward"):
        reader.seek(3)
    assert reader.read(5) == b"j"
    assert reader.read(5) == b""
