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
   token and no API call; a 404 there falls back to the API, logged. An asset the API
   resolved without a token (a public repo) comes from the `browser_download_url` the
   release gave, whatever the evidence: one API request per release, not one per file.

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
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from .. import bindings, redact
from ..record import Record
from . import DEFAULT_API

if TYPE_CHECKING:
    from ..config import AssetSpec
    from ..verify import Expected
    from . import ResolvedAsset


class Origins(Record):
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
    def from_env(
        cls, env: Mapping[str, str], platform_dir: Path, buildpack_dir: Path | None
    ) -> Origins:
        """buildpack_dir None: not run from a buildpack (a pip-installed command), so no
        offline package."""
        mappings: dict[str, tuple[str, str]] = {}
        mirrors: dict[str, tuple[str, str]] = {}
        bound = bindings.read(env, platform_dir)
        for binding in bindings.of_type(bound, bindings.DEPENDENCY_MAPPING):
            for key in binding.keys:
                value = binding.value(key)
                # A binding's contents are secrets: every output shows the binding's name.
                redact.url(value, f"{bindings.DEPENDENCY_MAPPING} binding {binding.name}")
                mappings[key.lower()] = (binding.name, value)
        for binding in bindings.of_type(bound, bindings.DEPENDENCY_MIRROR):
            for key in binding.keys:
                value = binding.value(key)
                redact.url(value, f"{bindings.DEPENDENCY_MIRROR} binding {binding.name}")
                mirrors.setdefault(key.lower(), (f"binding {binding.name}", value))
        for key, value in env.items():
            if key == "BP_DEPENDENCY_MIRROR" and value.strip():
                redact.url(value)
                mirrors["default"] = (key, value.strip())
            elif key.startswith("BP_DEPENDENCY_MIRROR_") and value.strip():
                redact.url(value)
                host = key.removeprefix("BP_DEPENDENCY_MIRROR_").lower()
                mirrors[f"env:{host}"] = (key, value.strip())
        offline = buildpack_dir / "dependencies" if buildpack_dir is not None else None
        return cls(
            offline=offline if offline is not None and offline.is_dir() else None,
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
        for key in (*(f"env:{name}" for name in mirror_env_names(host)), "default"):
            if key in self.mirrors and self.mirrors[key][0].startswith("BP_"):
                return self.mirrors[key]
        return self.mirrors.get(host.lower()) or self.mirrors.get("default")


def mirror_env_names(host: str) -> tuple[str, ...]:
    """The <HOST> suffixes (lower case) of host's mirror variable: libpak's encoding first
    (`.` -> `_`, `-` -> `__`: github.my-corp.com -> GITHUB_MY__CORP_COM), as Paketo users
    write it, then 0.2.0's (`_` for every other character), so existing builds keep theirs."""
    libpak = host.lower().replace("-", "__").replace(".", "_")
    older = "".join(c if c.isalnum() else "_" for c in host.lower())
    return (libpak, older) if libpak != older else (libpak,)


def server_url(api_url: str, origins: Origins, *, own_api: bool = False) -> str:
    """The web base of direct downloads: GITHUB_SERVER_URL, else derived from the API base.

    own_api: the entry names its own api_url (GitHub Enterprise), whose web base is derived
    from it; GITHUB_SERVER_URL (github.com in Actions) is for entries without one."""
    if origins.server and not own_api:
        return origins.server
    if api_url.rstrip("/") == DEFAULT_API:
        return "https://github.com"
    if api_url.rstrip("/").endswith("/api/v3"):
        return api_url.rstrip("/").removesuffix("/api/v3")
    return api_url.rstrip("/")


class Location(Record):
    """One place to fetch an asset's bytes from."""

    label: str
    """How the log names it: "the offline package", "mirror https://...", ..."""
    url: str
    """file:// or http(s)://"""
    github: bool = False
    """GitHub's own web host (a direct download): a 404 there means ask the GitHub API."""
    given: str = ""
    """The variable that gave a mirror (BP_DEPENDENCY_MIRROR...): said at DEBUG, the label
    stays the contract's `mirror <url>`."""


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
            out.append(Location(f"{bindings.DEPENDENCY_MAPPING} binding {binding}", uri))
        host = hostname(netloc(web))
        mirror = origins.mirror_for(host)
        if mirror is not None:
            given, base = mirror
            base = base.replace("{originalHost}", host).rstrip("/")
            if given.startswith("binding "):
                label = f"{bindings.DEPENDENCY_MIRROR} {given}"
                redact.url(base, label)  # as used, {originalHost} filled in
                given = ""
            else:
                label = f"mirror {shown(base)}"
            out.append(Location(label, base + download_path(asset), given=given))
    # Resolved without the API (a lock, pins, a named checksum file): a checksum file, and
    # an asset it vouches for, come from GitHub's web host, never from 1-3.
    from_github = not asset.asset_id and (expected.claims or expected.evidence)
    if asset.public_url:
        # Resolved through the API without a token (a public repo): GitHub's web host at
        # the URL the release gave, whatever the evidence, and no second API request.
        url = asset.public_url
        out.append(Location(f"{server(url)} (direct)", url, github=True))
    elif (sha or from_github) and spec.token_env is None:
        out.append(Location(f"{server(web)} (direct)", web + download_path(asset), github=True))
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


def server(url: str) -> str:
    """scheme://host[:port] of url, as the log names a server: no credentials, no path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def shown(url: str) -> str:
    """A URL for the log: no credentials, no query."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{host}{parts.path}"
