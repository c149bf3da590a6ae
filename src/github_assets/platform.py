"""Target platform (os/arch) and asset-name templates."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import NamedTuple

from .errors import ConfigError

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


class Target(NamedTuple):
    """The os/arch the image is built for."""

    os: str
    arch: str

    def __str__(self) -> str:
        return f"{self.os}/{self.arch}"


def target_from_env(env: Mapping[str, str]) -> Target:
    """CNB_TARGET_OS/CNB_TARGET_ARCH when the platform sets them, else the build host."""
    host = os.uname()
    os_name = env.get("CNB_TARGET_OS") or host.sysname.lower() or "linux"
    machine = host.machine.lower()
    arch = env.get("CNB_TARGET_ARCH") or _HOST_ARCH.get(machine, machine)
    return Target(os=os_name, arch=arch)


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
