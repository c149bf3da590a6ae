"""Tar members read in one pass from a stream and written through Staging."""

from __future__ import annotations

import tarfile
from typing import IO, Protocol, cast

from .staging import Staging, refuse


class ForwardReader(Protocol):
    """A file read front to back: seek() only ever goes forward (it skips bytes)."""

    def read(self, size: int = ..., /) -> bytes: ...

    def tell(self) -> int: ...

    def seek(self, offset: int, whence: int = ..., /) -> int: ...


def unpack_tar(stream: ForwardReader, staging: Staging) -> None:
    """Extract the tar read sequentially from stream (so a compressed tar is decompressed once).

    Normal mode ("r:"), not stream mode ("r|"): reading members in order, tarfile only
    reads, tells and seeks forward (to skip data not extracted, and padding), which is all
    `stream` allows; a backward seek (a malformed header) fails as a damaged archive. Stream
    mode would join and slice its buffer on every read: a copy of every byte more.
    """
    with tarfile.open(fileobj=cast(IO[bytes], stream), mode="r:") as archive:
        for member in archive:
            _extract(archive, member, staging)


def _extract(archive: tarfile.TarFile, member: tarfile.TarInfo, staging: Staging) -> None:
    name = member.name
    if member.ischr() or member.isblk():
        raise refuse(name, "device nodes are not installed")
    if member.isfifo():
        raise refuse(name, "fifos are not installed")
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        raise refuse(name, f"unsupported tar member type {member.type!r}")
    parts = staging.admit(name, is_dir=member.isdir())
    if parts is None:
        return
    if member.isdir():
        staging.mkdir(name, parts)
    elif member.issym():
        staging.symlink(name, parts, member.linkname, mtime=member.mtime)
    elif member.islnk():
        staging.hardlink(name, parts, member.linkname)
    else:
        data = archive.extractfile(member)
        if data is None:
            raise refuse(name, "the tar member has no data")
        staging.write_file(
            name, parts, data, mode=member.mode, mtime=member.mtime, size=member.size
        )
