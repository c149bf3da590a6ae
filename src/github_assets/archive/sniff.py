"""Telling archive kinds apart by their first bytes, never by the asset's name."""

from __future__ import annotations

import enum

# Enough for every magic below; the ustar magic ends at offset 262.
HEAD_SIZE = 512


class Kind(enum.Enum):
    """What an asset (or a decompressed stream) is."""

    GZIP = "gzip"
    XZ = "xz"
    BZIP2 = "bzip2"
    TAR = "tar"
    ZIP = "zip"
    RAW = "raw"


_PREFIXES: tuple[tuple[bytes, Kind], ...] = (
    (b"\x1f\x8b", Kind.GZIP),
    (b"\xfd7zXZ\x00", Kind.XZ),
    (b"PK\x03\x04", Kind.ZIP),
    # An empty zip is only its end-of-central-directory record.
    (b"PK\x05\x06", Kind.ZIP),
)


def sniff(head: bytes) -> Kind:
    """The kind of the data whose first bytes (at least HEAD_SIZE when available) are head."""
    for prefix, kind in _PREFIXES:
        if head.startswith(prefix):
            return kind
    # "BZh" then the block size digit, 1 to 9.
    if len(head) > 3 and head[:3] == b"BZh" and head[3] in b"123456789":
        return Kind.BZIP2
    if is_tar(head):
        return Kind.TAR
    return Kind.RAW


def is_tar(head: bytes) -> bool:
    """True for a POSIX (ustar, pax) or GNU tar header: "ustar" at offset 257.

    An empty tar (only zero blocks) has no magic: it is a raw file, like any other zeros.
    """
    return head[257:262] == b"ustar"
