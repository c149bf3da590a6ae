"""Read the app's TOML files: TOML 1.0, as pack reads them, on every supported Python.

Python 3.11+ parses with the stdlib's tomllib; 3.10 with the vendored tomli 2.3, which is
the code tomllib was made from (same parser, same messages). tomli 2.4+ parses TOML 1.1,
which neither pack's parser nor tomllib 3.11-3.14 accepts, so the pin stays below it.
Every TOML file the buildpack writes (build plan, layer tomls, launch.toml, the lock
file) is written by dumps() below, the one writer: their
values are only tables, arrays, strings, integers and booleans, and a writer for those is
a few lines, where importing the vendored toml 0.10 costs detect (and a rebuild that
reuses every layer) about 3 ms, a tenth of their time.

Detect imports this module, so it stays on cheap stdlib modules (see config.py).
"""

from __future__ import annotations

import os
import re
import string
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from .platform import StrPath

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised by the Python 3.10 runs of the integration tests
    import tomli as tomllib

# tomllib's message ends with where: "(at line 3, column 9)" or "(at end of document)".
# A pattern, compiled by re when a file fails to parse: not at every start.
_WHERE = r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$"
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
        wide = _wide_integer(data, "")
    except tomllib.TOMLDecodeError as e:
        message = str(e)
        where = re.search(_WHERE, message)
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
    if wide is not None:
        raise ConfigError(
            f"failed to parse {shown}: the integer {wide[1]} of {wide[0]} does not fit in "
            "64 bits, as TOML 1.0 requires",
            hint=FIX,
        )
    return data


_INT64 = range(-(2**63), 2**63)


def _wide_integer(data: Any, where: str) -> tuple[str, int] | None:
    """(key path, integer) of the first integer outside 64 bits: TOML 1.0 says such a number
    is an error, and pack's and the lifecycle's parser refuse it, where tomllib takes it.
    A loop, not recursion: any nesting tomllib parsed is walked."""
    stack: list[tuple[str, Any]] = [(where, data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, int) and not isinstance(value, bool):
            if value not in _INT64:
                return path, value
        elif isinstance(value, dict):
            stack += [(f"{path}.{k}" if path else str(k), v) for k, v in value.items()][::-1]
        elif isinstance(value, list):
            stack += [(f"{path}[{i}]", v) for i, v in enumerate(value, 1)][::-1]
    return None


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


# -- writing -------------------------------------------------------------------------------

_BARE = frozenset(string.ascii_letters + string.digits + "_-")
# What a TOML basic string cannot hold as it is: control characters (a tab it could, but
# an escape is clearer), DEL, the quote and the backslash; str.translate replaces them in
# one pass, without a regex to compile at every start.
_SHORT = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}
_ESCAPES = {c: _SHORT.get(chr(c)) or f"\\u{c:04X}" for c in (*range(0x20), 0x7F, 0x22, 0x5C)}


def write(path: StrPath, data: Mapping[str, Any], *, header: str = "") -> None:
    """data as a TOML file at path (atomically), after header (comment lines), every string
    through the one redaction (redact.py): layer tomls, launch.toml and the lock never hold
    a token, a binding's contents or a URL's userinfo."""
    from . import redact
    from .atomic import write_text_atomic

    write_text_atomic(path, header + dumps(redact.value(data)))


def dumps(data: Mapping[str, Any]) -> str:
    """A TOML 1.0 document for data: tables (Mappings), arrays (lists, tuples), strings,
    integers, booleans and finite floats; None values are left out (TOML has no null).

    A table's plain keys come first, then its sub-tables ([a.b]) and arrays of tables
    ([[a.b]]), as pack and the lifecycle write theirs. Anything else is a TypeError.
    """
    out: list[str] = []
    _table(out, "", data)
    return "\n".join(out).lstrip("\n") + "\n" if out else ""


def _table(out: list[str], prefix: str, table: Mapping[str, Any]) -> None:
    subtables = []
    for key, value in table.items():
        if value is None:
            continue
        if isinstance(value, Mapping) or _is_table_array(value):
            subtables.append((key, value))
        else:
            out.append(f"{_key(key)} = {_value(value)}")
    for key, value in subtables:
        path = f"{prefix}{_key(key)}"
        if isinstance(value, Mapping):
            out += ["", f"[{path}]"]
            _table(out, f"{path}.", value)
        else:
            for item in value:
                out += ["", f"[[{path}]]"]
                _table(out, f"{path}.", item)


def _is_table_array(value: object) -> bool:
    return (
        isinstance(value, list | tuple)
        and bool(value)
        and all(isinstance(v, Mapping) for v in value)
    )


def _key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"a TOML key must be a string, got {type(key).__name__}")
    return key if key and all(c in _BARE for c in key) else _string(key)


def _string(text: str) -> str:
    return '"' + text.translate(_ESCAPES) + '"'


def _value(value: object) -> str:
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, bool):  # before int: a bool is an int
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value == value and abs(value) != float("inf"):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value if v is not None) + "]"
    if isinstance(value, Mapping):
        pairs = [f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(pairs) + " }" if pairs else "{}"
    raise TypeError(f"no TOML value for {type(value).__name__}: {value!r}")
