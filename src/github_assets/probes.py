"""Where a probe runs from: the launch paths of an entry, and the command a Kubernetes exec
probe pastes (docs/probes.md says which path to use and why).

Pure: the config and a few path rules, no download. `github-assets check` prints what is
known before a download; the build logs `Probe command: [...]` once it is installed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import PurePosixPath

from . import BUILDPACK_ID
from .config import AssetSpec

LAYERS_AT_LAUNCH = PurePosixPath("/layers") / BUILDPACK_ID.replace("/", "_")
"""The buildpack's layers dir in the image (CNB_LAYERS_DIR defaults to /layers)."""
APP_AT_LAUNCH = PurePosixPath("/workspace")
"""The app dir in the image (pack, kpack and Tekton build and launch it there)."""

_ARCHIVES = (".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".tbz", ".tar", ".zip")


def command(path: str, args: Sequence[str]) -> str:
    """A JSON array, ready to paste into a Kubernetes `exec.command`."""
    return json.dumps([path, *args])


def layer_path(spec: AssetSpec) -> str | None:
    """The executable's path in the layer, when the config alone says it (a raw asset, or
    a `files` key named like the asset); None when only the unpacked archive tells."""
    if spec.files:
        keys = [key for key, _ in spec.files if not key.endswith("/")]
        named = [key for key in keys if PurePosixPath(key).name == spec.name]
        return named[0] if named else keys[0] if len(keys) == 1 else None
    if not spec.asset or spec.asset.lower().endswith(_ARCHIVES):
        return None
    from .pipeline import install_path

    return install_path(spec, archive=False)


def launch_paths(spec: AssetSpec) -> list[tuple[str, str]]:
    """(what, absolute path at launch) known before a download: the layer path, the link."""
    out = []
    inside = layer_path(spec)
    out.append(
        ("layer path", str(LAYERS_AT_LAUNCH / spec.layer_name / inside))
        if inside
        else ("layer path", f"{LAYERS_AT_LAUNCH / spec.layer_name}/... (known once unpacked)")
    )
    if spec.link:
        out.append(("link", str(APP_AT_LAUNCH / spec.link)))
    return out
