"""Read the app's TOML files: TOML 1.0, as pack reads them, on every supported Python.

Python 3.11+ parses with the stdlib's tomllib; 3.10 with the vendored tomli 2.3, which is
the code tomllib was made from (same parser, same messages). tomli 2.4+ parses TOML 1.1,
which neither pack's parser nor tomllib 3.11-3.14 accepts, so the pin stays below it.
The vendored toml 0.10 is only a writer now: it parses TOML 0.5 (no mixed-type arrays,
and some TOML 1.0 documents it misreads without an error).

Detect imports this module, so it stays on cheap stdlib modules (see config.py).
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised by the Python 3.10 runs of the integration tests
    import tomli as tomllib

# tomllib's message ends with where: "(at line 3, column 9)" or "(at end of document)".
_WHERE = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")
_BOM = "\ufeff"
FIX = "fix the TOML syntax"


def loads(text: str, shown: str) -> dict[str, Any]:
    """Parse a TOML document; every failure is a ConfigError naming `shown`, line and column."""
    if text.startswith(_BOM):
        # TOML allows no byte-order mark, but Windows editors write one and pack's parser
        # (BurntSushi/toml >= 1.3) skips it, so a project.toml pack accepts is accepted here.
        text = text[1:]
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        message = str(e)
        where = _WHERE.search(message)
        if where and where.group(1):
            line, column = int(where.group(1)), int(where.group(2))
        else:  # at the end of the document: say where that is
            line = text.count("\n") + 1
            column = len(text) - text.rfind("\n")
        reason = message[: where.start()] if where else message
        raise ConfigError(
            f"failed to parse {shown}: {reason} (line {line}, column {column})", hint=FIX
        ) from e
    except RecursionError as e:
        raise ConfigError(
            f"failed to parse {shown}: arrays or inline tables nested too deeply", hint=FIX
        ) from e
    except ValueError as e:  # an integer of more digits than int() converts (4300)
        reason = str(e).split(";")[0]
        raise ConfigError(f"failed to parse {shown}: {reason}", hint=FIX) from e
    return data


def load(path: str, shown: str) -> dict[str, Any]:
    """Read and parse the UTF-8 TOML file at path (shown to the user as `shown`)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ConfigError(f"failed to read {shown}: {e.strerror or e}") from e
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"failed to read {shown}: not UTF-8 text ({e.reason})") from e
    return loads(text, shown)


def locate(base_dir: str | os.PathLike[str], relative: str) -> tuple[str | None, bool]:
    """Where the file `relative` (already checked: relative, no '..') is, and whether that is
    inside base_dir once every symlink is followed: (real path or None when it is not a
    regular file, inside). A symlink may point anywhere inside base_dir, never out of it."""
    path = os.path.join(base_dir, relative)
    if not os.path.isfile(path):
        return None, True
    real = os.path.realpath(path)
    root = os.path.realpath(base_dir)
    return real, os.path.commonpath([root, real]) == root
