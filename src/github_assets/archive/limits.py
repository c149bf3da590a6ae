"""The unpack ceilings (from settings) and result, apart so that the pipeline's types
import no unpacking code."""

from __future__ import annotations

# Limits are knobs (BP_GITHUB_ASSETS_MAX_*): defined with them, so that the settings a
# rebuild reads import no part of the archive package (~3.3M instructions).
from ..record import Record
from ..settings import Limits

__all__ = ["Limits", "Unpacked"]


class Unpacked(Record):
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
