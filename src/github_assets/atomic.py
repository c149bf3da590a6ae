"""Writing a file so no reader ever sees half of it (write a temp file, rename)."""

from __future__ import annotations

import contextlib
import itertools
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .platform import StrPath

_SEQ = itertools.count()


def write_text_atomic(path: StrPath, text: str) -> None:
    """Write text to path via a temp file in the same dir, so no reader sees half a file.

    Five syscalls when all is well (open, write, fchmod, close, rename): a rebuild writes a
    dozen of these files (layer tomls, SBOMs, launch.toml), so the dir is made, and a stale
    temp file removed, only when the open says they must be."""
    directory, name = os.path.split(os.fspath(path))
    # Not tempfile.mkstemp: importing tempfile (random, shutil, bz2, lzma) costs a rebuild
    # about 8 ms; the layers dir is ours, so a pid and a counter make the name unique.
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.{next(_SEQ)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(tmp, flags, 0o600)
    except FileNotFoundError:  # no dir yet
        os.makedirs(directory or ".", exist_ok=True)
        fd = os.open(tmp, flags, 0o600)
    except FileExistsError:  # left by a killed build that had the same pid
        _unlink(tmp)
        fd = os.open(tmp, flags, 0o600)
    try:
        try:
            data = memoryview(text.encode("utf-8"))
            while data:
                data = data[os.write(fd, data) :]
            os.fchmod(fd, 0o644)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
