"""Zip members written through Staging, keeping unix modes (exec bits) and symlinks."""

from __future__ import annotations

import calendar
import os
import stat
import zipfile
from typing import IO

from .limits import Limits
from .staging import Staging, refuse, too_many_bytes, too_many_members

_UNIX = 3  # ZipInfo.create_system of archives made on unix: external_attr holds st_mode
_ENCRYPTED = 0x1
_MAX_LINK_TARGET = 4096


def unpack_zip(file: IO[bytes], staging: Staging) -> None:
    """Extract the zip in file, member by member (never ZipFile.extract: it drops exec bits)."""
    with zipfile.ZipFile(file) as archive:
        members = archive.infolist()
        _precheck(members, staging.limits)
        for member in members:
            _extract(archive, member, staging)


def _precheck(members: list[zipfile.ZipInfo], limits: Limits) -> None:
    """Refuse before writing anything when the central directory already declares too much."""
    if len(members) > limits.max_entries:
        raise too_many_members(members[limits.max_entries].filename, limits)
    declared = 0
    for member in members:
        declared += member.file_size
        if declared > limits.max_bytes:
            raise too_many_bytes(member.filename, limits, declared=True)


def _extract(archive: zipfile.ZipFile, member: zipfile.ZipInfo, staging: Staging) -> None:
    name = member.filename
    mode = member.external_attr >> 16 if member.create_system == _UNIX else 0
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        raise refuse(name, "device nodes are not installed")
    if stat.S_ISFIFO(mode):
        raise refuse(name, "fifos are not installed")
    if stat.S_ISSOCK(mode):
        raise refuse(name, "sockets are not installed")
    if member.flag_bits & _ENCRYPTED:
        raise refuse(name, "the zip member is encrypted", hint="use an unencrypted asset")
    is_dir = member.is_dir() or stat.S_ISDIR(mode)
    parts = staging.admit(name, is_dir=is_dir)
    if parts is None:
        return
    if is_dir:
        staging.mkdir(name, parts)
    elif stat.S_ISLNK(mode):
        staging.symlink(name, parts, _link_target(archive, member), mtime=_mtime(member))
    else:
        with archive.open(member) as data:
            staging.write_file(
                name,
                parts,
                data,
                # Zips from other systems carry no mode; a unix mode of 0 is as good as none.
                mode=(mode & 0o777) or 0o644,
                mtime=_mtime(member),
                size=member.file_size,
            )


def _link_target(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> str:
    """A zip symlink's target is its content."""
    with archive.open(member) as data:
        target = data.read(_MAX_LINK_TARGET + 1)
    if len(target) > _MAX_LINK_TARGET:
        raise refuse(member.filename, f"symlink target is longer than {_MAX_LINK_TARGET} bytes")
    return os.fsdecode(target)


def _mtime(member: zipfile.ZipInfo) -> int:
    year, month, day, hour, minute, second = member.date_time
    # DOS times have no zone; reading them as UTC makes the result independent of the build's TZ.
    # Clamping keeps a malformed date (month 0) from failing the build.
    return calendar.timegm((year, min(max(month, 1), 12), max(day, 1), hour, minute, second))
