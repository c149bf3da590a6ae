"""Unpacking an asset into an empty staging dir: tar, zip, a lone compressed file, or a raw file.

The type is sniffed from magic bytes. Hostile members (paths or links leading out, devices,
bombs) fail the whole unpack with an ArchiveError before they are written.

Importing this package is cheap (a rebuild that reuses its layers needs only Limits): the
readers (tarfile, zipfile, the decompressors) are imported by the functions that use them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .limits import Limits, Unpacked
from .sniff import HEAD_SIZE, Kind, sniff

if TYPE_CHECKING:
    from .stream import StreamUnpack

__all__ = ["HEAD_SIZE", "Kind", "Limits", "Unpacked", "sniff", "stream_unpack"]

_DEFAULT_LIMITS = Limits()


def stream_unpack(
    dest: Path,
    *,
    strip_components: int,
    raw_path: str,
    limits: Limits = _DEFAULT_LIMITS,
    spool: Path,
    select: Callable[[str], bool] | None = None,
) -> StreamUnpack:
    """A download sink that unpacks into the empty dir dest while the bytes arrive.

    spool is where a zip is kept until it is complete (zips cannot be read from a stream).
    select, when given, says which archive members (paths after strip_components) to
    write; the others are read past, never written. See archive.stream for the protocol.
    """
    from .stream import StreamUnpack

    return StreamUnpack(
        dest,
        strip_components=strip_components,
        raw_path=raw_path,
        limits=limits,
        spool=spool,
        select=select,
    )
