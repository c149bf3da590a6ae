"""The one place that writes archive members: every path is checked before it is created."""

from __future__ import annotations

import contextlib
import os
import posixpath
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ..errors import ArchiveError
from .limits import Limits, Unpacked

ELF_MAGIC = b"\x7fELF"

CHUNK = 1024 * 1024

# O_EXCL|O_NOFOLLOW: never open an existing file, and never through a symlink at the last step.
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

_BOMB_HINT = "the asset may be a decompression bomb"


class Reader(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def quote(name: str) -> str:
    """name in single quotes, escaped when it holds characters that would break the line."""
    return f"'{name}'" if name.isprintable() else repr(name)


def refuse(name: str, reason: str, *, hint: str = "") -> ArchiveError:
    return ArchiveError(f"refusing archive member {quote(name)}: {reason}", hint=hint)


def too_many_members(name: str, limits: Limits) -> ArchiveError:
    return refuse(name, f"the archive has more than {limits.max_entries} members", hint=_BOMB_HINT)


def too_many_bytes(name: str, limits: Limits, *, declared: bool = False) -> ArchiveError:
    verb = "declares" if declared else "unpacks to"
    return refuse(
        name, f"the archive {verb} more than {limits.max_bytes} bytes in total", hint=_BOMB_HINT
    )


def _path_problem(path: str) -> str | None:
    """Why path (relative to the archive root or to a link's dir) cannot be used, if it cannot."""
    if path.startswith("/"):
        return "is absolute"
    if ".." in path.split("/"):
        return "escapes the destination"
    return None


def _lstat_mode(path: Path) -> int | None:
    try:
        return path.lstat().st_mode
    except FileNotFoundError:
        return None


def _type_name(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISREG(mode):
        return "file"
    return "special file"


def file_mode(mode: int, *, elf: bool) -> int:
    """The mode a member's file gets in the layer.

    An executable (any exec bit, or an ELF file: a zip made on Windows carries no mode) is
    0755 whatever the archive says: 0700 or 0744 would not run as the run image's user, a
    world-writable one could be swapped in the image. Nothing else keeps an exec bit, a
    setuid, setgid or sticky bit, or group/other write; the owner can always read (the ELF
    check does, and so may the image's user: a 000 member is of no use).
    """
    if elf or mode & 0o111:
        return 0o755
    return (mode & 0o644) | 0o400


def _set_mtime(target: int | Path, mtime: float | None) -> None:
    """Set the mtime of an open file (fd) or of a symlink itself (path)."""
    if mtime is None:
        return
    # A timestamp the platform cannot store is not worth failing the build for.
    with contextlib.suppress(OverflowError, ValueError, OSError):
        if isinstance(target, int):
            os.utime(target, (mtime, mtime))
        else:
            os.utime(target, (mtime, mtime), follow_symlinks=False)


NAME_MAX = 255
"""Bytes of one file name: Linux's limit on every filesystem a layer lives on."""

SHOWN = 20
"""Member paths an error lists when a `files` value matches none of them."""


class Staging:
    """Writes members under dest, refusing anything that could put a byte outside it.

    Nothing is ever written through a symlink: every parent is checked with lstat and files are
    opened O_NOFOLLOW|O_EXCL, so a hostile member fails before it is written.
    """

    def __init__(
        self,
        dest: Path,
        *,
        strip_components: int,
        limits: Limits,
        select: Callable[[str], bool] | None = None,
    ) -> None:
        if strip_components < 0:
            raise ValueError(f"strip_components must be >= 0, not {strip_components}")
        self.limits = limits
        self._select = select
        self._seen: list[str] = []  # the first SHOWN member paths, to say what the archive has
        self._seen_total = 0
        self._root = Path(os.path.realpath(dest))
        self._strip = strip_components
        self._entries = 0
        self._written = 0
        # Path parts (before stripping) of the deepest member that is not a directory.
        self._deepest = 0
        self._files: set[str] = set()
        self._links: dict[str, str] = {}

    def admit(self, name: str, *, is_dir: bool = False) -> tuple[str, ...] | None:
        """Count a member and check its name: its path parts under dest, None when stripped away."""
        parts = self._checked_parts(name)
        if not is_dir:
            self._deepest = max(self._deepest, len(parts))
        stripped = self._stripped(parts)
        if self._select is None or not stripped:
            return stripped or None
        if is_dir:
            return None  # the parents of selected members are made as they come
        rel = "/".join(stripped)
        self._seen_total += 1
        if len(self._seen) < SHOWN:
            self._seen.append(rel)
        return stripped if self._select(rel) else None

    def mkdir(self, name: str, parts: tuple[str, ...]) -> None:
        """Create a directory member (mode 0755)."""
        path, existing = self._place(name, parts, stat.S_IFDIR)
        if existing is None:
            _mkdir(path)

    def write_file(
        self,
        name: str,
        parts: tuple[str, ...],
        src: Reader,
        *,
        mode: int,
        mtime: float | None,
        size: int | None,
    ) -> None:
        """Copy src into a regular file; size is the declared size, checked before writing."""
        if size is not None and self._written + size > self.limits.max_bytes:
            raise too_many_bytes(name, self.limits)
        path, existing = self._place(name, parts, stat.S_IFREG)
        if existing is not None:
            path.unlink()
        with os.fdopen(os.open(path, _CREATE, 0o600), "wb") as out:
            first, elf = True, False
            while chunk := src.read(CHUNK):
                if first:
                    first, elf = False, chunk[:4] == ELF_MAGIC
                self._count(name, len(chunk))
                out.write(chunk)
            out.flush()
            os.fchmod(out.fileno(), file_mode(mode, elf=elf))
            _set_mtime(out.fileno(), mtime)
        self._files.add("/".join(parts))

    def write_raw(self, raw_path: str, src: Reader) -> None:
        """Write a lone file (a raw asset or a decompressed stream) to raw_path, mode 0755."""
        self.write_file(raw_path, self._raw_parts(raw_path), src, mode=0o755, mtime=None, size=None)

    def open_raw(self, raw_path: str) -> RawFile:
        """A lone file at raw_path written piece by piece as its bytes arrive (a raw asset)."""
        parts = self._raw_parts(raw_path)
        path, existing = self._place(raw_path, parts, stat.S_IFREG)
        if existing is not None:
            path.unlink()
        return RawFile(self, raw_path, parts, os.open(path, _CREATE, 0o600))

    def _raw_parts(self, raw_path: str) -> tuple[str, ...]:
        parts = tuple(part for part in self._checked_parts(raw_path) if part != ".")
        if not parts:
            raise refuse(raw_path, "the path names no file")
        return parts

    def _count(self, name: str, size: int) -> None:
        """Count bytes about to be written; past the limit, refuse (declared sizes can lie)."""
        if self._written + size > self.limits.max_bytes:
            raise too_many_bytes(name, self.limits)
        self._written += size

    def symlink(self, name: str, parts: tuple[str, ...], target: str, *, mtime: float) -> None:
        """Create a symlink member whose target stays inside dest."""
        if not target or "\0" in target:
            raise refuse(name, "the symlink has an empty or invalid target")
        if target.startswith("/"):
            raise refuse(name, f"symlink target {quote(target)} is absolute")
        # A relative target resolves from the directory the link lands in (after stripping).
        resolved = posixpath.normpath("/".join((*parts[:-1], target)))
        if resolved == ".." or resolved.startswith("../"):
            raise refuse(name, f"symlink target {quote(target)} escapes the destination")
        path, existing = self._place(name, parts, stat.S_IFLNK)
        if existing is not None:
            path.unlink()
        path.symlink_to(target)
        _set_mtime(path, mtime)
        self._links["/".join(parts)] = name

    def hardlink(self, name: str, parts: tuple[str, ...], target: str) -> None:
        """Create a hardlink member to a regular file extracted earlier from this archive."""
        problem = _path_problem(target)
        if problem:
            raise refuse(name, f"hardlink target {quote(target)} {problem}")
        # Hardlink targets are archive paths, so they are stripped like member names.
        source_parts = self._stripped([part for part in target.split("/") if part])
        source_rel = "/".join(source_parts)
        source = self._root.joinpath(*source_parts)
        source_mode = _lstat_mode(source) if source_rel in self._files else None
        if source_mode is None or not stat.S_ISREG(source_mode):
            raise refuse(
                name,
                f"hardlink target {quote(target)} is not a regular file extracted earlier "
                "from this archive",
            )
        rel = "/".join(parts)
        if rel == source_rel:
            return
        path, existing = self._place(name, parts, stat.S_IFREG)
        if existing is not None:
            path.unlink()
        path.hardlink_to(source)
        self._files.add(rel)

    def finish(self, kind: str) -> Unpacked:
        """Check the tree as a whole and say what was written."""
        for rel, name in self._links.items():
            # Each link was checked alone; a chain can still lead out (a/b -> .., x -> a/b/..).
            real = Path(os.path.realpath(self._root / rel))
            if not real.is_relative_to(self._root):
                raise refuse(
                    name, "symlink resolves outside the destination through other symlinks"
                )
        if self._select is not None:
            return Unpacked(
                kind=kind,
                files=tuple(sorted(self._files)),
                links=tuple(sorted(self._links)),
                seen=tuple(self._seen),
                seen_total=self._seen_total,
            )
        if not self._files and not self._links:
            if 0 < self._deepest <= self._strip:
                unit = "part" if self._deepest == 1 else "parts"
                raise ArchiveError(
                    f"strip_components = {self._strip} leaves nothing to install from the archive "
                    f"(deepest member has {self._deepest} path {unit})",
                    hint=f"use strip_components = {self._deepest - 1} or less",
                )
            raise ArchiveError("the archive has no files")
        return Unpacked(
            kind=kind, files=tuple(sorted(self._files)), links=tuple(sorted(self._links))
        )

    def _checked_parts(self, name: str) -> list[str]:
        self._entries += 1
        if self._entries > self.limits.max_entries:
            raise too_many_members(name, self.limits)
        problem = _path_problem(name)
        if problem:
            raise refuse(name, f"path {problem}")
        parts = [part for part in name.split("/") if part]
        # No filesystem takes a longer name; said here, the error names the member (the OS's
        # would name a path in the work dir, and blame the config).
        if any(len(os.fsencode(part)) > NAME_MAX for part in parts):
            raise refuse(name, f"a name in its path is longer than {NAME_MAX} bytes")
        return parts

    def _stripped(self, parts: list[str]) -> tuple[str, ...]:
        # Like GNU tar: "." counts as a part when stripping ("./bin/x" with 1 gives "bin/x").
        return tuple(part for part in parts[self._strip :] if part != ".")

    def _place(self, name: str, parts: tuple[str, ...], kind: int) -> tuple[Path, int | None]:
        """Check where a member of type kind goes, then create its missing parents.

        Returns its path and the mode of what is already there (same type only: a file
        replaces a file, a link a link, as later tar members do).
        """
        path = self._root
        missing: int | None = None
        for depth, part in enumerate(parts[:-1], start=1):
            path = path / part
            mode = _lstat_mode(path)
            if mode is None:
                missing = depth - 1
                break
            where = quote("/".join(parts[:depth]))
            if stat.S_ISLNK(mode):
                raise refuse(
                    name, f"its path goes through the symlink {where} of an earlier member"
                )
            if not stat.S_ISDIR(mode):
                raise refuse(name, f"its parent {where} is a {_type_name(mode)}, not a directory")
        target = self._root.joinpath(*parts)
        existing = _lstat_mode(target) if missing is None else None
        if existing is not None and stat.S_IFMT(existing) != kind:
            raise refuse(
                name,
                f"it would replace the {_type_name(existing)} {quote('/'.join(parts))} "
                f"with a {_type_name(kind)}",
            )
        if missing is not None:
            for depth in range(missing + 1, len(parts)):
                _mkdir(self._root.joinpath(*parts[:depth]))
        return target, existing


class RawFile:
    """A lone file being written as it arrives; mode 0755 and listed once complete()."""

    def __init__(self, staging: Staging, name: str, parts: tuple[str, ...], fd: int) -> None:
        self._staging = staging
        self._name = name
        self._parts = parts
        self._fd: int | None = fd

    def write(self, data: memoryview) -> None:
        """Append data; ArchiveError past the byte limit, OSError when the disk fails."""
        fd = self._fd
        if fd is None:
            raise ValueError("write to a closed RawFile")
        self._staging._count(self._name, len(data))
        while data:
            data = data[os.write(fd, data) :]

    def complete(self) -> None:
        """The last byte is written: make it executable and count it as written."""
        fd = self._fd
        if fd is None:
            raise ValueError("complete a closed RawFile")
        os.fchmod(fd, 0o755)
        self.close()
        self._staging._files.add("/".join(self._parts))

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _mkdir(path: Path) -> None:
    path.mkdir(mode=0o755)
    # mkdir's mode passes through the umask; directories are 0755 whatever it is.
    path.chmod(0o755)
