"""CycloneDX JSON SBOM for a layer (<layer>.sbom.cdx.json)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from .files import write_json


class Component(NamedTuple):
    repo: str
    tag: str
    asset: str
    sha256: str
    release_url: str
    source: str = ""
    """Where the bytes came from, as the log says it ("the GitHub API", "mirror ...")."""


def document(tool: str, version: str, components: Sequence[Component]) -> dict[str, Any]:
    """A reproducible CycloneDX 1.5 document (no timestamp, no random serial)."""
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "tools": {"components": [{"type": "application", "name": tool, "version": version}]}
        },
        "components": [
            {
                "type": "application",
                "bom-ref": f"pkg:github/{c.repo}@{c.tag}#{c.asset}",
                "name": c.asset,
                "group": c.repo,
                "version": c.tag,
                "purl": f"pkg:github/{c.repo}@{c.tag}",
                "hashes": [{"alg": "SHA-256", "content": c.sha256}],
                "externalReferences": [{"type": "distribution", "url": c.release_url}],
                "properties": [{"name": f"{tool}:source", "value": c.source}],
            }
            for c in components
        ],
    }


def write_sbom(layers_dir: Path, layer: str, doc: dict[str, Any]) -> None:
    write_json(layers_dir / f"{layer}.sbom.cdx.json", doc)
