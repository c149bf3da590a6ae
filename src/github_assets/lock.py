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
    [assets.provenance]      # when the entry has `provenance`: what verified it
    files = { "checksums.txt.minisig" = "...", ... }   # signature/bundle/checksum files
    attestation = "..."      # the GitHub attestation's bundle (JSON) that held
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import redact
from .config import LOCK_FILE
from .errors import ConfigError
from .names import is_asset_name, is_tag
from .record import Record
from .verify import LOCKED, TOFU, Checksum, Claim, Kind

if TYPE_CHECKING:
    from .config import AssetSpec
    from .platform import Target

NAME = LOCK_FILE
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
    "provenance",
)


class Entry(Record):
    picks: tuple[tuple[str, Any], ...]
    """The config keys that pick the asset, as (key, value) pairs (set ones only)."""
    target: str
    resolved_tag: str
    name: str
    size: int
    sha256: str
    authority: str
    checksums_file: str = ""
    provenance: Mapping[str, Any] = {}
    """What verified the entry's provenance (provenance.proofs.Carried's table): the
    signature, bundle and checksum files and the attestation, so a build checks them again
    without a request."""

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
        if self.provenance:
            table["provenance"] = dict(self.provenance)
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
    """spec's picking keys as the lock file holds them: redacted (an api_url's userinfo is
    never written), so what the file says and what the config says compare equal."""
    meta = spec.to_metadata()
    return tuple((k, redact.value(meta[k])) for k in _PICKS if k in meta)


class Lock(Record):
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


def read(path: str, shown: str, root: str | None = None) -> Lock | None:
    """The lock at path, None when there is none; a ConfigError naming the file and the
    key when it is not one (never a traceback). root: the app dir, the only place a lock
    is read from (a symlink out of it is an error)."""
    if not os.path.lexists(path):
        return None
    if root is not None:
        real, inside = os.path.realpath(path), os.path.realpath(root)
        if os.path.commonpath([inside, real]) != inside:
            raise ConfigError(
                f"{shown} is a symlink that leads outside the app dir",
                hint="put the lock file itself in the app dir (nothing outside it is read)",
            )
    from .tomlfile import load

    data = load(path, shown)
    version = data.get("version")
    if type(version) is not int or version != VERSION:
        said = "has no 'version'" if version is None else f"has version {version!r}"
        raise ConfigError(
            f"{shown} {said}; this buildpack reads version {VERSION}",
            hint="re-run github-assets lock with this buildpack's version",
        )
    assets = data.get("assets", [])
    if not isinstance(assets, list):
        raise ConfigError(f"{shown}: 'assets' must be an array of tables ([[assets]])", hint=_FIX)
    return Lock(path, tuple(_entry(raw, f"{shown}: [[assets]] #{i}") for i, raw in
                            enumerate(assets, 1)))  # fmt: skip


_FIX = "fix it, or delete it and run github-assets lock"
_TYPES = {str: "a string", int: "an integer", dict: "a table", list: "an array"}


def _field(raw: Mapping[str, Any], key: str, kind: type, where: str, required: bool = True) -> Any:
    if key not in raw:
        if required:
            raise ConfigError(f"{where} has no '{key}'", hint=_FIX)
        return None
    value = raw[key]
    if type(value) is not kind:  # exactly: a bool is no integer here, nor a float (inf)
        got = _TYPES.get(type(value), f"a {type(value).__name__}")
        raise ConfigError(f"{where}: '{key}' must be {_TYPES[kind]}, got {got}", hint=_FIX)
    return value


def _entry(raw: object, where: str) -> Entry:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} is not a table", hint=_FIX)
    for key in ("repo", "asset", "tag", "version_prefix", "api_url"):
        _field(raw, key, str, where, required=key in ("repo", "tag"))  # no asset: chosen
    replacements = _field(raw, "replacements", dict, where, required=False) or {}
    if not all(isinstance(v, str) for v in replacements.values()):
        raise ConfigError(f"{where}: 'replacements' must map names to strings", hint=_FIX)
    target = _field(raw, "target", str, where)
    if target.count("/") != 1 or not all(target.split("/")):
        raise ConfigError(f"{where}: 'target' must be os/arch, got {target!r}", hint=_FIX)
    size = _field(raw, "size", int, where)
    if size < 0:
        raise ConfigError(f"{where}: 'size' must not be negative, got {size}", hint=_FIX)
    sha = Checksum.parse(_field(raw, "sha256", str, where))
    if sha is None or sha.algo != "sha256":
        raise ConfigError(
            f"{where}: 'sha256' is not a sha256 ({raw['sha256']!r})",
            hint="give 64 hex digits, optionally prefixed 'sha256:'; " + _FIX,
        )
    authority = _field(raw, "authority", str, where)
    if authority not in AUTHORITIES:
        raise ConfigError(
            f"{where}: 'authority' must be one of {', '.join(AUTHORITIES)}, got {authority!r}",
            hint=_FIX,
        )
    # The lock is app source, read before any byte is checked: its tag and name reach the
    # log, URLs and (an asset chosen by selection) the installed file's name, so they must
    # be what GitHub could have given: a tag, a release asset's plain file name.
    resolved_tag = _field(raw, "resolved_tag", str, where)
    if not is_tag(resolved_tag):
        raise ConfigError(f"{where}: 'resolved_tag' is not a tag, got {resolved_tag!r}", hint=_FIX)
    name = _field(raw, "name", str, where)
    if not is_asset_name(name):
        raise ConfigError(
            f"{where}: 'name' is not a release asset's file name, got {name!r}", hint=_FIX
        )
    return Entry(
        picks=tuple((k, raw[k]) for k in _PICKS if k in raw),
        target=target,
        resolved_tag=resolved_tag,
        name=name,
        size=size,
        sha256=sha.hex,  # one spelling: upper case or "sha256:" compare equal
        authority=authority,
        checksums_file=_field(raw, "checksums_file", str, where, required=False) or "",
        provenance=_provenance(raw.get("provenance", {})),
    )


def _provenance(table: object) -> Mapping[str, Any]:
    """The entry's provenance table, checked as the build will read it (ValueError)."""
    if not table:
        return {}
    from .provenance.proofs import Carried

    return Carried.from_table(table).to_table()


HEADER = (
    f"# {NAME}: the exact release assets of the [[metadata.githubassets]] entries beside it.\n"
    "# Written by `github-assets lock`; commit it. Builds use it instead of the GitHub API.\n"
)


def document(entries: Sequence[Entry]) -> dict[str, Any]:
    """The lock file's data: sorted and stable, so a re-lock of the same assets is no diff."""
    tables = []
    for entry in sorted(entries, key=lambda e: e.key):
        table = redact.value(entry.as_table())  # as tomlfile.write would: the text is the file
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
