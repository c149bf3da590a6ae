"""Build: install every github-assets plan entry into launch layers, or reuse them.

Pure orchestration over collaborators passed in (GitHub clients, downloader,
clock, log). It computes a BuildResult; files in the CNB layout (layer toml,
launch.toml, SBOM) are written by the runner. Layer *content* is written here,
staged in a temp dir inside the layers dir and renamed in only once verified.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import BUILDPACK_ID, __version__
from .archive import Limits, unpack
from .cnb.launch import Label, Process
from .cnb.layer import LayerToml
from .cnb.sbom import Component
from .config import AssetSpec, token_for
from .download import Downloader
from .elf import check as elf_check
from .errors import BuildpackError, ConfigError, GitHubError, InstallError
from .github import GitHub, Release, ReleaseAsset
from .log import Log, human_size
from .platform import Target, render

METADATA_SCHEMA = 1
WORK_PREFIX = ".github-assets-work-"


@dataclass(frozen=True)
class Installed:
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
        data = asdict(self)
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


@dataclass(frozen=True)
class LayerResult:
    name: str
    toml: LayerToml
    assets: tuple[Installed, ...]
    reused: bool


@dataclass(frozen=True)
class BuildResult:
    layers: tuple[LayerResult, ...]
    processes: tuple[Process, ...]
    labels: tuple[Label, ...]
    links: tuple[tuple[str, str], ...]  # (app-relative link path, absolute target)
    stale: tuple[str, ...]  # layer names to delete
    sbom_components: Mapping[str, tuple[Component, ...]] = field(default_factory=dict)


@dataclass
class Services:
    """Collaborators, so tests pass a real loopback server or a tiny fake, never a monkeypatch."""

    github_for: Callable[[str, str | None], GitHub]  # (api_url, token) -> client
    downloader: Downloader
    log: Log
    clock: Callable[[], float] = time.monotonic
    limits: Limits = field(default_factory=Limits)


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
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]


def _api_url(spec: AssetSpec, env: Mapping[str, str]) -> str:
    return (spec.api_url or env.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/")


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


@dataclass(frozen=True)
class _Resolved:
    spec: AssetSpec
    token: str | None
    client: GitHub
    release: Release
    asset: ReleaseAsset


def _resolve(
    spec: AssetSpec, ctx_env: Mapping[str, str], target: Target, svc: Services
) -> _Resolved:
    token = token_for(spec, ctx_env)
    svc.log.add_secret(token)
    client = svc.github_for(_api_url(spec, ctx_env), token)
    release = client.release(spec.repo, spec.tag)
    name = render(spec.asset, target, release.tag, spec.replacement_map)
    asset = release.find(name)
    if asset is None:
        names = ", ".join(a.name for a in release.assets) or "none"
        raise GitHubError(
            f"{spec.where}: release {release.tag} of {spec.repo} has no asset {name!r}",
            hint="set 'asset' (and 'replacements' for {os}/{arch}) to one of the assets listed",
            details=f"assets of {spec.repo} {release.tag}: {names}",
        )
    return _Resolved(spec, token, client, release, asset)


def _install_path(spec: AssetSpec, kind_is_archive: bool) -> str:
    """Layer-relative place: an archive's directory, or a raw file's path."""
    if kind_is_archive:
        return (spec.destination or ".").rstrip("/") or "."
    if spec.destination is None:
        return f"bin/{spec.name}"
    if spec.destination.endswith("/") or spec.destination == ".":
        return f"{spec.destination.rstrip('/')}/{spec.name}".lstrip("./") or spec.name
    return spec.destination


def _merge(src: Path, dest: Path, shown: str) -> None:
    """Move the tree at src into dest; a path that already exists there is a clash."""
    dest.mkdir(parents=True, exist_ok=True)
    for entry in sorted(src.iterdir()):
        target = dest / entry.name
        if (
            entry.is_dir()
            and not entry.is_symlink()
            and target.is_dir()
            and not target.is_symlink()
        ):
            _merge(entry, target, posixpath.join(shown, entry.name))
        elif target.exists() or target.is_symlink():
            clash = posixpath.normpath(posixpath.join(shown, entry.name))
            raise InstallError(
                f"two assets write the same path {clash} in the layer",
                hint="give one of them another 'destination' or 'layer'",
            )
        else:
            entry.rename(target)


def _pick_main(spec: AssetSpec, executables: Sequence[str], rel: str) -> str:
    if not executables:
        return ""
    for e in executables:
        if Path(e).name == spec.name:
            return e
    if len(executables) == 1:
        return executables[0]
    if spec.process or spec.link:
        raise InstallError(
            f"{spec.where}: the archive has {len(executables)} executables and none is named "
            f"{spec.name!r}, so 'process'/'link' cannot tell which to use",
            hint="name the asset after its executable or drop process/link",
            details="executables: " + ", ".join(executables),
        )
    return executables[0]


def _install_asset(
    r: _Resolved, layer_stage: Path, work: Path, target: Target, layers_dir: Path, svc: Services
) -> Installed:
    spec, log = r.spec, svc.log
    started = svc.clock()
    log.subprocess(f"Downloading {r.asset.name} ({human_size(r.asset.size)})")
    pin = spec.pin_for(target.arch)
    fetched = svc.downloader.fetch(
        r.asset,
        token=r.token,
        api_host=r.client.api_host,
        dest=work / f"asset-{r.asset.id}",
        pin=pin,
    )
    log.subprocess(
        f"Verified sha256:{fetched.sha256} ({fetched.verified_by}, {human_size(fetched.size)})"
    )
    unpack_dir = work / f"unpack-{r.asset.id}"
    unpack_dir.mkdir()
    result = unpack(
        fetched.path,
        unpack_dir,
        strip_components=spec.strip_components,
        raw_path=spec.name,
        limits=svc.limits,
    )
    fetched.path.unlink()
    archive = result.kind not in ("raw", "gzip", "xz", "bzip2")
    place = _install_path(spec, archive)
    if archive:
        _merge(unpack_dir, layer_stage / place, place)
        files = tuple(sorted(f"{place}/{f}".removeprefix("./") for f in result.files))
    else:
        dest = layer_stage / place
        if dest.exists() or dest.is_symlink():
            raise InstallError(
                f"two assets write the same path {place} in the layer",
                hint="give one of them another 'destination' or 'layer'",
            )
        dest.parent.mkdir(parents=True, exist_ok=True)
        (unpack_dir / spec.name).rename(dest)
        files = (place,)
    log.subprocess(f"Unpacked {result.kind}: {len(files)} file{'s' * (len(files) != 1)}")
    executables = []
    for rel in files:
        path = layer_stage / rel
        st = path.lstat()
        if not stat.S_ISREG(st.st_mode):
            continue
        shown = str(layers_dir / spec.layer_name / rel)
        info = elf_check(path, target.arch, rel)
        if st.st_mode & 0o111 or info is not None:
            executables.append(rel)
        if info is not None:
            linkage = "static" if info.static else f"dynamic, interpreter {info.interpreter}"
            log.action(f"ELF {info.machine} {linkage}: {shown}")
    main = _pick_main(spec, executables, place)
    for rel in executables:
        log.subprocess(f"Installed {layers_dir / spec.layer_name / rel}")
    log.subprocess(f"Done in {svc.clock() - started:.1f} s")
    return Installed(
        repo=spec.repo,
        tag=spec.tag,
        resolved_tag=r.release.tag,
        asset=r.asset.name,
        asset_id=r.asset.id,
        size=fetched.size,
        sha256=fetched.sha256,
        verified_by=fetched.verified_by,
        kind=result.kind,
        destination=place,
        strip_components=spec.strip_components,
        files=files,
        executables=tuple(executables),
        main=main,
        release_url=r.release.html_url,
        want=want_key(spec, target),
    )


def _reuse_reason(
    specs: Sequence[AssetSpec],
    previous: LayerToml | None,
    layer_dir_exists: bool,
    resolved: Sequence[_Resolved | None],
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

    layers: list[LayerResult] = []
    # A build killed mid-asset (SIGKILL, OOM) leaves its staging dir; nothing else uses it.
    for leftover in sorted(layers_dir.glob(f"{WORK_PREFIX}*")):
        log.process(f"Removing {leftover.name}, left by an interrupted build")
        shutil.rmtree(leftover, ignore_errors=True)
    work_root = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=layers_dir))
    try:
        for name, layer_specs in by_layer.items():
            layers.append(
                _build_layer(
                    name, layer_specs, layers_dir, work_root, env, target, previous.get(name), svc
                )
            )
    finally:
        shutil.rmtree(work_root, ignore_errors=True)

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


def _build_layer(
    name: str,
    specs: Sequence[AssetSpec],
    layers_dir: Path,
    work_root: Path,
    env: Mapping[str, str],
    target: Target,
    previous: LayerToml | None,
    svc: Services,
) -> LayerResult:
    log = svc.log
    build_time = any(s.build for s in specs)
    types = {"launch": True, "build": build_time, "cache": build_time}
    log.process(f"Layer {name}")
    for spec in specs:
        shown = f"{spec.repo} {spec.tag} {spec.asset}"
        log.subprocess(f"Wants {shown}")
    # With only pinned tags, the decision to reuse needs no network at all.
    resolved: list[_Resolved | None] = [
        _resolve(s, env, target, svc) if s.tag == "latest" and previous is not None else None
        for s in specs
    ]
    layer_dir = layers_dir / name
    reused, reason = _reuse_reason(specs, previous, layer_dir.is_dir(), resolved, target)
    if reused is not None:
        log.subprocess(f"Reusing layer {name}: {reason} (no download)")
        for inst in reused:
            for e in inst.executables:
                log.subprocess(f"Installed {layers_dir / name / e}")
        return LayerResult(
            name, LayerToml(**types, metadata=_metadata(target, reused)), reused, True
        )
    log.subprocess(f"Installing: {reason}")
    full = [
        r if r is not None else _resolve(s, env, target, svc)
        for s, r in zip(specs, resolved, strict=True)
    ]
    for r in full:
        log.subprocess(
            f"Resolved {r.spec.repo} {r.release.tag}: {r.asset.name} "
            f"(asset {r.asset.id}, {human_size(r.asset.size)})"
        )
    stage = Path(tempfile.mkdtemp(prefix=f"layer-{name}-", dir=work_root))
    stage.chmod(0o755)
    installed = tuple(_install_asset(r, stage, work_root, target, layers_dir, svc) for r in full)
    if layer_dir.exists() or layer_dir.is_symlink():
        # Two renames, not an rmtree: a kill in between never leaves a half-deleted layer.
        os.replace(layer_dir, work_root / f"previous-{name}")
    os.replace(stage, layer_dir)
    return LayerResult(
        name, LayerToml(**types, metadata=_metadata(target, installed)), installed, False
    )


def _metadata(target: Target, assets: Sequence[Installed]) -> dict[str, Any]:
    return {
        "schema": METADATA_SCHEMA,
        "buildpack_version": __version__,
        "target": str(target),
        "assets": [a.to_toml() for a in assets],
    }


__all__ = ["BuildResult", "BuildpackError", "Installed", "Services", "build", "want_key"]
