"""Staged assets into layers: a work dir inside the layers dir, one stage dir per layer
(a destinations.Tree), and a rename into place only once every asset of the build is
verified and checked.

A failed or killed build leaves no half layer: at worst a work dir, which the next
build removes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from .errors import BuildpackError, about, os_error
from .log import Log

if TYPE_CHECKING:
    from pathlib import Path

    from .pipeline import Staged
    from .platform import StrPath

WORK_PREFIX = ".github-assets-work-"


LOCK = ".owner.lock"
"""In each work dir: locked (flock) for as long as the build that made it runs."""


def remove_leftovers(layers_dir: StrPath, log: Log) -> None:
    """Work dirs of builds that died mid-asset (SIGKILL, OOM); a live build's stay.

    A build holds an flock on its work dir's LOCK for its whole life, and the kernel
    releases it when the process dies, however it dies: a lock we can take is a dead build's.
    """
    for leftover in sorted(n for n in os.listdir(layers_dir) if n.startswith(WORK_PREFIX)):
        if _owner_alive(os.path.join(layers_dir, leftover)):
            continue
        log.process(f"Removing {leftover}, left by an interrupted build")
        import shutil  # here: a rebuild that finds no leftover imports neither it nor lzma

        shutil.rmtree(os.path.join(layers_dir, leftover), ignore_errors=True)


def _owner_alive(work: str) -> bool:
    import fcntl

    try:
        fd = os.open(os.path.join(work, LOCK), os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return False  # no lock file: made by a build killed right after mkdtemp
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops the lock we may have taken
    return False


@contextmanager
def work_dir(layers_dir: StrPath, shown: str = "the layers dir") -> Iterator[Path]:
    """A fresh work dir inside the layers dir (same filesystem: renames, not copies), owned
    (locked) by this build until it is removed. shown: what the dir is, for errors."""
    import fcntl
    import shutil
    import tempfile
    from pathlib import Path  # here: only a build that installs something stages

    try:
        # Made under another prefix and renamed once locked, so remove_leftovers of a
        # concurrent build never sees it unlocked.
        fresh = Path(tempfile.mkdtemp(prefix=".github-assets-new-", dir=layers_dir))
        fd = os.open(fresh / LOCK, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError as e:
        raise os_error(e, f"create a work dir in {shown} {layers_dir}") from e
    work = fresh.with_name(WORK_PREFIX + fresh.name.removeprefix(".github-assets-new-"))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(fresh, work)
        yield work
    except OSError as e:
        raise os_error(e, f"use the work dir {work.name} in {shown}") from e
    finally:
        shutil.rmtree(work if work.exists() else fresh, ignore_errors=True)
        os.close(fd)


def stage_layer(
    name: str, assets: Sequence[tuple[str, Staged]], work: Path, layer_dir: Path
) -> Path:
    """Move a layer's staged assets (each with its entry's name) into a new stage dir, with
    the env files that put executables outside bin/ on PATH (layerpath); layer_dir: where
    the stage dir will be renamed to."""
    stage = work / f"layer-{name}"
    stage.mkdir(mode=0o755)
    stage.chmod(0o755)
    from . import layerpath
    from .destinations import Tree  # here: a rebuild that reuses every layer stages none

    into = Tree(stage, "the layer")
    for where, staged in assets:
        try:
            into.place(staged)
        except BuildpackError as e:
            raise about(e, where) from e
        except OSError as e:
            raise about(os_error(e, f"place {staged.asset.name} in layer {name}"), where) from e
    on_path = layerpath.dirs(e for _, staged in assets for e in staged.executables)
    if on_path:
        # An error names the entry whose asset has files in env/ (the likely clash).
        where = next(
            (w for w, st in assets if any(f.split("/")[0] == layerpath.ENV for f in st.files)),
            assets[0][0],
        )
        try:
            layerpath.write(stage, layer_dir, on_path)
        except BuildpackError as e:
            raise about(e, where) from e
        except OSError as e:
            raise about(os_error(e, f"write the PATH env files of layer {name}"), where) from e
    return stage


def rename_in(layers_dir: StrPath, stages: dict[str, Path], work: Path) -> None:
    """Replace each layer dir by its stage dir; all of them, or (after a failure) none.

    On failure the layers already renamed in are taken away again with their tomls (the
    next build installs them anew): no layer dir is left without its toml or the reverse.
    """
    done: list[str] = []
    current = ""
    try:
        for current, stage in stages.items():
            name = current
            layer_dir = os.path.join(layers_dir, name)
            if os.path.lexists(layer_dir):
                # Two renames, not an rmtree: a kill in between never leaves a half-deleted layer.
                os.replace(layer_dir, work / f"previous-{name}")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(layers_dir, f"{name}.toml"))
            done.append(name)
            os.replace(stage, layer_dir)
    except OSError as e:
        for name in done:
            with contextlib.suppress(OSError):
                take_away(layers_dir, name)
        raise os_error(e, f"rename layer {current} into the layers dir") from e


def take_away(layers_dir: StrPath, name: str) -> None:
    """Remove layer `name`: its dir, its toml and its SBOMs, never one without the other.

    The dir is renamed aside first (one syscall: it is there whole or gone), then the toml
    is unlinked; when that fails and the toml is still there, the dir is renamed back, so
    the layer stays whole, and the error is raised. What was renamed aside is deleted
    after; what the OS refused to delete is a leftover the next build removes (it has the
    work-dir prefix and no owner lock).
    """
    import shutil

    layer_dir = os.path.join(layers_dir, name)
    aside = os.path.join(layers_dir, f"{WORK_PREFIX}removed-{os.getpid()}-{name}")
    moved = False
    if os.path.lexists(layer_dir):
        os.replace(layer_dir, aside)
        moved = True
    toml = os.path.join(layers_dir, f"{name}.toml")
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(toml)
    except OSError:
        if os.path.lexists(toml):  # no toml (not written yet): the dir goes all the same
            if moved:
                os.replace(aside, layer_dir)
            raise
    sbom = f"{name}.sbom."  # <name>.sbom.*.json
    with contextlib.suppress(OSError):
        for entry in os.listdir(layers_dir):
            if entry.startswith(sbom) and entry[len(sbom) :].endswith(".json"):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(layers_dir, entry))
    if moved:
        shutil.rmtree(aside, ignore_errors=True)
