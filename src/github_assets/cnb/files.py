"""Writing and reading the CNB TOML/JSON files, atomically (write temp, rename)."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_SEQ = itertools.count()


def write_text_atomic(path: Path, text: str) -> None:
    """Write text to path via a temp file in the same dir, so no reader sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not tempfile.mkstemp: importing tempfile (random, shutil, bz2, lzma) costs a rebuild
    # about 8 ms; the layers dir is ours, so a pid and a counter make the name unique.
    tmp = str(path.parent / f".{path.name}.{os.getpid()}.{next(_SEQ)}.tmp")
    Path(tmp).unlink(missing_ok=True)  # left by a killed build that had the same pid
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_toml(path: Path, data: Mapping[str, Any]) -> None:
    """data as TOML, every string through the one redaction: these files ship in the image."""
    from .. import redact
    from ..tomlfile import dumps

    write_text_atomic(path, dumps(redact.value(data)))


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML 1.0 file (ConfigError when it is not one)."""
    from ..tomlfile import load

    return load(str(path), path.name)


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """data as JSON (SBOMs), every string through the one redaction, as write_toml."""
    from .. import redact

    write_text_atomic(path, json.dumps(redact.value(data), indent=2, sort_keys=True) + "\n")
