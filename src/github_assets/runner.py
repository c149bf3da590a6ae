"""The build runner: reads the CNB environment, calls build(), writes every CNB file."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from . import BUILDPACK_ID, __version__
from .build import BuildResult, build
from .cnb.context import BuildContext, build_context
from .cnb.launch import write_launch
from .cnb.layer import existing_layers, read_layer, toml_path, write_layer
from .cnb.plan import PROVIDES, read_buildpack_plan
from .cnb.sbom import document, write_sbom
from .config import AssetSpec, load_config_file, load_project, parse_entry
from .errors import ConfigError, InstallError
from .log import Log
from .services import make_services
from .settings import Settings

# Plan metadata written by bin/detect's sh path: the config file for build to read.
CONFIG_FILE = "config_file"


def plan_specs(ctx: BuildContext) -> list[AssetSpec]:
    """Specs of the github-assets plan entries, ours and other buildpacks', deduplicated.

    An entry equal to one in the app's config keeps that config's name for errors.
    """
    try:
        own = {_key(s.to_metadata()): s for s in load_project(ctx.app_dir, ctx.env)}
    except ConfigError:  # detect already judged the config; here it only names entries
        own = {}
    out: list[AssetSpec] = []
    for i, entry in enumerate(read_buildpack_plan(ctx.plan_path), 1):
        if entry.name != PROVIDES or not entry.metadata:
            continue  # an entry without metadata only asks for this buildpack to be present
        if set(entry.metadata) == {CONFIG_FILE}:
            # bin/detect ran without python3: it named the config file, we read it now.
            specs = load_config_file(ctx.app_dir, str(entry.metadata[CONFIG_FILE]))
        else:
            specs = [
                own.get(_key(entry.metadata))
                or parse_entry(entry.metadata, f"buildpack plan entry #{i} ({PROVIDES})")
            ]
        out += [s for s in specs if s not in out]
    return out


def _key(meta: Mapping[str, Any]) -> str:
    return json.dumps(meta, sort_keys=True, default=str)


def write_result(ctx: BuildContext, result: BuildResult) -> None:
    """The one place that writes CNB files (and the app-dir links)."""
    if result.stale:
        import shutil
    for name in result.stale:
        toml_path(ctx.layers_dir, name).unlink(missing_ok=True)
        (ctx.layers_dir / f"{name}.sbom.cdx.json").unlink(missing_ok=True)
        shutil.rmtree(ctx.layers_dir / name, ignore_errors=True)
    for layer in result.layers:
        write_layer(ctx.layers_dir, layer.name, layer.toml)
        write_sbom(
            ctx.layers_dir,
            layer.name,
            document(BUILDPACK_ID, __version__, result.sbom_components.get(layer.name, ())),
        )
    write_launch(ctx.layers_dir, list(result.processes), list(result.labels))
    for rel, target in result.links:
        link = ctx.app_dir / rel
        if link.is_symlink() and os.readlink(link) == target:
            continue
        if link.exists() or link.is_symlink():
            raise InstallError(
                f"link {rel}: the app dir already has a different file there",
                hint="remove it from the app or choose another 'link' path",
            )
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)


def run_build(args: Sequence[str], env: Mapping[str, str], bp_dir: Path) -> int:
    ctx = build_context(args, env, Path.cwd(), bp_dir)
    settings = Settings.from_env(env)  # a bad knob fails before anything is written
    log = Log(sys.stdout, debug=settings.debug)
    log.title(f"GitHub Release Assets {__version__}")
    specs = plan_specs(ctx)
    log.process(f"Target {ctx.target}, {len(specs)} asset{'s' * (len(specs) != 1)}")
    existing = existing_layers(ctx.layers_dir)
    ctx.layers_dir.mkdir(parents=True, exist_ok=True)
    result = build(
        specs,
        layers_dir=ctx.layers_dir,
        target=ctx.target,
        previous={name: read_layer(ctx.layers_dir, name) for name in existing},
        existing=existing,
        svc=make_services(env, settings, log),
    )
    for name in result.stale:
        log.process(f"Removing stale layer {name}")
    write_result(ctx, result)
    for rel, target in result.links:
        log.process(f"Linked {ctx.app_dir / rel} -> {target}")
    return 0
