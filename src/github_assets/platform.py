"""Target platform (os/arch) and asset-name templates."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TypeAlias

from .errors import ConfigError
from .record import Record

PLACEHOLDERS = ("os", "arch", "version", "tag")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

# Python's platform.machine() names -> Go names, which CNB_TARGET_ARCH uses.
_HOST_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "i386": "386",
    "i686": "386",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


# glibc of each distro release a run image is built from (its libc6 package).
_GLIBC: dict[tuple[str, str], tuple[int, int]] = {
    ("ubuntu", "20.04"): (2, 31),
    ("ubuntu", "22.04"): (2, 35),
    ("ubuntu", "24.04"): (2, 39),
    ("debian", "11"): (2, 31),
    ("debian", "12"): (2, 36),
    ("debian", "13"): (2, 41),
}
_MUSL = frozenset({"alpine"})
StrPath: TypeAlias = "str | os.PathLike[str]"
"""A path as the phases pass them: str (pathlib costs a rebuild ~14M instructions with the
urllib.parse and ipaddress it imports), or a pathlib.Path from the command and tests."""
OS_RELEASE = "/etc/os-release"
"""A str, not a pathlib.Path: detect imports this module, and pathlib costs it ~2 ms."""


class Distro(Record):
    """The run image's distro, as CNB_TARGET_DISTRO_* or os-release name it."""

    name: str
    """os-release ID, lower case: "ubuntu", "debian", "alpine"."""
    version: str

    def __str__(self) -> str:
        return f"{self.name} {self.version}".strip()

    @property
    def musl(self) -> bool:
        return self.name in _MUSL

    @property
    def glibc(self) -> tuple[int, int] | None:
        """Its glibc version, when it is a glibc distro release we know."""
        # Debian's os-release says "12", a platform may say "12.5": the major release decides.
        major = self.version.split(".")[0] if self.name == "debian" else self.version
        return _GLIBC.get((self.name, ".".join(major.split(".")[:2])))


class Target(Record):
    """The os/arch the image is built for, and the run image's distro when known."""

    os: str
    arch: str
    distro: Distro | None = None

    def __str__(self) -> str:
        return f"{self.os}/{self.arch}"


def target_from_env(env: Mapping[str, str], os_release: StrPath = OS_RELEASE) -> Target:
    """CNB_TARGET_OS/CNB_TARGET_ARCH/CNB_TARGET_DISTRO_* when the platform sets them, else
    the build host (uname, os_release)."""
    host = os.uname()
    os_name = env.get("CNB_TARGET_OS") or host.sysname.lower() or "linux"
    machine = host.machine.lower()
    arch = env.get("CNB_TARGET_ARCH") or _HOST_ARCH.get(machine, machine)
    return Target(os=os_name, arch=arch, distro=distro_from_env(env, os_release))


def distro_from_env(env: Mapping[str, str], os_release: StrPath = OS_RELEASE) -> Distro | None:
    """The platform's CNB_TARGET_DISTRO_NAME/VERSION; each one it does not set comes from
    the build image's os-release (ID, VERSION_ID): stacks build and run on the same distro
    release. A version is the host's only when the name is the host's too."""
    name = env.get("CNB_TARGET_DISTRO_NAME", "").strip().lower()
    version = env.get("CNB_TARGET_DISTRO_VERSION", "").strip()
    if name and version:
        return Distro(name, version)
    host = _os_release(os_release)
    if not name:
        return Distro(host.name, version or host.version) if host is not None else None
    return Distro(name, host.version if host is not None and host.name == name else "")


def _os_release(path: StrPath) -> Distro | None:
    """The distro (ID, VERSION_ID) an os-release file names, None without one."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:  # no os-release (a scratch build image): the distro is unknown
        return None
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip().strip("\"'")
    name = fields.get("ID", "").lower()
    return Distro(name, fields.get("VERSION_ID", "")) if name else None


def check_template(
    template: str, where: str, key: str = "asset", known: tuple[str, ...] = PLACEHOLDERS
) -> None:
    """Reject placeholders we do not know and stray braces, naming the entry and key."""
    for name in _PLACEHOLDER.findall(template):
        if name not in known:
            shown = ", ".join("{" + p + "}" for p in known)
            raise ConfigError(
                f"{where}: '{key}' has an unknown placeholder {{{name}}}",
                hint=f"use only {shown}",
            )
    if "{" in _PLACEHOLDER.sub("", template) or "}" in _PLACEHOLDER.sub("", template):
        raise ConfigError(
            f"{where}: '{key}' has an unbalanced brace in {template!r}",
            hint="placeholders look like " + ", ".join("{" + p + "}" for p in known),
        )


def render(
    template: str,
    target: Target,
    tag: str,
    replacements: Mapping[str, str],
    *,
    prefix: str = "",
    asset: str = "",
) -> str:
    """Fill {os} {arch} {version} {tag} (and {asset}); replacements rename the os/arch values.

    {version} is the tag without the monorepo prefix and then without a leading v.
    """
    version = tag.removeprefix(prefix)
    values = {
        "os": replacements.get(target.os, target.os),
        "arch": replacements.get(target.arch, target.arch),
        "tag": tag,
        "version": version[1:] if version[:1] in ("v", "V") and version[1:2].isdigit() else version,
        "asset": asset,
    }
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


_COMPRESSED_SUFFIXES = (".gz", ".xz", ".bz2")


def executable_name(template: str) -> str:
    """The installed name of a raw executable, from the asset name or template.

    A template keeps the part before its first placeholder, without trailing
    '-', '_' or '.'; a lone compressed file loses its .gz/.xz/.bz2 suffix.
    """
    m = _PLACEHOLDER.search(template)
    if m:
        name = template[: m.start()].rstrip("-_.")
        if name:
            return name
        template = _PLACEHOLDER.sub("", template).strip("-_.")
    for suffix in _COMPRESSED_SUFFIXES:
        if template.endswith(suffix) and len(template) > len(suffix):
            return template[: -len(suffix)]
    return template
