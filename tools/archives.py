"""Deterministic tar/zip writers with per-member modes, for tests and release copies.

Same input, same bytes: fixed mtimes, and gzip headers without a timestamp,
so hashes of generated assets are stable from run to run.
"""

from __future__ import annotations

import bz2
import io
import lzma
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "MTIME",
    "Member",
    "directory",
    "executable",
    "gzip_bytes",
    "regular",
    "tar_bytes",
    "zip_bytes",
]

MTIME = 1_700_000_000  # 2023-11-14T22:13:20Z
_ZIP_DATE = (2023, 11, 14, 22, 13, 20)
_FORMATS = {"gnu": tarfile.GNU_FORMAT, "ustar": tarfile.USTAR_FORMAT, "pax": tarfile.PAX_FORMAT}


@dataclass(frozen=True)
class Member:
    """One archive member: a regular file or a directory (name without trailing '/')."""

    name: str
    data: bytes = b""
    mode: int = 0o644
    is_dir: bool = False


def regular(name: str, data: bytes, mode: int = 0o644) -> Member:
    return Member(name, data, mode)


def executable(name: str, data: bytes, mode: int = 0o755) -> Member:
    return Member(name, data, mode)


def directory(name: str, mode: int = 0o755) -> Member:
    return Member(name.rstrip("/"), b"", mode, is_dir=True)


def tar_bytes(
    members: Iterable[Member],
    *,
    compression: str = "gz",
    fmt: str = "gnu",
    mtime: int = MTIME,
) -> bytes:
    """A tar archive, compressed with "gz", "xz", "bz2" or "" (none).

    ``fmt`` is the header flavour: "gnu" (GNU tar's default), "ustar" (what Go's
    archive/tar, and so goreleaser, writes for short names) or "pax".
    """
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=_FORMATS[fmt]) as tf:
        for m in members:
            info = tarfile.TarInfo(m.name)
            info.mode = m.mode
            info.mtime = mtime
            if m.is_dir:
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
            else:
                info.size = len(m.data)
                tf.addfile(info, io.BytesIO(m.data))
    data = raw.getvalue()
    if compression == "gz":
        return gzip_bytes(data)
    if compression == "xz":
        return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64)
    if compression == "bz2":
        return bz2.compress(data)
    if compression == "":
        return data
    raise ValueError(f"unknown compression {compression!r}")


def gzip_bytes(data: bytes) -> bytes:
    """gzip with a fixed header (no name, mtime 0, OS Unix), the same on every Python.

    gzip.compress's header changed between Python versions; this one does not.
    """
    co = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = co.compress(data) + co.flush()
    header = b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + b"\x02\x03"
    return header + body + struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)


def zip_bytes(members: Iterable[Member], *, date_time: tuple[int, ...] = _ZIP_DATE) -> bytes:
    """A zip archive made on Unix: modes in the upper external attributes, deflated files."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for m in members:
            if m.is_dir:
                info = zipfile.ZipInfo(m.name + "/", date_time=date_time)  # type: ignore[arg-type]
                info.create_system = 3
                info.external_attr = ((0o040000 | m.mode) << 16) | 0x10
                zf.writestr(info, b"")
            else:
                info = zipfile.ZipInfo(m.name, date_time=date_time)  # type: ignore[arg-type]
                info.create_system = 3
                info.external_attr = (0o100000 | m.mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, m.data)
    return buf.getvalue()
