"""Build plan (detect output) and buildpack plan (build input)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BuildpackError
from .files import read_toml, write_toml

PROVIDES = "github-assets"


@dataclass(frozen=True)
class Require:
    name: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DetectResult:
    """What detect decided: pass with these provides/requires."""

    provides: tuple[str, ...]
    requires: tuple[Require, ...]


def write_build_plan(path: Path, result: DetectResult) -> None:
    data: dict[str, Any] = {"provides": [{"name": n} for n in result.provides]}
    if result.requires:
        data["requires"] = [
            {"name": r.name, "metadata": dict(r.metadata)} if r.metadata else {"name": r.name}
            for r in result.requires
        ]
    write_toml(path, data)


@dataclass(frozen=True)
class PlanEntry:
    name: str
    metadata: Mapping[str, Any]


def read_buildpack_plan(path: Path) -> list[PlanEntry]:
    """Entries of the buildpack plan the lifecycle hands to build."""
    try:
        data = read_toml(path)
    except FileNotFoundError:
        return []
    except Exception as e:
        raise BuildpackError(f"failed to read the buildpack plan {path}: {e}") from e
    entries: Sequence[Any] = data.get("entries", [])
    out = []
    for item in entries:
        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
            meta = item.get("metadata", {})
            out.append(PlanEntry(item["name"], meta if isinstance(meta, Mapping) else {}))
    return out
