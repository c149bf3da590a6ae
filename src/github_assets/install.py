"""Staged assets into layers: a work dir inside the layers dir, one stage dir per layer,
and a rename into place only once every asset of the build is verified and checked.

A failed or killed build leaves no half layer: at worst a work dir, which the next
build removes.
"""

from __future__ import annotations

import os
import posixpath
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .errors import BuildpackError, InstallError, about
from .log import Log
from .pipeline import Staged

WORK_PREFIX = ".github-assets-work-"


def remove_leftovers(layers_dir: Path, log: Log) -> None:
    """Work dirs of builds that were killed mid-asset (SIGKILL, OOM); nothing else uses them."""
    for leftover in sorted(n for n in os.listdir(layers_dir) if n.startswith(WORK_PREFIX)):
        log.process(f"Removing {leftover}, left by an interrupted build")
        shutil.rmtree(layers_dir / leftover, ignore_errors=True)


@contextmanager
def work_dir(layers_dir: Path) -> Iterator[Path]:
    """A fresh work dir inside the layers dir (same filesystem: renames, not copies)."""
    import tempfile

    work = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=layers_dir))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def stage_layer(name: str, assets: Sequence[tuple[str, Staged]], work: Path) -> Path:
    """Move a layer's staged assets (each with its entry's name) into a new stage dir."""
    stage = work / f"layer-{name}"
    stage.mkdir(mode=0o755)
    stage.chmod(0o755)
    for where, staged in assets:
        try:
            _place(staged, stage)
        except BuildpackError as e:
            raise about(e, where) from e
    return stage


def _place(staged: Staged, stage: Path) -> None:
    place = staged.installed.destination
    if staged.is_archive:
        _merge(staged.src, stage / place, place)
        return
    dest = stage / place
    if dest.exists() or dest.is_symlink():
        raise _clash(place)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staged.src.rename(dest)


def rename_in(layers_dir: Path, name: str, stage: Path, work: Path) -> None:
    """Replace the layer dir by the stage dir."""
    layer_dir = layers_dir / name
    if layer_dir.exists() or layer_dir.is_symlink():
        # Two renames, not an rmtree: a kill in between never leaves a half-deleted layer.
        os.replace(layer_dir, work / f"previous-{name}")
    os.replace(stage, layer_dir)


def _merge(src: Path, dest: Path, shown: str) -> None:
    """Move the tree at src into dest; a path that already exists there is a clash."""
    dest.mkdir(parents=True, exist_ok=True)
    for entry in sorted(src.iterdir()):
        target = dest / entry.name
        if (
            entry.is_dir()
            and not entry.is_symlink()
            and target.is_dir()
            and not target.is_symlink()
        ):
            _merge(entry, target, posixpath.join(shown, entry.name))
        elif target.exists() or target.is_symlink():
            raise _clash(posixpath.normpath(posixpath.join(shown, entry.name)))
        else:
            entry.rename(target)


def _clash(path: str) -> InstallError:
    return InstallError(
        f"two assets write the same path {path} in the layer",
        hint="give one of them another 'destination' or 'layer'",
    )
