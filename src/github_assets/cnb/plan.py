"""Build plan (detect output) and buildpack plan (build input).

On the detect path: Records (record.py) and a plain write, no dataclasses/pathlib/tempfile
(see config.py for why detect counts milliseconds).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import BuildpackError
from ..record import Record

PROVIDES = "github-assets"


class Require(Record):
    name: str
    metadata: Mapping[str, Any]


class DetectResult(Record):
    """What detect decided: pass with these provides/requires."""

    provides: tuple[str, ...]
    requires: tuple[Require, ...]


def write_build_plan(path: str | os.PathLike[str], result: DetectResult) -> None:
    """Write the plan; the lifecycle reads it after detect exits, so no temp-file dance."""
    from ..tomlfile import dumps

    data: dict[str, Any] = {"provides": [{"name": n} for n in result.provides]}
    if result.requires:
        data["requires"] = [
            {"name": r.name, "metadata": dict(r.metadata)} if r.metadata else {"name": r.name}
            for r in result.requires
        ]
    with open(path, "w", encoding="utf-8") as f:
        f.write(dumps(data))


class PlanEntry(Record):
    name: str
    metadata: Mapping[str, Any]


def read_buildpack_plan(path: str | os.PathLike[str]) -> list[PlanEntry]:
    """Entries of the buildpack plan the lifecycle hands to build."""
    from ..tomlfile import load

    if not os.path.exists(path):
        return []
    try:
        data = load(os.fspath(path), f"the buildpack plan {os.fspath(path)}")
    except BuildpackError as e:  # TOML 1.0, as the lifecycle writes it
        raise BuildpackError(e.message, hint="the lifecycle wrote it; rerun the build") from e
    entries: Sequence[Any] = data.get("entries", [])
    out = []
    for item in entries:
        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
            meta = item.get("metadata", {})
            out.append(PlanEntry(item["name"], meta if isinstance(meta, Mapping) else {}))
    return out
