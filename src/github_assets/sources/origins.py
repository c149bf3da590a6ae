"""The places besides the GitHub API that may serve an asset's bytes, and the one rule of
which of them may be trusted with which evidence.

In the contract's order:

1. the offline package: `<buildpack>/dependencies/<sha256>/<asset name>`;
2. a `dependency-mapping` binding: a file named by the sha256, holding a file:// or
   https:// URI;
3. a mirror: `BP_DEPENDENCY_MIRROR_<HOST>`, `BP_DEPENDENCY_MIRROR`, or a
   `dependency-mirror` binding (key: the host, or `default`); `{originalHost}` in it
   stands for github.com (or the GitHub Enterprise host);
4. a direct download, `{server}/<owner>/<repo>/releases/download/<tag>/<asset>`, with no
   token and no API call; a 404 there falls back to the API, logged.

The rule (places): 1-3 need a sha256 known before the download from a pin or the lock
(verify.Kind.before_download), because nothing else can tell their bytes from forged
ones; no place vouches for its own bytes, so a checksum file is never fetched from them.
4, GitHub's own web host, may also serve an asset whose only sha256 comes from a checksum
file (itself fetched from GitHub: directly, or through the API), and the checksum file
itself. Only the API host ever receives a token. A new place of this kind is one more
branch of places() and its settings in Origins; fetching it is transport.py's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import quote, urlsplit

from . import DEFAULT_API

if TYPE_CHECKING:
    from ..config import AssetSpec
    from ..verify import Expected
    from . import ResolvedAsset

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
                if kind == MAPPING:
                    mappings[entry.name.lower()] = (binding.name, value)
                else:
                    mirrors.setdefault(entry.name.lower(), (f"binding {binding.name}", value))
        for key, value in env.items():
            if key == "BP_DEPENDENCY_MIRROR" and value.strip():
                mirrors["default"] = (key, value.strip())
            elif key.startswith("BP_DEPENDENCY_MIRROR_") and value.strip():
                host = key.removeprefix("BP_DEPENDENCY_MIRROR_").lower()
                mirrors[f"env:{host}"] = (key, value.strip())
        offline = buildpack_dir / "dependencies"
        return cls(
            offline=offline if offline.is_dir() else None,
            mappings=mappings,
            mirrors=mirrors,
            server=env.get("GITHUB_SERVER_URL", "").strip().rstrip("/"),
        )

    @property
    def any(self) -> bool:
        """Whether the platform or the buildpack offers any place of 1-3."""
        return bool(self.offline or self.mappings or self.mirrors)

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


class Location(NamedTuple):
    """One place to fetch an asset's bytes from."""

    label: str
    """How the log names it: "the offline package", "mirror https://...", ..."""
    url: str
    """file:// or http(s)://"""
    github: bool = False
    """GitHub's own web host (a direct download): a 404 there means ask the GitHub API."""


def places(
    spec: AssetSpec, asset: ResolvedAsset, expected: Expected, origins: Origins, web: str
) -> list[Location]:
    """Where asset's bytes may come from, first choice first (the API is not listed): the
    one rule of which place may be trusted with which evidence (see the module's text).

    web: the GitHub web base of direct downloads (server_url).
    """
    sha = expected.known_sha256(before_download=True)
    out = []
    if sha:
        if origins.offline is not None:
            path = origins.offline / sha / asset.name
            if path.is_file():
                out.append(Location("the offline package", path.as_uri()))
        if sha in origins.mappings:
            binding, uri = origins.mappings[sha]
            out.append(Location(f"binding {binding}", uri))
        host = hostname(netloc(web))
        mirror = origins.mirror_for(host)
        if mirror is not None:
            given, base = mirror
            base = base.replace("{originalHost}", host).rstrip("/")
            out.append(Location(f"mirror {shown(base)} ({given})", base + download_path(asset)))
    # Resolved without the API (a lock, pins, a named checksum file): a checksum file, and
    # an asset it vouches for, come from GitHub's web host, never from 1-3.
    from_github = not asset.asset_id and (expected.claims or expected.evidence)
    if (sha or from_github) and spec.token_env is None:
        out.append(Location(f"{netloc(web)} (direct)", web + download_path(asset), github=True))
    return out


def download_path(asset: ResolvedAsset) -> str:
    """/<owner>/<repo>/releases/download/<tag>/<asset>, as GitHub's web host serves it."""
    return (
        f"/{asset.repo}/releases/download/{quote(asset.tag, safe='/')}/{quote(asset.name, safe='')}"
    )


def netloc(url: str) -> str:
    """The host[:port] of url, '' when no parser accepts it (then no token goes there)."""
    try:
        return urlsplit(url).netloc
    except ValueError:
        return ""


def hostname(host: str) -> str:
    return host.rsplit("@", 1)[-1].split(":", 1)[0]


def shown(url: str) -> str:
    """A URL for the log: no credentials, no query."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{host}{parts.path}"
