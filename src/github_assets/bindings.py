"""Service bindings: the one reader of every binding the build uses.

A binding is a directory under `$SERVICE_BINDING_ROOT` (the Kubernetes service binding
spec; kpack mounts Secrets there) or else `<platform>/bindings` (pack --volume, Cloud
Foundry). Two layouts, both read:

- the spec's: a `type` file (and an optional `provider`) plus one file per key;
- the older CNB one: `metadata/kind` (and `metadata/provider`) plus `secret/<key>`.

Kubernetes mounts a Secret as symlinks into a hidden `..data` directory, so names that
start with a dot are not keys and keys are followed through symlinks. Types compare
without case, as libcnb and libpak compare them.

The values are secrets. This module hands out values to the code that uses them (a
token to the API client, a CA file to the TLS context) and names (the binding's
directory name, a key) to everything that logs or reports: a value is never part of a
message, and nothing here writes anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .errors import ConfigError
from .record import Record

if TYPE_CHECKING:
    from .platform import StrPath

GITHUB = "github"
CA_CERTIFICATES = "ca-certificates"
DEPENDENCY_MAPPING = "dependency-mapping"
DEPENDENCY_MIRROR = "dependency-mirror"

_NOT_KEYS = frozenset({"type", "provider"})


class Binding(Record):
    """One binding: its directory name, its type (lower case) and the files of its keys.

    A Record, not a dataclass: every build reads the bindings, and importing dataclasses
    (with inspect, ast, dis, tokenize) costs a rebuild about 26M instructions, a sixth of it
    (callgrind); paths as str, not pathlib (another 14M)."""

    name: str
    type: str
    keys: Mapping[str, str]

    def value(self, key: str) -> str:
        """A key's value without surrounding whitespace ('' when absent or unreadable)."""
        path = self.keys.get(key)
        return _read(path) if path is not None else ""

    def shown(self) -> str:
        """How messages name it: never with a value."""
        return f"binding {self.name} (type {self.type})"


def root(env: Mapping[str, str], platform_dir: StrPath | None) -> str | None:
    """Where bindings live: $SERVICE_BINDING_ROOT, else <platform>/bindings."""
    given = env.get("SERVICE_BINDING_ROOT", "").strip()
    if given:
        return given
    return os.path.join(platform_dir, "bindings") if platform_dir is not None else None


def read(env: Mapping[str, str], platform_dir: StrPath | None) -> tuple[Binding, ...]:
    """Every binding under the root, sorted by name (so a choice among equals is stable)."""
    where = root(env, platform_dir)
    if where is None:
        return ()
    try:
        with os.scandir(where) as entries:
            dirs = sorted(e.path for e in entries if not e.name.startswith(".") and e.is_dir())
    except OSError:  # no bindings dir: nothing bound
        return ()
    found = []
    for path in dirs:
        binding = _binding(path)
        if binding is not None:
            found.append(binding)
    return tuple(found)


def _binding(path: str) -> Binding | None:
    name = os.path.basename(path)
    kind = _read(os.path.join(path, "type"))
    if kind:
        return Binding(name, kind.lower(), _keys(path, skip=_NOT_KEYS))
    kind = _read(os.path.join(path, "metadata", "kind"))
    if kind:
        return Binding(name, kind.lower(), _keys(os.path.join(path, "secret"), skip=frozenset()))
    return None  # not a binding (no type): ignored, as libcnb ignores it


def _keys(directory: str, *, skip: frozenset[str]) -> dict[str, str]:
    try:
        with os.scandir(directory) as entries:
            return {
                e.name: e.path
                for e in sorted(entries, key=lambda e: e.name)
                if not e.name.startswith(".") and e.name not in skip and e.is_file()
            }
    except OSError:
        return {}


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except (OSError, UnicodeDecodeError):
        return ""


def of_type(bindings: Sequence[Binding], kind: str) -> list[Binding]:
    """The bindings of one type."""
    return [b for b in bindings if b.type == kind.lower()]


def github_token(bindings: Sequence[Binding], api_url: str) -> str | None:
    """The token of the `github` binding for this API base, or None."""
    binding = github_binding(bindings, api_url)
    return binding.value("token") if binding is not None else None


def github_binding(bindings: Sequence[Binding], api_url: str) -> Binding | None:
    """The `github` binding whose token is for this API base, or None.

    A binding whose `host` names the API host (`api.github.com`, `ghe.example.com`, or
    with a port) wins over one without `host`, which applies to every API host.
    """
    github = of_type(bindings, GITHUB)
    if not github:
        return None
    from urllib.parse import urlsplit  # here: only a build that asks an API host gets here

    try:
        parts = urlsplit(api_url)
        names = {(parts.hostname or "").lower(), parts.netloc.rsplit("@", 1)[-1].lower()}
    except ValueError:  # a malformed base: the request fails and says so; no host matches
        names = set()
    general: Binding | None = None
    for binding in github:
        token = binding.value("token")
        if not token:
            raise ConfigError(
                f"{binding.shown()} has no key 'token'",
                hint="add a file named token holding the GitHub token to that binding "
                "(in a Kubernetes Secret: a data key named token)",
            )
        host = _host(binding.value("host"))
        if host and host in names:
            return binding
        if not host and general is None:
            general = binding
    return general


def _host(value: str) -> str:
    """`host` as written: a bare host, host:port, or a URL (its host[:port])."""
    from urllib.parse import urlsplit

    value = value.strip().lower().rstrip("/")
    return urlsplit(value).netloc if "://" in value else value


def ca_files(bindings: Sequence[Binding]) -> list[tuple[str, str]]:
    """(how to name it, file) of every file of every `ca-certificates` binding."""
    return [
        (f"{binding.shown()}, key {key}", path)
        for binding in of_type(bindings, CA_CERTIFICATES)
        for key, path in binding.keys.items()
    ]
