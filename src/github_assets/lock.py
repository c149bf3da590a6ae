"""The lock file, `github-assets.lock` beside the config: per asset and target, the exact
release asset and its sha256, so a build needs no GitHub API (and `latest` stays put
until re-locked). Written by `github-assets lock`, read by the build.

Format (TOML, sorted by repo, asset, tag, target; stable byte for byte):

    version = 1

    [[assets]]
    repo = "grpc-ecosystem/grpc-health-probe"   # the entry's keys that pick the asset:
    asset = "grpc_health_probe-{os}-{arch}"     # repo, asset, tag, and when set
    tag = "latest"                              # version_prefix, replacements, api_url
    target = "linux/amd64"
    resolved_tag = "v0.4.40"
    name = "grpc_health_probe-linux-amd64"
    size = 12345678
    sha256 = "<64 hex>"
    authority = "digest"     # or "checksums file" (checksums_file names it), or
                             # "downloaded": trust on first use, hashed by `lock` itself
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import ConfigError
from .verify import LOCKED, TOFU, Checksum, Claim, Kind

if TYPE_CHECKING:
    from .config import AssetSpec
    from .platform import Target

NAME = "github-assets.lock"
VERSION = 1
DIGEST = "digest"
CHECKSUMS_FILE = "checksums file"
DOWNLOADED = "downloaded"
AUTHORITIES = (DIGEST, CHECKSUMS_FILE, DOWNLOADED)
DEFAULT_TARGETS = ("linux/amd64", "linux/arm64")
_PICKS = ("repo", "asset", "tag", "version_prefix", "replacements", "api_url")
"""The config keys that decide which release asset an entry means."""
_ORDER = (
    *_PICKS,
    "target",
    "resolved_tag",
    "name",
    "size",
    "sha256",
    "authority",
    "checksums_file",
)


class Entry(NamedTuple):
    picks: tuple[tuple[str, Any], ...]
    """The config keys that pick the asset, as (key, value) pairs (set ones only)."""
    target: str
    resolved_tag: str
    name: str
    size: int
    sha256: str
    authority: str
    checksums_file: str = ""

    @property
    def checksum(self) -> Checksum:
        return Checksum(self.sha256)

    @property
    def claim(self) -> Claim:
        """The lock's word on the asset: trusted, unless `lock` hashed a download itself."""
        return Claim(self.checksum, TOFU if self.authority == DOWNLOADED else LOCKED)

    @property
    def key(self) -> str:
        """Which entry and target this is, as one hashable string."""
        return json.dumps([self.picks, self.target], sort_keys=True)

    def as_table(self) -> dict[str, Any]:
        table = dict(self.picks)
        table.update(
            target=self.target,
            resolved_tag=self.resolved_tag,
            name=self.name,
            size=self.size,
            sha256=self.sha256,
            authority=self.authority,
        )
        if self.checksums_file:
            table["checksums_file"] = self.checksums_file
        return table


def authority_of(claims: Sequence[Claim]) -> tuple[str, str, Checksum] | None:
    """Who the lock names as the authority of an asset's sha256, among the claims a
    resolve gave: (authority, checksums_file, checksum) of GitHub's digest, else of the
    checksum file; None when neither gives a sha256 (then `lock` hashes the download)."""
    for kind, authority in ((Kind.DIGEST, DIGEST), (Kind.CHECKSUM_FILE, CHECKSUMS_FILE)):
        for claim in claims:
            if claim.authority.kind is kind and claim.checksum.algo == "sha256":
                file = claim.authority.name if kind is Kind.CHECKSUM_FILE else ""
                return authority, file, claim.checksum
    return None


def picks(spec: AssetSpec) -> tuple[tuple[str, Any], ...]:
    meta = spec.to_metadata()
    return tuple((k, meta[k]) for k in _PICKS if k in meta)


class Lock(NamedTuple):
    path: str
    entries: tuple[Entry, ...]

    def find(self, spec: AssetSpec, target: Target) -> Entry | None:
        """The entry for spec on target, when one has the same picking keys."""
        want = picks(spec)
        for entry in self.entries:
            if entry.target == str(target) and entry.picks == want:
                return entry
        return None


def path_for(config_path: str) -> str:
    return os.path.join(os.path.dirname(config_path), NAME)


def read(path: str, shown: str) -> Lock | None:
    """The lock at path, None when there is none; a ConfigError when it is not one."""
    if not os.path.exists(path):
        return None
    from .tomlfile import load

    data = load(path, shown)
    if data.get("version") != VERSION:
        raise ConfigError(
            f"{shown}: version {data.get('version')!r} is not {VERSION}",
            hint="re-run github-assets lock with this buildpack's version",
        )
    entries = []
    for i, raw in enumerate(data.get("assets", []), 1):
        try:
            entries.append(_entry(raw))
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(
                f"{shown}: [[assets]] #{i} is incomplete or malformed ({e})",
                hint="re-run github-assets lock",
            ) from e
    return Lock(path, tuple(entries))


def _entry(raw: Mapping[str, Any]) -> Entry:
    sha = str(raw["sha256"])
    if Checksum.parse(sha) is None or raw["authority"] not in AUTHORITIES:
        raise ValueError("bad sha256 or authority")
    return Entry(
        picks=tuple((k, raw[k]) for k in _PICKS if k in raw),
        target=str(raw["target"]),
        resolved_tag=str(raw["resolved_tag"]),
        name=str(raw["name"]),
        size=int(raw["size"]),
        sha256=sha,
        authority=str(raw["authority"]),
        checksums_file=str(raw.get("checksums_file", "")),
    )


HEADER = (
    f"# {NAME}: the exact release assets of the [[metadata.githubassets]] entries beside it.\n"
    "# Written by `github-assets lock`; commit it. Builds use it instead of the GitHub API.\n"
)


def document(entries: Sequence[Entry]) -> dict[str, Any]:
    """The lock file's data: sorted and stable, so a re-lock of the same assets is no diff."""
    tables = []
    for entry in sorted(entries, key=lambda e: e.key):
        table = entry.as_table()
        tables.append({key: _sorted(table[key]) for key in _ORDER if key in table})
    return {"version": VERSION, "assets": tables}


def render(entries: Sequence[Entry]) -> str:
    """The lock file's text, as tomlfile (the one TOML writer: any Unicode name round-trips)."""
    from .tomlfile import dumps

    return HEADER + dumps(document(entries))


def write(path: str, entries: Sequence[Entry]) -> None:
    """The lock file at path, written atomically."""
    from pathlib import Path

    from .tomlfile import write

    write(Path(path), document(entries), header=HEADER)


def _sorted(value: Any) -> Any:
    """Inline tables (replacements) in key order, so the text does not depend on the config's."""
    if isinstance(value, Mapping):
        return {k: _sorted(value[k]) for k in sorted(value)}
    return value
