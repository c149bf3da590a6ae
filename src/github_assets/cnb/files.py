"""Writing and reading the CNB TOML/JSON files, atomically (write temp, rename)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
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

    text = json.dumps(redact.value(data), sort_keys=True, separators=(",", ":"))
    write_text_atomic(path, text + "\n")
