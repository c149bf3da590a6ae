"""Writing a file so no reader ever sees half of it (write a temp file, rename)."""

from __future__ import annotations

import contextlib
import itertools
import os
import stat
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .platform import StrPath

_SEQ = itertools.count()


def write_text_atomic(path: StrPath, text: str) -> None:
    """Write text to path via a temp file in the same dir, so no reader sees half a file.

    Five syscalls when all is well (open, write, fchmod, close, rename): a rebuild writes a
    dozen of these files (layer tomls, SBOMs, launch.toml), so the dir is made, and a stale
    temp file removed, only when the open says they must be. A file that holds this text
    already (mode 0644) is left as it is: a rebuild's SBOMs and layer tomls often do, and
    replacing a file costs ext4 ~0.2 ms (it writes the new data out before the rename),
    ten times what reading it costs."""
    data = text.encode("utf-8")
    if _holds(path, data):
        return
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
            left = memoryview(data)
            while left:
                left = left[os.write(fd, left) :]
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


def _holds(path: StrPath, data: bytes) -> bool:
    """Whether path is a regular file of mode 0644 whose bytes are data (a symlink is not)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size != len(data):
            return False
        if stat.S_IMODE(st.st_mode) != 0o644:
            return False
        return os.read(fd, len(data) + 1) == data
    except OSError:
        return False
    finally:
        os.close(fd)
