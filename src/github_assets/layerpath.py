"""A layer's executables outside its bin/ on PATH, through env files the lifecycle applies.

The lifecycle puts only `<layer>/bin` on PATH: for later buildpacks when the layer is
`build = true`, at launch for a launch layer. An archive unpacked at the layer root
(kustomize, helm with `strip_components = 1`), under a `destination` other than `bin`, or
with a top directory of its own (`gh_2.40.0_linux_amd64/bin/gh`) has its executables
elsewhere, so `build = true` and `launcher -- kustomize` would not find them. Every other
directory that holds an installed executable (the `Installed` lines of the log) goes on
PATH through `<layer>/env/PATH.prepend` with `PATH.delim` = `:`. `env/`, not `env.build/` and
`env.launch/`: the lifecycle applies `env/` at build for a build layer and at launch for a
launch layer, so the layer's types decide, exactly as they do for bin/.

Pure functions but write(): layers.py decides reuse with them without any I/O of its own.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from .errors import InstallError

if TYPE_CHECKING:
    from pathlib import Path

    from .platform import StrPath

ENV = "env"
PREPEND = "PATH.prepend"
DELIM = "PATH.delim"
FILES = (f"{ENV}/{PREPEND}", f"{ENV}/{DELIM}")
"""What write() adds to a layer, relative to it."""


def dirs(executables: Iterable[str]) -> tuple[str, ...]:
    """The layer-relative directories (`.` the root) to put on PATH; () when every
    executable is in bin/ (the lifecycle's own). When bin/ holds one too it comes first: the
    prepended value goes before the lifecycle's `<layer>/bin`, and bin/ keeps precedence
    over the layer's other directories, as the only one the lifecycle knows."""
    found = {posixpath.normpath(posixpath.dirname(e) or ".") for e in executables}
    others = sorted(found - {"bin"}, key=lambda d: (0 if d == "." else d.count("/") + 1, d))
    if not others:
        return ()
    return ("bin", *others) if "bin" in found else tuple(others)


def value(layer_dir: StrPath, on_path: Sequence[str]) -> str:
    """The contents of PATH.prepend: the absolute directories (the layer's path at build is
    its path at launch, /layers/<buildpack>/<layer>), joined by the delimiter."""
    return ":".join(os.path.normpath(os.path.join(layer_dir, d)) for d in on_path)


def current(layer_dir: StrPath) -> str | None:
    """What a layer dir's PATH.prepend holds, None when it has none (or it is unreadable)."""
    try:
        with open(os.path.join(layer_dir, ENV, PREPEND), encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return None


def write(stage: Path, layer_dir: StrPath, on_path: Sequence[str]) -> None:
    """The env files of a layer staged at stage that will be renamed to layer_dir."""
    from .destinations import make_dirs

    name = os.path.basename(layer_dir)
    colon = next((d for d in on_path if ":" in d), None)
    if colon is not None:
        raise InstallError(
            f"layer {name}: the directory {colon} holds an executable, and PATH cannot hold "
            "a directory whose name has ':'",
            hint="install the executable elsewhere with 'files' or 'strip_components'",
        )
    env = stage / ENV
    if os.path.lexists(env) and (env.is_symlink() or not env.is_dir()):
        raise InstallError(
            f"layer {name}: the asset has {ENV} at the layer root, where the buildpack "
            "writes the env files that put its executables on PATH",
            hint="unpack it into a 'destination' directory",
        )
    make_dirs(env)
    for file, text in ((PREPEND, value(layer_dir, on_path)), (DELIM, ":")):
        path = env / file
        if os.path.lexists(path):
            raise InstallError(
                f"layer {name}: the asset has {ENV}/{file}, which the buildpack writes to put "
                "its executables on PATH",
                hint="unpack it into a 'destination' directory",
            )
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)  # whatever the umask: the launcher may run as another user
