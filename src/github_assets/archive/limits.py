"""The unpack ceilings and result, apart so that a rebuild imports no unpacking code."""

from __future__ import annotations

from typing import NamedTuple


class Limits(NamedTuple):
    """Ceilings that stop decompression bombs."""

    max_bytes: int = 4 * 1024**3
    """Total uncompressed bytes written."""
    max_entries: int = 100_000
    """Members in an archive."""


class Unpacked(NamedTuple):
    """What an unpack wrote under its destination."""

    kind: str
    """How it was unpacked: tar+gzip, tar+xz, tar+bzip2, tar, zip, gzip, xz, bzip2 or raw."""
    files: tuple[str, ...]
    """Relative POSIX paths of the regular files written, sorted."""
    links: tuple[str, ...]
    """Relative POSIX paths of the symlinks created, sorted."""
    seen: tuple[str, ...] = ()
    """With a selection: the first member paths of the archive, selected or not."""
    seen_total: int = 0
    """With a selection: how many members (not directories) the archive has."""
