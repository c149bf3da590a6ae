"""Writing and reading the CNB TOML/JSON files, atomically (write temp, rename)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..atomic import write_text_atomic


def write_toml(path: Path, data: Mapping[str, Any]) -> None:
    """data as TOML through the one TOML file writer (which redacts: these ship in the image)."""
    from ..tomlfile import write

    write(path, data)


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML 1.0 file (ConfigError when it is not one)."""
    from ..tomlfile import load

    return load(str(path), path.name)


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """data as JSON (SBOMs), every string through the one redaction, as write_toml."""
    from .. import redact

    write_text_atomic(path, json.dumps(redact.value(data), indent=2, sort_keys=True) + "\n")
