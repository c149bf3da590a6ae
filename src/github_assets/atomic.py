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
    """Write text to path via a temp file in the same dir, so no reader sees half a file."""
    directory, name = os.path.split(os.fspath(path))
    if directory:
        os.makedirs(directory, exist_ok=True)
    # Not tempfile.mkstemp: importing tempfile (random, shutil, bz2, lzma) costs a rebuild
    # about 8 ms; the layers dir is ours, so a pid and a counter make the name unique.
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.{next(_SEQ)}.tmp")
    _unlink(tmp)  # left by a killed build that had the same pid
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
