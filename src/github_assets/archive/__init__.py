"""Unpacking an asset into an empty staging dir: tar, zip, a lone compressed file, or a raw file.

The type is sniffed from magic bytes. Hostile members (paths or links leading out, devices,
bombs) fail the whole unpack with an ArchiveError before they are written.
"""

from __future__ import annotations

import lzma
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

from ..errors import ArchiveError
from .compressed import open_decompressed, prefixed, read_head
from .sniff import HEAD_SIZE, Kind, is_tar, sniff
from .staging import Limits, Staging, Unpacked
from .tar import unpack_tar
from .zip import unpack_zip

__all__ = ["Kind", "Limits", "Unpacked", "sniff", "unpack"]

# What the stdlib readers raise on damaged input (gzip and bz2 errors are OSErrors; tarfile
# lets ValueError and IndexError out of corrupt sparse headers, zipfile UnicodeDecodeError
# out of names flagged UTF-8 that are not).
_DAMAGED = (
    OSError,
    EOFError,
    tarfile.TarError,
    zipfile.BadZipFile,
    lzma.LZMAError,
    zlib.error,
    NotImplementedError,
    ValueError,
    IndexError,
    struct.error,
)

_DEFAULT_LIMITS = Limits()


def unpack(
    src: Path,
    dest: Path,
    *,
    strip_components: int,
    raw_path: str,
    limits: Limits = _DEFAULT_LIMITS,
) -> Unpacked:
    """Unpack the asset src into the existing empty directory dest.

    Archives are extracted with strip_components; a raw or lone compressed file is written to
    dest/raw_path with mode 0755. Raises ArchiveError for a damaged or hostile archive, in
    which case dest holds a partial tree that must be thrown away.
    """
    staging = Staging(dest, strip_components=strip_components, limits=limits)
    with src.open("rb") as file:
        kind = sniff(file.read(HEAD_SIZE))
        file.seek(0)
        label = kind.value
        try:
            if kind is Kind.ZIP:
                unpack_zip(file, staging)
            elif kind is Kind.TAR:
                unpack_tar(file, staging)
            elif kind is Kind.RAW:
                staging.write_raw(raw_path, file)
            else:
                with open_decompressed(kind, file) as stream:
                    head = read_head(stream, HEAD_SIZE)
                    if is_tar(head):
                        label = f"tar+{kind.value}"
                        unpack_tar(prefixed(head, stream), staging)
                    else:
                        staging.write_raw(raw_path, prefixed(head, stream))
        except _DAMAGED as err:
            what = "raw file" if kind is Kind.RAW else f"{label} archive"
            cause = " ".join(str(err).split()) or type(err).__name__
            raise ArchiveError(f"failed to unpack {what}: {cause}") from err
    return staging.finish(label)
