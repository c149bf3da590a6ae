"""Parse [[metadata.githubassets]] tables (project.toml or plan entries) into AssetSpec.

This is the boundary: past it nothing handles raw dicts. Detect runs it for
every app on a builder and must start faster than a bare `python3 -c pass`, so
it imports only cheap stdlib modules and toml: the value types are Records (record.py:
NamedTuples, frozen, compared by value) rather than dataclasses, whose import pulls in
inspect and costs more than the rest of detect; paths go through os.path, not
pathlib.
"""

from __future__ import annotations

import os
import posixpath
import re
import string
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .platform import PLACEHOLDERS, Target, check_template, executable_name, render
from .record import Record
from .verify import Checksum

if TYPE_CHECKING:
    from .platform import StrPath
    from .provenance.spec import Provenance

    Pin = Checksum | tuple[tuple[str, Checksum], ...] | None

TABLE = "githubassets"
LOCK_FILE = "github-assets.lock"
"""The lock's name, beside the config file (lock.py reads and writes it)."""
# Patterns, not compiled ones: re compiles (and caches) each when a key first needs it, so a
# config without token_env, layer or process never pays for theirs (detect runs for every
# app on a builder; each compile is 0.3-1M instructions).
_ALNUM = frozenset(string.ascii_letters + string.digits)
_OWNER = _ALNUM | {"-"}
_NAME = _ALNUM | {"-", ".", "_"}
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_LAYER = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
_PROCESS = r"^[A-Za-z0-9_.-]+$"
_RESERVED_LAYERS = frozenset({"build", "launch", "store"})
NAME_MAX = 255
"""Bytes in one path component on Linux filesystems (ext4, xfs, overlayfs, btrfs)."""
PATH_MAX = 4095
"""Bytes in a whole path Linux takes (4096 with the terminating NUL)."""


class AssetSpec(Record):
    """One asset to install, validated: one attribute per row of FIELDS.

    Equality ignores `where` (where it was written).
    """

    repo: str
    asset: str = ""
    """The asset's name or template; "" = chosen from the release per target (assetpick)."""
    tag: str = "latest"
    token_env: str | None = None
    destination: str | None = None
    strip_components: int = 0
    sha256: Pin = None
    """One Checksum, or (arch, Checksum) pairs sorted by arch."""
    replacements: tuple[tuple[str, str], ...] = ()
    process: str | None = None
    args: tuple[str, ...] = ()
    build: bool = False
    layer: str | None = None
    link: str | None = None
    api_url: str | None = None
    checksums: str | bool = "auto"
    """"auto", False (never), or a checksum file's name (a template with {asset})."""
    files: tuple[tuple[str, str], ...] = ()
    """(layer path, archive member pattern) pairs; empty: the whole archive."""
    version_prefix: str = ""
    targets: tuple[str, ...] = ()
    """"os/arch" values this asset exists for; empty: every target."""
    abi_check: bool = True
    """False: an ELF file the run image's libc cannot run is a warning, not an error."""
    provenance: Provenance | None = None
    """Signatures and attestations that must verify (provenance/spec.py)."""
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
        """The executable name a raw asset installs as (see platform.executable_name);
        "" when the asset is chosen at build (then its name is derived from the choice)."""
        return executable_name(self.asset) if self.asset else ""

    @property
    def shown_asset(self) -> str:
        """The asset as a log line names it."""
        return self.asset or "(asset chosen per target)"

    @property
    def replacement_map(self) -> dict[str, str]:
        return dict(self.replacements)

    def render(self, template: str, target: Target, tag: str, *, asset: str = "") -> str:
        """A template of this entry ('asset', 'checksums', 'files') for target at tag, with
        its replacements and version_prefix (platform.render)."""
        return render(
            template, target, tag, self.replacement_map, prefix=self.version_prefix, asset=asset
        )

    def pin_for(self, arch: str) -> Checksum | None:
        """The pinned checksum for this target arch; an arch table without it is an error."""
        if self.sha256 is None or isinstance(self.sha256, Checksum):
            return self.sha256
        table = dict(self.sha256)
        if arch not in table:
            raise ConfigError(
                f"{self.where}: 'sha256' has no entry for the target arch {arch!r}",
                hint=f'add {arch} = "<hex>" to the sha256 table (it has {", ".join(table)})',
            )
        return table[arch]

    def to_metadata(self) -> dict[str, Any]:
        """The table form, as a plan entry's metadata (round-trips through parse_entry)."""
        return {
            f.name: f.dump(value)
            for f, value in zip(FIELDS, self, strict=False)
            if value != f.default or f.name == "tag"  # the tag is always said, latest or not
        }

    def wanted(self, target: Target) -> dict[str, Any]:
        """What decides the layer's content, as TOML-able fields (set ones only)."""
        out = {
            f.name: f.dump(value)
            for f, value in zip(FIELDS, self, strict=False)
            if f.content and value not in (None, (), "")  # TOML has no null: unset is absent
        }
        pin = self.pin_for(target.arch)
        if pin is not None:
            out["sha256"] = pin.hex  # only this target's pin decides this target's content
        out["target"] = str(target)
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
        base = "the app dir" if key == "link" else "the layer"
        raise ConfigError(f"{where}: '{key}' is empty", hint=f"give a path relative to {base}")
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
    _check_components(normal, key, where)
    if normal == ".":
        if key == "destination":
            return "."
        raise ConfigError(f"{where}: '{key}' must name a file, got '.'")
    return normal + ("/" if value.endswith("/") and key == "destination" else "")


def _check_components(path: str, key: str, where: str) -> None:
    """Refuse what no filesystem takes: NUL bytes, components longer than NAME_MAX bytes,
    paths longer than PATH_MAX bytes."""
    if "\0" in path:
        raise ConfigError(f"{where}: '{key}' contains a NUL character")
    total = len(path.encode("utf-8", "surrogatepass"))
    if total > PATH_MAX:
        raise ConfigError(
            f"{where}: '{key}' is a path of {total} bytes",
            hint=f"Linux takes at most {PATH_MAX} bytes per path; shorten it",
        )
    for part in path.split("/"):
        size = len(part.encode("utf-8", "surrogatepass"))
        if size > NAME_MAX:
            raise ConfigError(
                f"{where}: '{key}' has a path component of {size} bytes ({part[:40]}...)",
                hint=f"filesystems take at most {NAME_MAX} bytes per component; shorten it",
            )


def _layer_name_ok(name: str, key: str, where: str) -> None:
    """A layer name may not clash with the files the buildpack writes beside layers."""
    if name in _RESERVED_LAYERS or name.endswith(".toml") or ".sbom." in name:
        raise ConfigError(
            f"{where}: layer name {name!r} clashes with the buildpack's own files "
            "(launch, build, store, *.toml, *.sbom.*)",
            hint="choose another name with 'layer'" if key == "layer" else "set 'layer' to a name",
        )


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
    if parsed is None or parsed.algo != "sha256":
        raise ConfigError(
            f"{where}: '{key}' is not a sha256 ({value!r})",
            hint="give 64 hex digits, optionally prefixed 'sha256:'",
        )
    return parsed


# -- one parser per key: (value, key, where) -> the AssetSpec attribute -------------------


def _asset(value: object, key: str, where: str) -> str:
    asset = _string(value, key, where)
    if "/" in asset or "\\" in asset:
        raise ConfigError(f"{where}: 'asset' is a file name, not a path, got {asset!r}")
    check_template(asset, where)
    return asset


def _token_env(value: object, key: str, where: str) -> str:
    name = _string(value, key, where)
    if not re.match(_ENV_NAME, name):
        raise ConfigError(
            f"{where}: 'token_env' must be an environment variable name, got {name!r}"
        )
    return name


def _strip(value: object, key: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        shown = (
            value if isinstance(value, int) and not isinstance(value, bool) else _type_name(value)
        )
        raise ConfigError(f"{where}: 'strip_components' must be an integer >= 0, got {shown}")
    return value


def _sha256(value: object, key: str, where: str) -> Pin:
    if not isinstance(value, Mapping):
        return _checksum(value, where)
    if not value:
        raise ConfigError(f"{where}: 'sha256' table is empty")
    return tuple(sorted((str(k), _checksum(v, where, f"sha256.{k}")) for k, v in value.items()))


def _replacements(value: object, key: str, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{where}: 'replacements' must be a table, got {_type_name(value)}",
            hint='e.g. replacements = { amd64 = "x86_64", arm64 = "aarch64" }',
        )
    for k, v in value.items():
        if not isinstance(v, str):
            raise ConfigError(f"{where}: 'replacements.{k}' must be a string, got {_type_name(v)}")
    return tuple(sorted((str(k), v) for k, v in value.items()))


def _process(value: object, key: str, where: str) -> str:
    process = _string(value, key, where)
    if not re.match(_PROCESS, process):
        raise ConfigError(
            f"{where}: 'process' must be a process type name (letters, digits, '.', '_', '-'),"
            f" got {process!r}"
        )
    return process


def _args(value: object, key: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise ConfigError(f"{where}: 'args' must be an array of strings")
    return tuple(value)


def _bool(value: object, key: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: '{key}' must be true or false, got {_type_name(value)}")
    return value


def _layer(value: object, key: str, where: str) -> str:
    layer = _string(value, key, where)
    if not re.match(_LAYER, layer):
        raise ConfigError(
            f"{where}: 'layer' must be a plain name (letters, digits, '.', '_', '-'), got {layer!r}"
        )
    _layer_name_ok(layer, key, where)
    return layer


def _api_url(value: object, key: str, where: str) -> str:
    url = _string(value, key, where)
    if not re.fullmatch(r"https?://[^/\s]+(/\S*)?", url):
        raise ConfigError(
            f"{where}: 'api_url' must be an http(s) URL, got {url!r}",
            hint="for GitHub Enterprise use https://HOST/api/v3",
        )
    return url.rstrip("/")


def _checksums(value: object, key: str, where: str) -> str | bool:
    if value is False:
        return False
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f"{where}: 'checksums' must be \"auto\", false or a file name, got {_type_name(value)}",
            hint='e.g. checksums = "checksums.txt" or "{asset}.sha256"',
        )
    name = value.strip()
    if "/" in name or "\\" in name:
        raise ConfigError(f"{where}: 'checksums' is a release asset's name, not a path: {name!r}")
    check_template(name, where, key, (*PLACEHOLDERS, "asset"))
    return name


def _member(value: object, key: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f"{where}: '{key}' must be an archive member path, got {_type_name(value)}"
        )
    member = value.strip().removeprefix("./")
    if member.startswith("/") or ".." in member.split("/") or not member:
        raise ConfigError(f"{where}: '{key}' must be a relative member path, got {value!r}")
    check_template(member, where, key)
    return member


def _files(value: object, key: str, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(
            f"{where}: 'files' must be a table of layer path = archive member",
            hint='e.g. files = { "bin/yq" = "yq_{os}_{arch}" }',
        )
    out = []
    for path, member in value.items():
        dest = _relative_path(str(path), f"files.{path}", where)
        if dest == ".":
            raise ConfigError(
                f"{where}: 'files' key {path!r} must name a file or a dir ending in /"
            )
        out.append(
            (
                dest + ("/" if str(path).endswith("/") else ""),
                _member(member, f"files.{path}", where),
            )
        )
    return tuple(sorted(out))


def _version_prefix(value: object, key: str, where: str) -> str:
    if not isinstance(value, str) or value != value.strip():
        raise ConfigError(f"{where}: 'version_prefix' must be a string without spaces around it")
    return value


_TARGET = r"^[a-z0-9]+/[a-z0-9]+$"


def _targets(value: object, key: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(t, str) for t in value):
        raise ConfigError(
            f"{where}: 'targets' must be a non-empty array of \"os/arch\" strings",
            hint='e.g. targets = ["linux/amd64"]',
        )
    for t in value:
        if not re.match(_TARGET, t):
            raise ConfigError(
                f"{where}: 'targets' has {t!r}, which is not \"os/arch\"",
                hint='e.g. "linux/amd64" or "linux/arm64"',
            )
    return tuple(sorted(set(value)))


def _provenance(value: object, key: str, where: str) -> Provenance:
    # Imported only for an entry that has the key: detect of every other app stays as cheap.
    from .provenance.spec import parse

    return parse(value, where)


def _dump(value: Any) -> Any:
    """An attribute as TOML/plan metadata: checksums as hex, pairs as tables, tuples as arrays."""
    if isinstance(value, Checksum):
        return value.hex
    if hasattr(value, "to_table"):  # Provenance: its own table
        return value.to_table()
    if isinstance(value, tuple):
        if value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
            return {k: _dump(v) for k, v in value}
        return list(value)
    return value


class Field(Record):
    """One config key: how it is parsed, its default, and whether it decides layer content."""

    name: str
    parse: Callable[[object, str, str], Any]
    default: Any = None
    content: bool = False
    """Part of what the layer holds: a change reinstalls it (and the reuse cause names it)."""

    def dump(self, value: Any) -> Any:
        return _dump(value)


FIELDS = (
    Field("repo", _string, content=True),
    Field("asset", _asset, "", content=True),
    Field("tag", _string, "latest", content=True),
    Field("token_env", _token_env),
    Field("destination", lambda v, k, w: _relative_path(v, k, w), content=True),
    Field("strip_components", _strip, 0, content=True),
    Field("sha256", _sha256, content=True),
    Field("replacements", _replacements, (), content=True),
    Field("process", _process),
    Field("args", _args, ()),
    Field("build", _bool, False),
    Field("layer", _layer),
    Field("link", lambda v, k, w: _relative_path(v, k, w)),
    Field("api_url", _api_url, content=True),
    Field("checksums", _checksums, "auto", content=True),
    Field("files", _files, (), content=True),
    Field("version_prefix", _version_prefix, "", content=True),
    Field("targets", _targets, (), content=True),
    Field("abi_check", _bool, True),
    Field("provenance", _provenance, content=True),
)
KEYS = tuple(f.name for f in FIELDS)


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
    if not _is_repo(repo):
        raise ConfigError(
            f"{where}: 'repo' must look like \"owner/name\", got {repo!r}",
            hint='for example repo = "grpc-ecosystem/grpc-health-probe"',
        )
    where = f"{where} (repo {repo})"
    values = {f.name: f.parse(table[f.name], f.name, where) for f in FIELDS if f.name in table}
    values["repo"] = repo
    spec = AssetSpec(**values, where=where)
    if spec.args and not (spec.process or spec.link):
        raise ConfigError(
            f"{where}: 'args' is set but neither 'process' nor 'link' is",
            hint="args belong to a process, or to the probe command of a link",
        )
    if spec.files and spec.destination is not None:
        raise ConfigError(
            f"{where}: 'files' and 'destination' are both set",
            hint="'files' keys are layer paths already; drop 'destination'",
        )
    if not spec.layer:
        _layer_name_ok(spec.layer_name, "repo", where)
    if spec.asset:
        _check_components(spec.name, "asset", where)  # a raw asset is installed under this name
    return spec


def _load_toml(path: str, shown: str) -> dict[str, Any]:
    from . import tomlfile

    return tomlfile.load(path, shown)


ENV_PATH = "GITHUB_ASSETS_PATH"
_SET_PATH = (
    f"set {ENV_PATH} to the config file's path relative to the app dir (e.g. ci/assets.toml)"
)


def _is_repo(repo: str) -> bool:
    """owner/name as GitHub allows them: ^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$,
    and a name that is not . or .. (every config has a repo: written out, not a regex)."""
    owner, slash, name = repo.partition("/")
    return (
        bool(slash)
        and 1 <= len(owner) <= 39
        and owner[0] in _ALNUM
        and _OWNER.issuperset(owner)
        and 1 <= len(name) <= 100
        and _NAME.issuperset(name)
        and name not in (".", "..")
    )


def config_path(app_dir: StrPath, env: Mapping[str, str]) -> tuple[str, str, bool]:
    """The config file, how to show it, and whether it was named explicitly.

    GITHUB_ASSETS_PATH must be relative and stay inside the app dir; bin/detect's sh path
    applies the same rules with the same messages.
    """
    override = env.get(ENV_PATH, "")
    if not override:
        return os.path.join(app_dir, "project.toml"), "project.toml", False
    if any(c < " " or c == "\x7f" for c in override):
        # Refused, not escaped: bin/detect's sh path names the file in the plan's TOML.
        raise ConfigError(
            f"{ENV_PATH} holds a control character (a line break, a tab, ...)", hint=_SET_PATH
        )
    named = f"{ENV_PATH} is '{override}'"
    if override.startswith("/"):
        raise ConfigError(f"{named}, an absolute path", hint=_SET_PATH)
    if ".." in override.split("/"):
        raise ConfigError(f"{named}, which leaves the app dir ('..')", hint=_SET_PATH)
    return os.path.join(app_dir, override), override, True


def load_project(app_dir: StrPath, env: Mapping[str, str]) -> list[AssetSpec]:
    """The assets configured for the app; [] when there is no config file or no table."""
    return [spec for spec, _ in load_entries(app_dir, env)]


def load_entries(
    app_dir: StrPath, env: Mapping[str, str]
) -> list[tuple[AssetSpec, Mapping[str, Any]]]:
    """Each configured asset with its table as written (detect's plan metadata)."""
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
    return [(parse_entry(t, where), t) for where, t in _tables(_load_toml(real, shown), shown)]


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
    return [parse_entry(table, where) for where, table in _tables(data, shown)]


def _tables(data: Mapping[str, Any], shown: str) -> list[tuple[str, Any]]:
    """(where, table) of each asset entry of a parsed project descriptor."""
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
    return [(f"{shown}: [[{prefix}.{TABLE}]] #{i}", entry) for i, entry in enumerate(entries, 1)]


def token_named(spec: AssetSpec, env: Mapping[str, str], binding: str | None = None) -> str:
    """Where token_for's token comes from, as a hint names it (never its value): so that
    "check the token" points at the place the user gave it, binding included."""
    if spec.token_env and env.get(spec.token_env, ""):
        return f"the token in {spec.token_env} (token_env)"
    if binding is not None:
        return f"the token in the github binding {binding}"
    return "the token in GITHUB_TOKEN"


def token_for(spec: AssetSpec, env: Mapping[str, str], bound: str | None = None) -> str | None:
    """The token to send to the API for this asset, or None (public): the variable
    token_env names, else bound (a `github` binding's token for the asset's API host),
    else GITHUB_TOKEN."""
    from . import redact

    if spec.token_env:
        value = env.get(spec.token_env, "")
        if not value and not bound:
            raise ConfigError(
                f"{spec.where}: 'token_env' names {spec.token_env}, which is not set",
                hint=f"pass it to the build (e.g. pack build --env {spec.token_env}), or give "
                "the token in a binding of type github (kpack: a Secret in the Image's services)",
            )
        redact.secret(value or bound)  # whatever the variable's name: never printed
        return value or bound
    redact.secret(env.get("GITHUB_TOKEN"))
    return bound or env.get("GITHUB_TOKEN") or None
