"""Build: install every github-assets plan entry into launch layers, or reuse them.

Pure orchestration over collaborators passed in (GitHub clients, downloader,
clock, log). It computes a BuildResult; files in the CNB layout (layer toml,
launch.toml, SBOM) are written by the runner. Layer *content* is written by
install.py, staged in a temp dir inside the layers dir and renamed in only once
verified.

This module decides reuse. A rebuild whose layers are all reused and whose tags
are pinned ends here, with no network and no import of install.py, the HTTP
stack or pyelftools.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from . import BUILDPACK_ID, __version__
from .archive import Limits
from .cnb.launch import Label, Process
from .cnb.layer import LayerToml
from .cnb.sbom import Component
from .config import AssetSpec
from .errors import BuildpackError, ConfigError, InstallError
from .log import Log
from .platform import Target

if TYPE_CHECKING:
    import threading

    from .download import Downloader
    from .github import GitHub
    from .install import Resolved

DEFAULT_PARALLEL = 8
METADATA_SCHEMA = 1
WORK_PREFIX = ".github-assets-work-"


class Installed(NamedTuple):
    """One asset as it sits in a layer: what the layer toml records."""

    repo: str
    tag: str
    resolved_tag: str
    asset: str
    asset_id: int
    size: int
    sha256: str
    verified_by: str
    kind: str
    destination: str
    strip_components: int
    files: tuple[str, ...]
    executables: tuple[str, ...]
    main: str
    release_url: str
    want: str

    def to_toml(self) -> dict[str, Any]:
        data = self._asdict()
        data["files"] = list(self.files)
        data["executables"] = list(self.executables)
        return data

    @classmethod
    def from_toml(cls, data: Mapping[str, Any]) -> Installed | None:
        try:
            return cls(
                repo=str(data["repo"]),
                tag=str(data["tag"]),
                resolved_tag=str(data["resolved_tag"]),
                asset=str(data["asset"]),
                asset_id=int(data["asset_id"]),
                size=int(data["size"]),
                sha256=str(data["sha256"]),
                verified_by=str(data["verified_by"]),
                kind=str(data["kind"]),
                destination=str(data["destination"]),
                strip_components=int(data["strip_components"]),
                files=tuple(str(f) for f in data["files"]),
                executables=tuple(str(f) for f in data["executables"]),
                main=str(data["main"]),
                release_url=str(data["release_url"]),
                want=str(data["want"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


class LayerResult(NamedTuple):
    name: str
    toml: LayerToml
    assets: tuple[Installed, ...]
    reused: bool


class BuildResult(NamedTuple):
    layers: tuple[LayerResult, ...]
    processes: tuple[Process, ...]
    labels: tuple[Label, ...]
    links: tuple[tuple[str, str], ...]  # (app-relative link path, absolute target)
    stale: tuple[str, ...]  # layer names to delete
    sbom_components: Mapping[str, tuple[Component, ...]] = {}


class Services(NamedTuple):
    """Collaborators, so tests pass a real loopback server or a tiny fake, never a monkeypatch.

    Factories, not objects: a rebuild that reuses every layer never builds them, so it
    never imports the HTTP stack.
    """

    github_for: Callable[[str, str | None, Log, threading.Event | None], GitHub]
    """(api_url, token, log, cancel) -> a client; called from worker threads."""
    downloader: Callable[[], Downloader]
    """The one downloader of the build (thread-safe); called only when something installs."""
    log: Log
    clock: Callable[[], float] = time.monotonic
    limits: Limits = Limits()
    parallel: int = DEFAULT_PARALLEL
    """Assets resolved, downloaded and unpacked at once (BP_GITHUB_ASSETS_PARALLEL)."""


def want_key(spec: AssetSpec, target: Target) -> str:
    """What the config asks for, as a fingerprint; equal keys mean equal wanted content."""
    pin = spec.pin_for(target.arch)
    data = {
        "repo": spec.repo,
        "tag": spec.tag,
        "asset": spec.asset,
        "destination": spec.destination,
        "strip_components": spec.strip_components,
        "sha256": pin.hex if pin else None,
        "replacements": spec.replacements,
        "target": str(target),
        "api_url": spec.api_url,
    }
    return _sha256_hex(json.dumps(data, sort_keys=True).encode())[:32]


def _sha256_hex(data: bytes) -> str:
    """sha256 from the interpreter's own module, as random.py takes its sha512: hashlib loads
    OpenSSL first, 5 ms of a rebuild that hashes nothing else."""
    import importlib

    for name in ("_sha2", "_sha256"):  # Python >= 3.12, then 3.10 and 3.11
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        return str(module.sha256(data).hexdigest())
    import hashlib

    return hashlib.sha256(data).hexdigest()


def check_conflicts(specs: Sequence[AssetSpec]) -> None:
    """Config clashes that no download can fix: same process type, same link, same raw path."""
    seen: dict[tuple[str, str], AssetSpec] = {}
    for spec in specs:
        keys = []
        if spec.process:
            keys.append(("process type", spec.process))
        if spec.link:
            keys.append(("link", spec.link))
        if spec.destination and not spec.destination.endswith("/"):
            keys.append(("destination", f"{spec.layer_name}/{spec.destination}"))
        for key in keys:
            other = seen.get(key)
            if other is not None:
                raise ConfigError(
                    f"{spec.where}: {key[0]} {key[1]!r} is also used by {other.where}",
                    hint="give each asset its own",
                )
            seen[key] = spec


class LayerPlan:
    """One layer: the assets it holds and what the previous build left of it."""

    def __init__(self, name: str, specs: Sequence[AssetSpec], previous: LayerToml | None):
        self.name = name
        self.specs = specs
        self.previous = previous

    def log_head(self, log: Log) -> None:
        log.process(f"Layer {self.name}")
        for spec in self.specs:
            log.subprocess(f"Wants {spec.repo} {spec.tag} {spec.asset}")

    def log_reused(self, log: Log, layers_dir: Path, assets: Sequence[Installed], why: str) -> None:
        log.subprocess(f"Reusing layer {self.name}: {why} (no download)")
        for inst in assets:
            for e in inst.executables:
                log.subprocess(f"Installed {layers_dir / self.name / e}")

    def result(self, target: Target, assets: tuple[Installed, ...], *, reused: bool) -> LayerResult:
        build_time = any(s.build for s in self.specs)
        toml = LayerToml(
            launch=True, build=build_time, cache=build_time, metadata=_metadata(target, assets)
        )
        return LayerResult(self.name, toml, assets, reused)


def reuse_reason(
    specs: Sequence[AssetSpec],
    previous: LayerToml | None,
    layer_dir_exists: bool,
    resolved: Sequence[Resolved | None],
    target: Target,
) -> tuple[tuple[Installed, ...] | None, str]:
    """The previous assets when they are exactly what is wanted now, else why not."""
    if previous is None:
        return None, "no previous layer"
    meta = previous.metadata
    if meta.get("schema") != METADATA_SCHEMA or meta.get("target") != str(target):
        return None, "previous layer was made for another target or version"
    raw = meta.get("assets")
    if not isinstance(raw, list) or len(raw) != len(specs):
        return None, "the set of assets changed"
    olds = [Installed.from_toml(a) if isinstance(a, Mapping) else None for a in raw]
    for spec, old, res in zip(specs, olds, resolved, strict=True):
        if old is None:
            return None, "previous layer metadata is unreadable"
        if old.want != want_key(spec, target):
            return None, f"config of {spec.repo} {spec.asset} changed"
        if res is not None and (
            res.asset.id != old.asset_id or res.release.tag != old.resolved_tag
        ):
            return (
                None,
                f"latest release of {spec.repo} is now {res.release.tag} (was {old.resolved_tag})",
            )
        if res is not None and res.asset.digest and res.asset.digest != f"sha256:{old.sha256}":
            return None, f"asset {res.asset.name} was replaced upstream"
    if any(s.build for s in specs) and not layer_dir_exists:
        return None, "build-time layer content is not in the cache"
    assets = tuple(a for a in olds if a is not None)
    tags = ", ".join(sorted({f"{a.repo} {a.resolved_tag}" for a in assets}))
    return assets, f"same {tags}, assets and checksums"


def build(
    specs: Sequence[AssetSpec],
    *,
    layers_dir: Path,
    app_dir: Path,
    env: Mapping[str, str],
    target: Target,
    previous: Mapping[str, LayerToml | None],
    existing: Sequence[str],
    svc: Services,
) -> BuildResult:
    """Install or reuse each layer; return what the runner must write."""
    log = svc.log
    check_conflicts(specs)
    by_layer: dict[str, list[AssetSpec]] = {}
    for spec in specs:
        by_layer.setdefault(spec.layer_name, []).append(spec)

    # A build killed mid-asset (SIGKILL, OOM) leaves its staging dir; nothing else uses it.
    for leftover in sorted(n for n in os.listdir(layers_dir) if n.startswith(WORK_PREFIX)):
        import shutil

        log.process(f"Removing {leftover}, left by an interrupted build")
        shutil.rmtree(layers_dir / leftover, ignore_errors=True)
    plans = [
        LayerPlan(name, layer_specs, previous.get(name)) for name, layer_specs in by_layer.items()
    ]
    layers = _reuse_all(plans, layers_dir, target, log)
    if layers is None:
        from .install import install

        layers = install(plans, layers_dir=layers_dir, env=env, target=target, svc=svc)

    processes: list[Process] = []
    labels_data: list[dict[str, Any]] = []
    path_labels: dict[str, str] = {}
    links: list[tuple[str, str]] = []
    sbom: dict[str, tuple[Component, ...]] = {}
    for layer in layers:
        sbom[layer.name] = tuple(
            Component(a.repo, a.resolved_tag, a.asset, a.sha256, a.release_url)
            for a in layer.assets
        )
        for spec, inst in zip(by_layer[layer.name], layer.assets, strict=True):
            abs_main = str(layers_dir / layer.name / inst.main) if inst.main else ""
            if (spec.process or spec.link) and not abs_main:
                raise InstallError(
                    f"{spec.where}: {inst.asset} installed no executable for 'process'/'link'",
                )
            if spec.process:
                processes.append(Process(spec.process, (abs_main,), spec.args, False))
                log.subprocess(f"Process {spec.process}: {' '.join([abs_main, *spec.args])}")
            if spec.link:
                links.append((spec.link, abs_main))
            abs_exes = [str(layers_dir / layer.name / e) for e in inst.executables]
            for e in abs_exes:
                path_labels.setdefault(Path(e).name, e)
            labels_data.append(
                {
                    "repo": inst.repo,
                    "tag": inst.resolved_tag,
                    "asset": inst.asset,
                    "sha256": inst.sha256,
                    "layer": layer.name,
                    "executables": abs_exes,
                }
            )
    labels = [
        Label(
            f"{BUILDPACK_ID.replace('/', '.')}.installed",
            json.dumps(labels_data, separators=(",", ":")),
        )
    ]
    labels += [
        Label(f"{BUILDPACK_ID.replace('/', '.')}.path.{n}", p)
        for n, p in sorted(path_labels.items())
    ]
    wanted = {layer.name for layer in layers}
    return BuildResult(
        layers=tuple(layers),
        processes=tuple(processes),
        labels=tuple(labels),
        links=tuple(links),
        stale=tuple(n for n in existing if n not in wanted),
        sbom_components=sbom,
    )


def _reuse_all(
    plans: Sequence[LayerPlan], layers_dir: Path, target: Target, log: Log
) -> list[LayerResult] | None:
    """When every layer is reused and that needs no network (pinned tags): their results."""
    if any(p.previous is not None and any(s.tag == "latest" for s in p.specs) for p in plans):
        return None
    decided = []
    for plan in plans:
        none: list[Resolved | None] = [None] * len(plan.specs)
        layer_exists = (layers_dir / plan.name).is_dir()
        reused, why = reuse_reason(plan.specs, plan.previous, layer_exists, none, target)
        if reused is None:
            return None
        decided.append((plan, reused, why))
    results = []
    for plan, reused, why in decided:
        plan.log_head(log)
        plan.log_reused(log, layers_dir, reused, why)
        results.append(plan.result(target, reused, reused=True))
    return results


def _metadata(target: Target, assets: Sequence[Installed]) -> dict[str, Any]:
    return {
        "schema": METADATA_SCHEMA,
        "buildpack_version": __version__,
        "target": str(target),
        "assets": [a.to_toml() for a in assets],
    }


__all__ = ["BuildResult", "BuildpackError", "Installed", "Services", "build", "want_key"]
