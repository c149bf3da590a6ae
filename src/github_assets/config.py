"""Parse [[metadata.githubassets]] tables (project.toml or plan entries) into AssetSpec.

This is the boundary: past it nothing handles raw dicts. Detect runs it for
every app on a builder and must start faster than a bare `python3 -c pass`, so
it imports only cheap stdlib modules and toml: the value types are NamedTuples
(frozen, compared by value) rather than dataclasses, whose import pulls in
inspect and costs more than the rest of detect; paths go through os.path, not
pathlib.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    StrPath = str | os.PathLike[str]

from .errors import ConfigError
from .platform import check_template, executable_name

TABLE = "githubassets"
_REPO = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LAYER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_PROCESS = re.compile(r"^[A-Za-z0-9_.-]+$")
_RESERVED_LAYERS = frozenset({"build", "launch", "store"})

KEYS = (
    "repo",
    "asset",
    "tag",
    "token_env",
    "destination",
    "strip_components",
    "sha256",
    "replacements",
    "process",
    "args",
    "build",
    "layer",
    "link",
    "api_url",
)


class Checksum(NamedTuple):
    """A sha256 value, parsed once from 'hex' or 'sha256:hex'."""

    hex: str

    @classmethod
    def parse(cls, value: str) -> Checksum | None:
        """The checksum in value, or None when it is not a sha256."""
        text = value.strip().lower()
        if text.startswith("sha256:"):
            text = text[len("sha256:") :]
        return cls(text) if _HEX64.match(text) else None

    def __str__(self) -> str:
        return f"sha256:{self.hex}"


class AssetSpec(NamedTuple):
    """One asset to install, validated. Equality ignores `where` (where it was written)."""

    repo: str
    asset: str
    tag: str = "latest"
    token_env: str | None = None
    destination: str | None = None
    strip_components: int = 0
    sha256: Checksum | None = None
    sha256_by_arch: tuple[tuple[str, Checksum], ...] = ()
    replacements: tuple[tuple[str, str], ...] = ()
    process: str | None = None
    args: tuple[str, ...] = ()
    build: bool = False
    layer: str = ""
    link: str | None = None
    api_url: str | None = None
    where: str = ""

    def _identity(self) -> tuple[object, ...]:
        return tuple(self)[:-1]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AssetSpec) and self._identity() == other._identity()

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self._identity())

    @property
    def layer_name(self) -> str:
        """The layer this asset lands in: the override, else <owner>_<repo>."""
        return self.layer or self.repo.replace("/", "_")

    @property
    def name(self) -> str:
        """The executable name a raw asset installs as (see platform.executable_name)."""
        return executable_name(self.asset)

    @property
    def replacement_map(self) -> dict[str, str]:
        return dict(self.replacements)

    def pin_for(self, arch: str) -> Checksum | None:
        """The pinned checksum for this target arch; an arch table without it is an error."""
        if self.sha256 is not None:
            return self.sha256
        if not self.sha256_by_arch:
            return None
        table = dict(self.sha256_by_arch)
        if arch not in table:
            raise ConfigError(
                f"{self.where}: 'sha256' has no entry for the target arch {arch!r}",
                hint=f'add {arch} = "<hex>" to the sha256 table (it has {", ".join(table)})',
            )
        return table[arch]

    def to_metadata(self) -> dict[str, Any]:
        """The table form, as a plan entry's metadata (round-trips through parse_entry)."""
        out: dict[str, Any] = {"repo": self.repo, "asset": self.asset, "tag": self.tag}
        if self.token_env:
            out["token_env"] = self.token_env
        if self.destination is not None:
            out["destination"] = self.destination
        if self.strip_components:
            out["strip_components"] = self.strip_components
        if self.sha256 is not None:
            out["sha256"] = self.sha256.hex
        elif self.sha256_by_arch:
            out["sha256"] = {arch: c.hex for arch, c in self.sha256_by_arch}
        if self.replacements:
            out["replacements"] = dict(self.replacements)
        if self.process:
            out["process"] = self.process
        if self.args:
            out["args"] = list(self.args)
        if self.build:
            out["build"] = True
        if self.layer:
            out["layer"] = self.layer
        if self.link:
            out["link"] = self.link
        if self.api_url:
            out["api_url"] = self.api_url
        return out


def _type_name(value: object) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _relative_path(value: object, key: str, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: '{key}' must be a string path, got {_type_name(value)}")
    if not value.strip():
        raise ConfigError(f"{where}: '{key}' is empty", hint="give a path relative to the layer")
    if value.startswith("/") or value.startswith("\\") or re.match(r"^[A-Za-z]:", value):
        raise ConfigError(
            f"{where}: '{key}' must be a relative path, got absolute {value!r}",
            hint="paths are relative to the layer (destination) or the app dir (link)",
        )
    parts = value.replace("\\", "/").split("/")
    if ".." in parts:
        raise ConfigError(
            f"{where}: '{key}' must stay inside its directory, got {value!r} with '..'",
            hint="remove the '..' parts",
        )
    normal = posixpath.normpath(value.replace("\\", "/"))
    if normal == ".":
        return "." if key == "destination" else _fail_dot(key, where)
    return normal + ("/" if value.endswith("/") and key == "destination" else "")


def _fail_dot(key: str, where: str) -> str:
    raise ConfigError(f"{where}: '{key}' must name a file, got '.'")


def _string(value: object, key: str, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: '{key}' must be a string, got {_type_name(value)}")
    if not value.strip():
        raise ConfigError(f"{where}: '{key}' is empty")
    return value.strip()


def _checksum(value: object, where: str, key: str = "sha256") -> Checksum:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: '{key}' must be a hex string, got {_type_name(value)}")
    parsed = Checksum.parse(value)
    if parsed is None:
        raise ConfigError(
            f"{where}: '{key}' is not a sha256 ({value!r})",
            hint="give 64 hex digits, optionally prefixed 'sha256:'",
        )
    return parsed


def parse_entry(table: object, where: str) -> AssetSpec:
    """Validate one [[metadata.githubassets]] table (or plan entry metadata)."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: must be a table, got {_type_name(table)}")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key '{unknown[0]}'",
            hint=f"known keys are {', '.join(KEYS)}",
        )
    if "repo" not in table:
        raise ConfigError(f"{where}: missing required key 'repo'", hint='add repo = "owner/name"')
    repo = table["repo"]
    if not isinstance(repo, str):
        raise ConfigError(f"{where}: 'repo' must be a string, got {_type_name(repo)}")
    repo = repo.strip()
    if not _REPO.match(repo) or repo.split("/")[1] in (".", ".."):
        raise ConfigError(
            f"{where}: 'repo' must look like \"owner/name\", got {repo!r}",
            hint='for example repo = "grpc-ecosystem/grpc-health-probe"',
        )
    where = f"{where} (repo {repo})"
    if "asset" not in table:
        raise ConfigError(
            f"{where}: missing required key 'asset'",
            hint='name the release asset, e.g. asset = "grpc_health_probe-{os}-{arch}"',
        )
    asset = _string(table["asset"], "asset", where)
    if "/" in asset or "\\" in asset:
        raise ConfigError(f"{where}: 'asset' is a file name, not a path, got {asset!r}")
    check_template(asset, where)

    tag = _string(table.get("tag", "latest"), "tag", where)
    token_env = None
    if "token_env" in table:
        token_env = _string(table["token_env"], "token_env", where)
        if not _ENV_NAME.match(token_env):
            raise ConfigError(
                f"{where}: 'token_env' must be an environment variable name, got {token_env!r}"
            )

    destination = None
    if "destination" in table:
        destination = _relative_path(table["destination"], "destination", where)

    strip = table.get("strip_components", 0)
    if isinstance(strip, bool) or not isinstance(strip, int) or strip < 0:
        shown = (
            strip if isinstance(strip, int) and not isinstance(strip, bool) else _type_name(strip)
        )
        raise ConfigError(f"{where}: 'strip_components' must be an integer >= 0, got {shown}")

    sha256 = None
    by_arch: tuple[tuple[str, Checksum], ...] = ()
    if "sha256" in table:
        raw = table["sha256"]
        if isinstance(raw, Mapping):
            if not raw:
                raise ConfigError(f"{where}: 'sha256' table is empty")
            by_arch = tuple(
                sorted((str(k), _checksum(v, where, f"sha256.{k}")) for k, v in raw.items())
            )
        else:
            sha256 = _checksum(raw, where)

    replacements: tuple[tuple[str, str], ...] = ()
    if "replacements" in table:
        raw = table["replacements"]
        if not isinstance(raw, Mapping):
            raise ConfigError(
                f"{where}: 'replacements' must be a table, got {_type_name(raw)}",
                hint='e.g. replacements = { amd64 = "x86_64", arm64 = "aarch64" }',
            )
        for k, v in raw.items():
            if not isinstance(v, str):
                raise ConfigError(
                    f"{where}: 'replacements.{k}' must be a string, got {_type_name(v)}"
                )
        replacements = tuple(sorted((str(k), v) for k, v in raw.items()))

    process = None
    if "process" in table:
        process = _string(table["process"], "process", where)
        if not _PROCESS.match(process):
            raise ConfigError(
                f"{where}: 'process' must be a process type name (letters, digits, '.', '_', '-'),"
                f" got {process!r}"
            )
    args: tuple[str, ...] = ()
    if "args" in table:
        raw = table["args"]
        if not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
            raise ConfigError(f"{where}: 'args' must be an array of strings")
        args = tuple(raw)
        if args and not process:
            raise ConfigError(
                f"{where}: 'args' is set but 'process' is not", hint="args belong to a process"
            )

    build = table.get("build", False)
    if not isinstance(build, bool):
        raise ConfigError(f"{where}: 'build' must be true or false, got {_type_name(build)}")

    layer = ""
    if "layer" in table:
        layer = _string(table["layer"], "layer", where)
        if not _LAYER.match(layer) or layer in _RESERVED_LAYERS:
            raise ConfigError(
                f"{where}: 'layer' must be a plain name (letters, digits, '.', '_', '-'),"
                f" not build/launch/store, got {layer!r}"
            )

    link = None
    if "link" in table:
        link = _relative_path(table["link"], "link", where)

    api_url = None
    if "api_url" in table:
        api_url = _string(table["api_url"], "api_url", where)
        if not re.match(r"^https?://[^/\s]+", api_url):
            raise ConfigError(
                f"{where}: 'api_url' must be an http(s) URL, got {api_url!r}",
                hint="for GitHub Enterprise use https://HOST/api/v3",
            )
        api_url = api_url.rstrip("/")

    return AssetSpec(
        repo=repo,
        asset=asset,
        tag=tag,
        token_env=token_env,
        destination=destination,
        strip_components=strip,
        sha256=sha256,
        sha256_by_arch=by_arch,
        replacements=replacements,
        process=process,
        args=args,
        build=build,
        layer=layer,
        link=link,
        api_url=api_url,
        where=where,
    )


def _load_toml(path: str, shown: str) -> dict[str, Any]:
    from . import tomlfile

    return tomlfile.load(path, shown)


ENV_PATH = "GITHUB_ASSETS_PATH"
_SET_PATH = (
    f"set {ENV_PATH} to the config file's path relative to the app dir (e.g. ci/assets.toml)"
)


def config_path(app_dir: StrPath, env: Mapping[str, str]) -> tuple[str, str, bool]:
    """The config file, how to show it, and whether it was named explicitly.

    GITHUB_ASSETS_PATH must be relative and stay inside the app dir; bin/detect's sh path
    applies the same rules with the same messages.
    """
    override = env.get(ENV_PATH, "")
    if not override:
        return os.path.join(app_dir, "project.toml"), "project.toml", False
    named = f"{ENV_PATH} is '{override}'"
    if override.startswith("/"):
        raise ConfigError(f"{named}, an absolute path", hint=_SET_PATH)
    if ".." in override.split("/"):
        raise ConfigError(f"{named}, which leaves the app dir ('..')", hint=_SET_PATH)
    return os.path.join(app_dir, override), override, True


def load_project(app_dir: StrPath, env: Mapping[str, str]) -> list[AssetSpec]:
    """The assets configured for the app; [] when there is no config file or no table."""
    from . import tomlfile

    _, shown, explicit = config_path(app_dir, env)
    real, inside = tomlfile.locate(app_dir, shown)
    subject = f"{ENV_PATH} is '{shown}'," if explicit else f"{shown} is"
    if real is None:
        if explicit:
            raise ConfigError(
                f"{subject} which is not a file in the app dir",
                hint=f"{_SET_PATH}, or unset it to read project.toml",
            )
        return []
    if not inside:
        raise ConfigError(
            f"{subject} a symlink that leads outside the app dir",
            hint="put the file itself in the app dir (nothing outside it is read)",
        )
    return parse_project(_load_toml(real, shown), shown)


def load_config_file(app_dir: StrPath, relative: str) -> list[AssetSpec]:
    """Assets of a config file named by a plan entry (bin/detect's no-python path)."""
    from . import tomlfile

    if relative.startswith("/") or ".." in relative.split("/"):
        raise ConfigError(f"config_file {relative!r} must be a path inside the app dir")
    real, inside = tomlfile.locate(app_dir, relative)
    if real is None:
        raise ConfigError(f"{relative} is not a file in the app dir (named by detect)")
    if not inside:
        raise ConfigError(
            f"{relative} is a symlink that leads outside the app dir (named by detect)",
            hint="put the file itself in the app dir (nothing outside it is read)",
        )
    return parse_project(_load_toml(real, relative), relative)


def parse_project(data: Mapping[str, Any], shown: str) -> list[AssetSpec]:
    """Assets from a parsed project descriptor (schema 0.1 and 0.2)."""
    found: list[tuple[str, object]] = []
    meta = data.get("metadata")
    if isinstance(meta, Mapping) and TABLE in meta:
        found.append(("metadata", meta[TABLE]))
    under = data.get("_")
    if isinstance(under, Mapping):
        meta2 = under.get("metadata")
        if isinstance(meta2, Mapping) and TABLE in meta2:
            found.append(("_.metadata", meta2[TABLE]))
    if len(found) > 1:
        raise ConfigError(
            f"{shown}: both [[metadata.{TABLE}]] and [[_.metadata.{TABLE}]] are present",
            hint="keep one (schema 0.2 uses [[_.metadata.githubassets]])",
        )
    if not found:
        return []
    prefix, entries = found[0]
    if not isinstance(entries, list):
        raise ConfigError(
            f"{shown}: {prefix}.{TABLE} must be an array of tables",
            hint=f"write [[{prefix}.{TABLE}]] (double brackets) for each asset",
        )
    return [
        parse_entry(entry, f"{shown}: [[{prefix}.{TABLE}]] #{i}")
        for i, entry in enumerate(entries, 1)
    ]


def token_for(spec: AssetSpec, env: Mapping[str, str]) -> str | None:
    """The token to send to the API for this asset, or None (public)."""
    if spec.token_env:
        value = env.get(spec.token_env, "")
        if not value:
            raise ConfigError(
                f"{spec.where}: token_env names {spec.token_env}, which is not set",
                hint=f"pass it to the build, e.g. pack build --env {spec.token_env}",
            )
        return value
    return env.get("GITHUB_TOKEN") or None
