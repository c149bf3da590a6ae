"""Writing and reading the CNB TOML/JSON files, atomically (write temp, rename)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..atomic import write_text_atomic

if TYPE_CHECKING:
    from ..platform import StrPath


def write_toml(path: StrPath, data: Mapping[str, Any]) -> None:
    """data as TOML through the one TOML file writer (which redacts: these ship in the image)."""
    from ..tomlfile import write

    write(path, data)


def read_toml(path: StrPath) -> dict[str, Any]:
    """A TOML 1.0 file (ConfigError when it is not one)."""
    from ..tomlfile import load

    return load(os.fspath(path), os.path.basename(path))


def write_json(path: StrPath, data: Mapping[str, Any]) -> None:
    """data as JSON (SBOMs), every string through the one redaction, as write_toml. Compact:
    json's C encoder writes it; with indent= the pure-Python one would, a tenth of the
    instructions of a rebuild that reuses every layer (docs/performance.md)."""
    from .. import redact

    write_text_atomic(path, json_text(redact.value(data), sort_keys=True) + "\n")


try:  # what json.dumps escapes a string with: the C function of CPython's json module
    from _json import encode_basestring_ascii as _json_string
except ImportError:  # pragma: no cover - a Python built without _json
    from json.encoder import py_encode_basestring_ascii as _json_string


def json_text(data: Any, *, sort_keys: bool = False) -> str:
    """data (dicts, lists, tuples, str, int, bool, None) as compact JSON, the very text of
    json.dumps(data, sort_keys=..., separators=(",", ":")) (tests/unit/test_cnb_files.py).

    Not json itself: importing it (its decoder's and encoder's regexes) is ~4.6M
    instructions, a twentieth of a rebuild that reuses every layer, which writes its SBOMs
    and labels all the same (docs/performance.md)."""
    out: list[str] = []
    _json(out.append, data, sort_keys)
    return "".join(out)


def _json(put: Callable[[str], object], value: Any, sort_keys: bool) -> None:
    kind = type(value)
    if isinstance(value, str):
        put(_json_string(value))
    elif value is None:
        put("null")
    elif value is True or value is False:
        put("true" if value else "false")
    elif isinstance(value, int):
        put(int.__repr__(value))
    elif isinstance(value, Mapping):
        put("{")
        for i, key in enumerate(sorted(value) if sort_keys else value):
            if type(key) is not str:
                raise TypeError(f"a JSON key must be a string, got {type(key).__name__}")
            put(f",{_json_string(key)}:" if i else f"{_json_string(key)}:")
            _json(put, value[key], sort_keys)
        put("}")
    elif isinstance(value, list | tuple):
        put("[")
        for i, item in enumerate(value):
            if i:
                put(",")
            _json(put, item, sort_keys)
        put("]")
    else:
        raise TypeError(f"no JSON value for {kind.__name__}: {value!r}")
