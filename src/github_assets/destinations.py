"""Where a staged asset goes: two destinations of the same pipeline result.

The pipeline (pipeline.py) stages an asset in a work dir; a destination places it, the
shape of pypa/installer's install(source, destination). A layer is a Tree in the build's
stage dir, renamed in by install.py once every asset verified; `github-assets install`
places into a Tree in a stage dir inside the directory it was given, then moves each
file in (cli_install.py). Placing moves (renames): the work dir is on the same filesystem.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .errors import InstallError

if TYPE_CHECKING:
    from .pipeline import Staged


class Destination(Protocol):
    """Takes staged assets; a path two assets both write is an InstallError."""

    def place(self, staged: Staged) -> None: ...


class Tree:
    """Assets into a directory tree at their destination paths (a layer, a plain dir)."""

    def __init__(self, root: Path, shown: str) -> None:
        self.root = root
        self.shown = shown
        """What the root is, for a clash's message ("the layer")."""

    def place(self, staged: Staged) -> None:
        place = staged.destination
        if staged.is_archive:
            self._merge(staged.src, self.root / place, place)
            return
        dest = self.root / place
        if dest.exists() or dest.is_symlink():
            raise self._clash(place)
        dest.parent.mkdir(parents=True, exist_ok=True)
        staged.src.rename(dest)

    def _merge(self, src: Path, dest: Path, shown: str) -> None:
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
                self._merge(entry, target, posixpath.join(shown, entry.name))
            elif target.exists() or target.is_symlink():
                raise self._clash(posixpath.normpath(posixpath.join(shown, entry.name)))
            else:
                entry.rename(target)

    def _clash(self, path: str) -> InstallError:
        return InstallError(
            f"two assets write the same path {path} in {self.shown}",
            hint="give one of them another 'destination' or 'layer'",
        )
