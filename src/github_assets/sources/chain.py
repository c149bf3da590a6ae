"""Where an asset's bytes come from, in the contract's order, with the GitHub API last:

1. the offline package: `<buildpack>/dependencies/<sha256>/<asset name>`;
2. a `dependency-mapping` binding: a file named by the sha256, holding a file:// or
   https:// URI;
3. a mirror: `BP_DEPENDENCY_MIRROR_<HOST>`, `BP_DEPENDENCY_MIRROR`, or a
   `dependency-mirror` binding (key: the host, or `default`); `{originalHost}` in it
   stands for github.com (or the GitHub Enterprise host);
4. a direct download, `{server}/<owner>/<repo>/releases/download/<tag>/<asset>`, with no
   token and no API call; a 404 there falls back to the API, logged;
5. the GitHub API (sources/github.py).

1-4 need the sha256 before the download (a pin or the lock); 4 also that the entry
names no `token_env`. None but the API host ever receives a token. The lock, when it
has the asset, resolves it without the API too; a failure of a source other than the
API is an error naming that source, never papered over.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import quote, unquote, urlsplit

from .. import redact
from ..errors import ConfigError, DownloadError
from ..log import Log
from ..parallel import check
from ..platform import Target, render
from . import DEFAULT_API, Received, ResolvedAsset, Sink
from .http import Download, Http, NotFound, netloc

if TYPE_CHECKING:
    from ..config import AssetSpec
    from ..lock import Lock
    from .github import GitHubSource

MAPPING = "dependency-mapping"
MIRROR = "dependency-mirror"


class Origins(NamedTuple):
    """The sources besides GitHub that the platform and the buildpack offer."""

    offline: Path | None
    """<buildpack>/dependencies, when the buildpack is an offline package."""
    mappings: Mapping[str, tuple[str, str]]
    """sha256 -> (binding name, URI), from dependency-mapping bindings."""
    mirrors: Mapping[str, tuple[str, str]]
    """host (or "default") -> (how it was given, base URL): env first, then bindings."""
    server: str
    """GITHUB_SERVER_URL, or "" (derived from each asset's API base)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str], platform_dir: Path, buildpack_dir: Path) -> Origins:
        mappings: dict[str, tuple[str, str]] = {}
        mirrors: dict[str, tuple[str, str]] = {}
        root = Path(env.get("SERVICE_BINDING_ROOT") or platform_dir / "bindings")
        for binding in sorted(root.iterdir()) if root.is_dir() else ():
            kind = _read(binding / "type")
            for entry in sorted(binding.iterdir()) if kind in (MAPPING, MIRROR) else ():
                if entry.name == "type" or not entry.is_file():
                    continue
                value = _read(entry)
                # A binding's contents are secrets: every output shows the binding's name.
                redact.url(value, f"{kind} binding {binding.name}")
                if kind == MAPPING:
                    mappings[entry.name.lower()] = (binding.name, value)
                else:
                    mirrors.setdefault(entry.name.lower(), (f"binding {binding.name}", value))
        for key, value in env.items():
            if key == "BP_DEPENDENCY_MIRROR" and value.strip():
                redact.url(value)
                mirrors["default"] = (key, value.strip())
            elif key.startswith("BP_DEPENDENCY_MIRROR_") and value.strip():
                redact.url(value)
                host = key.removeprefix("BP_DEPENDENCY_MIRROR_").lower()
                mirrors[f"env:{host}"] = (key, value.strip())
        offline = buildpack_dir / "dependencies"
        return cls(
            offline=offline if offline.is_dir() else None,
            mappings=mappings,
            mirrors=mirrors,
            server=env.get("GITHUB_SERVER_URL", "").strip().rstrip("/"),
        )

    def mirror_for(self, host: str) -> tuple[str, str] | None:
        """BP_DEPENDENCY_MIRROR_<HOST>, else BP_DEPENDENCY_MIRROR, else a binding's."""
        env_key = "".join(c if c.isalnum() else "_" for c in host).lower()
        for key in (f"env:{env_key}", "default"):
            if key in self.mirrors and self.mirrors[key][0].startswith("BP_"):
                return self.mirrors[key]
        return self.mirrors.get(host.lower()) or self.mirrors.get("default")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def server_url(api_url: str, origins: Origins) -> str:
    """The web base of direct downloads: GITHUB_SERVER_URL, else derived from the API base."""
    if origins.server:
        return origins.server
    if api_url.rstrip("/") == DEFAULT_API:
        return "https://github.com"
    if api_url.rstrip("/").endswith("/api/v3"):
        return api_url.rstrip("/").removesuffix("/api/v3")
    return api_url.rstrip("/")


class NotThere(Exception):
    """A direct download answered 404: the API knows better (private repo, renamed asset)."""


class Way(NamedTuple):
    """One place to fetch an asset's bytes from."""

    label: str
    """How the log names it: "the offline package", "mirror https://...", ..."""
    url: str
    """file:// or http(s)://"""
    fallback: bool = False
    """A 404 here means: ask the GitHub API (direct downloads only)."""


class Chain:
    """The sources of one asset (one config entry), as the Source protocol."""

    def __init__(
        self,
        spec: AssetSpec,
        api: GitHubSource,
        http: Http,
        origins: Origins,
        lock: Lock | None,
        *,
        own: bool,
    ) -> None:
        self.spec = spec
        self.api = api
        self.http = http
        self.origins = origins
        self.lock = lock
        self.own = own
        self.name = api.name
        self.secrets = api.secrets

    # -- resolving ---------------------------------------------------------------------------

    def resolve(
        self,
        spec: AssetSpec,
        target: Target,
        *,
        log: Log,
        cancel: threading.Event | None,
        etag: str = "",
    ) -> ResolvedAsset:
        """From the lock, else (pinned tag and sha256) from the config, else the API."""
        pin = spec.pin_for(target.arch)
        resolved = self._resolve(spec, target, log, cancel, etag)
        return resolved._replace(pinned=pin.hex if pin else "")

    def _resolve(
        self, spec: AssetSpec, target: Target, log: Log, cancel: threading.Event | None, etag: str
    ) -> ResolvedAsset:
        lock = self.lock
        entry = lock.find(spec, target) if lock is not None else None
        if lock is not None and entry is not None:
            log.debug(f"resolved from {os.path.basename(lock.path)}")
            return self._known(spec, entry.resolved_tag, entry.name, entry.size)._replace(
                locked=entry.sha256, locked_by=entry.authority
            )
        if lock is not None and self.own:
            raise ConfigError(
                f"{os.path.basename(lock.path)} has no entry for {spec.repo} {spec.asset} "
                f"on {target}",
                hint="re-run github-assets lock (the config changed since it was written)",
            )
        explicit = spec.checksums not in ("auto", False) and spec.token_env is None
        if spec.tag != "latest" and (spec.pin_for(target.arch) is not None or explicit):
            name = render(
                spec.asset, target, spec.tag, spec.replacement_map, prefix=spec.version_prefix
            )
            return self._known(spec, spec.tag, name, -1)
        return self.api.resolve(spec, target, log=log, cancel=cancel, etag=etag)

    def _known(self, spec: AssetSpec, tag: str, name: str, size: int) -> ResolvedAsset:
        base = server_url(self.api.api_url, self.origins)
        return ResolvedAsset(
            repo=spec.repo,
            tag=tag,
            name=name,
            size=size,
            asset_id=0,
            digest=None,
            release_url=f"{base}/{spec.repo}/releases/tag/{quote(tag, safe='')}",
            url="",
        )

    # -- fetching ----------------------------------------------------------------------------

    def ways(self, asset: ResolvedAsset) -> list[Way]:
        """Where the bytes may come from, first choice first (the API is not listed)."""
        sha = asset.locked or asset.pinned or asset.known
        out = []
        if sha or asset.checksum_file:
            if self.origins.offline is not None and sha:
                path = self.origins.offline / sha / asset.name
                if path.is_file():
                    out.append(Way("the offline package", path.as_uri()))
            if sha and sha in self.origins.mappings:
                binding, uri = self.origins.mappings[sha]
                out.append(Way(f"{MAPPING} binding {binding}", uri))
            host = netloc(server_url(self.api.api_url, self.origins))
            mirror = self.origins.mirror_for(_hostname(host))
            if mirror is not None:
                given, base = mirror
                base = base.replace("{originalHost}", _hostname(host)).rstrip("/")
                if given.startswith("binding "):
                    shown = f"{MIRROR} {given}"
                    redact.url(base, shown)  # as used, {originalHost} filled in
                else:
                    shown = f"mirror {_shown(base)} ({given})"
                out.append(Way(shown, base + self._path(asset)))
            if self.spec.token_env is None:
                server = server_url(self.api.api_url, self.origins)
                out.append(Way(f"{netloc(server)} (direct)", server + self._path(asset), True))
        return out

    def _path(self, asset: ResolvedAsset) -> str:
        return (
            f"/{self.spec.repo}/releases/download/{quote(asset.tag, safe='/')}/"
            f"{quote(asset.name, safe='')}"
        )

    def origin(self, asset: ResolvedAsset) -> str:
        ways = self.ways(asset)
        return ways[0].label if ways else self.api.origin(asset)

    def fetch(
        self,
        asset: ResolvedAsset,
        sink: Sink,
        *,
        algorithms: frozenset[str],
        log: Log,
        cancel: threading.Event | None,
        decoded: bool = False,
    ) -> Received:
        ways = self.ways(asset)
        offered = self.origins.offline or self.origins.mappings or self.origins.mirrors
        if not ways and offered and not asset.checksum_file:
            log.action(
                f"Skipping the offline package, bindings and mirrors: the sha256 of {asset.name} "
                "is not known before the download (pin it, or run github-assets lock)"
            )
        for way in ways:
            self.name = way.label
            try:
                return self._fetch_from(way, asset, sink, algorithms, log, cancel, decoded)
            except NotThere:
                log.action(f"Not found at {way.label} (HTTP 404); asking the GitHub API")
        self.name = self.api.name
        if not asset.url:  # resolved without the API (lock, pins): it knows the asset's URL
            release = self.api.client(log, cancel).release(self.spec.repo, asset.tag)
            found = release.find(asset.name)
            if found is None:
                names = ", ".join(sorted(a.name for a in release.assets)) or "none"
                if asset.checksum_file:
                    raise DownloadError(
                        f"'checksums' names {asset.name}, which is not an asset of release "
                        f"{asset.tag}",
                        hint="set 'checksums' to one of the assets listed, or to false",
                        details=f"assets: {names}",
                    )
                raise DownloadError(
                    f"release {asset.tag} of {self.spec.repo} has no asset {asset.name!r}",
                    hint="re-run github-assets lock, or check 'tag' and 'asset'",
                    details=f"assets: {names}",
                )
            asset = asset._replace(url=found.url, size=found.size, asset_id=found.id)
        return self.api.fetch(
            asset, sink, algorithms=algorithms, log=log, cancel=cancel, decoded=decoded
        )

    def _fetch_from(
        self,
        way: Way,
        asset: ResolvedAsset,
        sink: Sink,
        algorithms: frozenset[str],
        log: Log,
        cancel: threading.Event | None,
        decoded: bool,
    ) -> Received:
        scheme = urlsplit(way.url).scheme
        if scheme == "file":
            return read_file(Path(unquote(urlsplit(way.url).path)), way.label, asset, sink,
                             algorithms, cancel)  # fmt: skip
        if scheme not in ("http", "https"):
            raise DownloadError(
                f"{way.label} gives {_shown(way.url)}, which is neither file:// nor https://",
                hint="fix the mirror or binding",
            )
        try:
            return self.http.download(
                Download(
                    name=asset.name,
                    url=way.url,
                    size=asset.size,
                    sink=sink,
                    log=log,
                    cancel=cancel,
                    algorithms=algorithms,
                    issuer=way.label,
                    decode=decoded,
                )
            )
        except NotFound as e:
            if way.fallback:
                raise NotThere from e
            raise DownloadError(f"{e.message} (from {way.label})", hint=e.hint) from e
        except DownloadError as e:
            raise DownloadError(f"{e.message} (from {way.label})", hint=e.hint) from e


def read_file(
    path: Path,
    label: str,
    asset: ResolvedAsset,
    sink: Sink,
    algorithms: frozenset[str],
    cancel: threading.Event | None,
) -> Received:
    """An asset from a local file (offline package, file:// mirror or binding), hashed."""
    import hashlib

    hashers = {a: hashlib.new(a) for a in sorted(algorithms)}
    written = 0
    try:
        file = path.open("rb")
    except FileNotFoundError as e:
        raise DownloadError(
            f"{label} has no file {path} for {asset.name}",
            hint="add it there, or remove the mirror or binding",
        ) from e
    except OSError as e:
        raise _unreadable(label, path, asset, e) from e
    with file:
        while True:
            check(cancel)
            buf = sink.buffer()
            try:  # only the source's read: a write of the unpack is the sink's own error
                n = file.readinto(buf)
            except OSError as e:
                raise _unreadable(label, path, asset, e) from e
            if not n:
                break
            for hasher in hashers.values():
                hasher.update(buf[:n])
            sink.commit(n)
            written += n
    return Received(written, {a: h.hexdigest() for a, h in hashers.items()})


def _unreadable(label: str, path: Path, asset: ResolvedAsset, e: OSError) -> DownloadError:
    """The source's file cannot be read: say so, naming it (never advice about writing)."""
    if isinstance(e, IsADirectoryError):
        return DownloadError(
            f"{label} has a directory at {path}, where the file {asset.name} should be",
            hint="put the asset's file there, or fix the mirror or binding",
        )
    return DownloadError(
        f"{label}: cannot read {path} for {asset.name}: {e.strerror or e}",
        hint="make it readable for the build user, or fix the mirror or binding",
    )


def _hostname(host: str) -> str:
    return host.rsplit("@", 1)[-1].split(":", 1)[0]


def _shown(url: str) -> str:
    """A URL for the log: no credentials, no query."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{host}{parts.path}"
