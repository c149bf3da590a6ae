"""The CNB files a build reads and writes: <layer>.toml (types and metadata), launch.toml
(processes and labels), the TOML and JSON writers (atomically: write temp, rename).

One module, not one per file: a rebuild that reuses every layer imports it anyway, and each
module imported costs it ~0.25M instructions of import machinery (docs/performance.md)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..atomic import write_text_atomic
from ..errors import BuildpackError
from ..record import Record

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
    """data as JSON (SBOMs), every string through the one redaction, as write_toml; compact,
    written by json_text (below)."""
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


# -- <layer>.toml ---------------------------------------------------------------------------

RESERVED_TOMLS = frozenset({"launch.toml", "build.toml", "store.toml"})


class LayerToml(Record):
    launch: bool = True
    build: bool = False
    cache: bool = False
    metadata: Mapping[str, Any] = {}


def toml_path(layers_dir: StrPath, name: str) -> str:
    return os.path.join(layers_dir, f"{name}.toml")


def read_layer(layers_dir: StrPath, name: str) -> LayerToml | None:
    """The restored layer toml, or None when absent or unreadable (then we start over)."""
    path = toml_path(layers_dir, name)
    try:
        data = read_toml(path)
    except BuildpackError:  # absent, unreadable or not TOML: start over
        return None
    types = data.get("types", {})
    meta = data.get("metadata", {})
    return LayerToml(
        launch=bool(types.get("launch", False)),
        build=bool(types.get("build", False)),
        cache=bool(types.get("cache", False)),
        metadata=meta if isinstance(meta, Mapping) else {},
    )


def write_layer(layers_dir: StrPath, name: str, layer: LayerToml) -> None:
    write_toml(
        toml_path(layers_dir, name),
        {
            "types": {"launch": layer.launch, "build": layer.build, "cache": layer.cache},
            "metadata": dict(layer.metadata),
        },
    )


def existing_layers(layers_dir: StrPath) -> list[str]:
    """Names of the layer tomls present (restored by the lifecycle or written earlier)."""
    try:
        entries = list(os.scandir(layers_dir))
    except OSError:  # none, or unreadable (as glob saw it): writing there says what is wrong
        return []
    return sorted(
        e.name[: -len(".toml")]
        for e in entries
        if e.name.endswith(".toml")
        and e.name not in RESERVED_TOMLS
        and not e.name.startswith(".")  # glob's "*" skips dot files
        and e.is_file()
    )


# -- launch.toml ---------------------------------------------------------------------------


class Process(Record):
    type: str
    command: tuple[str, ...]
    args: tuple[str, ...] = ()
    default: bool = False


class Label(Record):
    key: str
    value: str


def write_launch(layers_dir: StrPath, processes: list[Process], labels: list[Label]) -> None:
    """Write launch.toml (API 0.10: command is an array)."""
    data: dict[str, Any] = {}
    if processes:
        data["processes"] = [
            {"type": p.type, "command": list(p.command), "args": list(p.args), "default": p.default}
            for p in processes
        ]
    if labels:
        data["labels"] = [{"key": label.key, "value": label.value} for label in labels]
    if data:
        write_toml(os.path.join(layers_dir, "launch.toml"), data)
