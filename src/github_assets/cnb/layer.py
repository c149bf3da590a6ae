"""<layer>.toml: types and metadata."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import BuildpackError
from ..record import Record
from .files import read_toml, write_toml

if TYPE_CHECKING:
    from ..platform import StrPath

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
