"""The layer model: what a layer's toml records, and whether the previous layer can stay.

Pure data and decisions, no I/O and no HTTP: a rebuild that reuses every layer runs
only this (and cnb/) past the config.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import __version__, layerpath, redact
from .cnb.files import LayerToml
from .config import AssetSpec
from .log import Log
from .platform import Target
from .record import Record
from .verify import Authority, Checksum, Kind

if TYPE_CHECKING:
    from .gobuildinfo import GoBuild
    from .lock import Entry
    from .pipeline import ResolvedAsset, Staged

METADATA_SCHEMA = 2
"""2: the wanted config stored as fields (`want`), and the source of the bytes. Keys added
since (`authorities`, `go`, `libc`) are optional: a layer toml that 0.2.0 wrote is read as
it is."""


class Installed(Record):
    """One asset as it sits in a layer: what the layer toml records."""

    repo: str
    tag: str
    resolved_tag: str
    asset: str
    asset_id: int
    size: int
    sha256: str
    verified_by: str
    source: str
    kind: str
    destination: str
    strip_components: int
    files: tuple[str, ...]
    executables: tuple[str, ...]
    main: str
    release_url: str
    want: Mapping[str, Any]
    etag: str = ""
    """The ETag of the API's answer for a `latest` asset: a rebuild sends it as If-None-Match."""
    authorities: tuple[Authority, ...] = ()
    """Who vouched for the bytes, as data (verified_by is their names, for people)."""
    go: tuple[tuple[str, GoBuild], ...] = ()
    """(file, Go build info) of its Go executables: the SBOM of a reused layer lists them."""
    libc: tuple[tuple[str, str, str], ...] = ()
    """(file, interpreter, highest GLIBC_x.y needed) of its dynamic ELF files: a reused layer
    is checked against the run image of this build, which may not be the last one's."""

    @property
    def trusted(self) -> bool:
        """Whether an authority that BP_GITHUB_ASSETS_REQUIRE_CHECKSUM accepts vouched."""
        return any(a.trusted for a in self.authorities)

    @classmethod
    def from_staged(cls, spec: AssetSpec, target: Target, staged: Staged) -> Installed:
        """The record of an asset the pipeline staged, as its layer's toml keeps it."""
        asset, verified = staged.asset, staged.verified
        return cls(
            repo=spec.repo,
            tag=spec.tag,
            resolved_tag=asset.tag,
            asset=asset.name,
            asset_id=asset.asset_id,
            size=verified.size,
            sha256=verified.sha256,
            verified_by=", ".join(a.name for a in verified.evidence),
            source=staged.origin,
            kind=staged.kind,
            destination=staged.destination,
            strip_components=spec.strip_components,
            files=staged.files,
            executables=staged.executables,
            main=staged.main,
            release_url=asset.release_url,
            want=spec.wanted(target),
            etag=asset.etag if spec.tag == "latest" else "",
            authorities=verified.evidence,
            go=tuple((f, e.go) for f, e in staged.elves if e.go is not None),
            libc=tuple((f, *e.record()) for f, e in staged.elves if not e.static),
        )

    def to_toml(self) -> dict[str, Any]:
        data = self._asdict()
        data["files"] = list(self.files)
        data["executables"] = list(self.executables)
        data["want"] = dict(self.want)
        data["authorities"] = [a.to_toml() for a in self.authorities]
        data["go"] = [{"file": file, **build.to_toml()} for file, build in self.go]
        data["libc"] = [list(facts) for facts in self.libc]
        return data

    @classmethod
    def from_toml(cls, data: object) -> Installed | None:
        """The record, or None when it is not one this version wrote."""
        if not isinstance(data, Mapping) or not isinstance(data.get("want"), Mapping):
            return None
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
                source=str(data["source"]),
                kind=str(data["kind"]),
                destination=str(data["destination"]),
                strip_components=int(data["strip_components"]),
                files=tuple(str(f) for f in data["files"]),
                executables=tuple(str(f) for f in data["executables"]),
                main=str(data["main"]),
                release_url=str(data["release_url"]),
                want=dict(data["want"]),
                etag=str(data.get("etag", "")),
                authorities=_authorities(data),
                go=_go_builds(data.get("go", [])),
                libc=tuple((str(f), str(i), str(g)) for f, i, g in data.get("libc", [])),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _go_builds(data: object) -> tuple[tuple[str, GoBuild], ...]:
    """The Go build info a layer toml records (what is not well-formed is left out)."""
    out = []
    for item in data if isinstance(data, list) else []:
        from .gobuildinfo import GoBuild  # here: only Go executables record it

        build = GoBuild.from_toml(item)
        if build is not None and isinstance(item, Mapping) and "file" in item:
            out.append((str(item["file"]), build))
    return tuple(out)


def _authorities(data: Mapping[str, Any]) -> tuple[Authority, ...]:
    """The recorded authorities; a 0.2.0 layer has only their names, joined (verified_by)."""
    if "authorities" in data:
        return tuple(Authority.from_toml(a) for a in data["authorities"])
    return tuple(Authority.from_name(n) for n in str(data["verified_by"]).split(", "))


class LayerResult(Record):
    name: str
    toml: LayerToml
    assets: tuple[Installed, ...]
    reused: bool


class Reuse(Record):
    """The previous layer holds exactly what is wanted."""

    assets: tuple[Installed, ...]
    why: str


class Install(Record):
    """The layer must be (re)installed, and why."""

    cause: str


class LayerPlan:
    """One layer: the assets it holds and what the previous build left of it."""

    def __init__(self, name: str, specs: Sequence[AssetSpec], previous: LayerToml | None):
        self.name = name
        self.specs = specs
        self.previous = previous

    @property
    def needs_network_to_decide(self) -> bool:
        """A previous layer of `latest` assets: only the API knows whether it is still current."""
        return self.previous is not None and any(s.tag == "latest" for s in self.specs)

    def previous_etag(self, spec: AssetSpec) -> str:
        """The ETag the previous layer recorded for spec's asset (when it is the same spec)."""
        if self.previous is None or self.previous.metadata.get("schema") != METADATA_SCHEMA:
            return ""
        raw = self.previous.metadata.get("assets")
        if not isinstance(raw, list) or len(raw) != len(self.specs):
            return ""
        old = Installed.from_toml(raw[list(self.specs).index(spec)])
        return old.etag if old is not None else ""

    def log_head(self, log: Log) -> None:
        log.process(f"Layer {self.name}")
        for spec in self.specs:
            log.subprocess(f"Wants {spec.repo} {spec.tag} {spec.shown_asset}")

    def log_reused(self, log: Log, layers_dir: str, reuse: Reuse) -> None:
        log.subprocess(f"Reusing layer {self.name}: {reuse.why} (no download)")
        for inst in reuse.assets:
            for e in inst.executables:
                log.subprocess(f"Installed {os.path.join(layers_dir, self.name, e)}")

    def result(self, target: Target, assets: tuple[Installed, ...], *, reused: bool) -> LayerResult:
        # cache = true always: engines without a previous image (Cloud Foundry, a pack build
        # with a cache but a new image name) restore a layer's metadata only from the cache.
        toml = LayerToml(
            launch=True,
            build=any(s.build for s in self.specs),
            cache=True,
            metadata=metadata(target, assets),
        )
        return LayerResult(self.name, toml, assets, reused)

    def decide(
        self,
        layer_dir: str,
        resolved: Sequence[ResolvedAsset | None],
        target: Target,
        log: Log,
        *,
        require_checksum: bool = False,
        locked: Sequence[Entry | None] = (),
    ) -> Reuse | Install:
        """Reuse when the previous layer holds what is wanted now, else Install with why.

        layer_dir: where the lifecycle restored the layer's files, if it did (a cache); when
        it did, every file the toml lists must be there.

        resolved has, per asset, what `latest` resolves to now (None when not asked);
        locked, the lock's entry (None when it has none): the tag, asset and sha256 it
        names are wanted content, so a re-lock reinstalls.
        """
        if self.previous is None:
            return Install("no previous layer")
        meta = self.previous.metadata
        if meta.get("schema") != METADATA_SCHEMA:
            return Install("metadata from an older version")
        raw = meta.get("assets")
        if not isinstance(raw, list) or len(raw) != len(self.specs):
            return Install("the set of assets changed")
        olds = [Installed.from_toml(a) for a in raw]
        many = len(self.specs) > 1
        entries = list(locked) or [None] * len(self.specs)
        for spec, old, res, entry in zip(self.specs, olds, resolved, entries, strict=True):
            if old is None:
                return Install("previous layer metadata is unreadable")
            # As the toml holds it: written through the one redaction (tomlfile.write).
            changes = diff(old.want, redact.value(spec.wanted(target)))
            for line in changes:
                log.debug(f"reuse {spec.repo} {spec.shown_asset}: {line}")
            if changes:
                return Install(f"{spec.shown_asset}: {changes[0]}" if many else changes[0])
            if entry is not None:
                cause = _relocked(spec, old, entry)
                if cause:
                    return Install(cause)
            if res is not None:
                cause = _upstream_change(spec, old, res)
                if cause:
                    return Install(cause)
        untrusted = [o for o in olds if o is not None and not o.trusted]
        if require_checksum and untrusted:
            what = ", ".join(
                "its size" if a.kind is Kind.SIZE else a.name for a in untrusted[0].authorities
            )
            return Install(f"verified by {what} only, and BP_GITHUB_ASSETS_REQUIRE_CHECKSUM is set")
        layer_dir_exists = os.path.isdir(layer_dir)
        if any(s.build for s in self.specs) and not layer_dir_exists:
            return Install("build-time layer content is not in the cache")
        assets = tuple(a for a in olds if a is not None)
        if layer_dir_exists:  # restored from a cache: an incomplete one is not reused
            lost = next(
                (f for a in assets for f in a.files if not _present(os.path.join(layer_dir, f))),
                None,
            )
            if lost is not None:
                return Install(f"the restored layer lacks {lost}")
        cause = _path_env_lost(meta, assets, layer_dir if layer_dir_exists else None)
        if cause:
            return Install(cause)
        log.debug(f"reuse {self.name}: no wanted field differs")
        tags = ", ".join(sorted({f"{a.repo} {a.resolved_tag}" for a in assets}))
        return Reuse(assets, f"same {tags}, assets and checksums")


def _path_env_lost(
    meta: Mapping[str, Any], assets: Sequence[Installed], restored: str | None
) -> str:
    """Why the previous layer would not put its executables outside bin/ on PATH, or ''.

    A layer of an older version has no env files: its toml does not record `path`, which
    is all a rebuild restored from the previous image (metadata only) can tell. A layer
    restored from the cache must also hold the env file as it would be written now.
    """
    on_path = layerpath.dirs(e for a in assets for e in a.executables)
    if not on_path:
        return ""
    if meta.get("path") != list(on_path):
        return "the previous layer does not put its executables outside bin/ on PATH"
    if restored is not None and layerpath.current(restored) != layerpath.value(restored, on_path):
        return f"the restored layer lacks {layerpath.FILES[0]} as wanted"
    return ""


def _present(path: str) -> bool:
    """Whether path is there (a symlink counts as itself, dangling or not)."""
    return os.path.lexists(path)


def _relocked(spec: AssetSpec, old: Installed, entry: Entry) -> str:
    """Why the lock's entry is not what the layer holds, or ''."""
    if entry.resolved_tag != old.resolved_tag:
        return (
            f"the lock now says {spec.repo} {entry.resolved_tag} "
            f"(the layer holds {old.resolved_tag})"
        )
    if entry.name != old.asset:
        return f"the lock now says {entry.name} (the layer holds {old.asset})"
    if entry.checksum != Checksum(old.sha256):
        return (
            f"the lock now says sha256:{entry.sha256} for {entry.name} "
            f"(the layer holds sha256:{old.sha256})"
        )
    return ""


def _upstream_change(spec: AssetSpec, old: Installed, now: ResolvedAsset) -> str:
    """Why what `latest` resolves to now is not what the layer holds, or ''."""
    if now.tag != old.resolved_tag:
        return f"latest release of {spec.repo} is now {now.tag} (was {old.resolved_tag})"
    digest = Checksum.parse(now.digest) if now.digest else None
    replaced = now.asset_id != old.asset_id and 0 not in (now.asset_id, old.asset_id)
    if replaced or digest not in (None, Checksum(old.sha256)):
        return f"asset {now.name} was replaced upstream"
    return ""


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """'<field> changed (<old> -> <new>)' for each wanted field that differs, in key order."""
    return [
        f"{key} changed ({_show(old.get(key))} -> {_show(new.get(key))})"
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    ]


def _show(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {_show(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, str) and value and not value.isspace():
        return value
    return repr(value)


def metadata(target: Target, assets: Sequence[Installed]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema": METADATA_SCHEMA,
        "buildpack_version": __version__,
        "target": str(target),
        "assets": [a.to_toml() for a in assets],
    }
    on_path = layerpath.dirs(e for a in assets for e in a.executables)
    if on_path:  # what env/PATH.prepend puts on PATH: a rebuild without the dir sees it here
        data["path"] = list(on_path)
    return data
