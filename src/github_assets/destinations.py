"""Where a staged asset goes: two destinations of the same pipeline result.

The pipeline (pipeline.py) stages an asset in a work dir; a destination places it, the
shape of pypa/installer's install(source, destination). A layer is a Tree in the build's
stage dir, renamed in by install.py once every asset verified; `github-assets install`
(cli_install.py) places into a Directory: a Tree in a stage dir inside the directory it
was given, moved in file by file once every asset is placed, and put back as it was when
a move fails. Placing moves (renames): the work dir is on the same filesystem.
"""

from __future__ import annotations

import os
import posixpath
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .errors import InstallError, os_error

if TYPE_CHECKING:
    from .pipeline import Staged


def make_dirs(path: Path) -> None:
    """path and its missing parents, each 0755 whatever the umask: the executables below
    are 0755 so that any user of the image runs them, which a 0700 directory would stop."""
    missing = []
    while not os.path.lexists(path):
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        directory.mkdir()
        directory.chmod(0o755)


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
        make_dirs(dest.parent)
        staged.src.rename(dest)

    def _merge(self, src: Path, dest: Path, shown: str) -> None:
        """Move the tree at src into dest; a path that already exists there is a clash."""
        make_dirs(dest)
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


class Directory:
    """Assets into a directory that may already hold other files (a plain dir, not a layer).

    place() stages into a Tree inside work (a dir inside root, so every move is a rename);
    commit() moves what was staged into root once every asset is placed: a file that is
    there already is replaced (a re-run, an upgrade), a directory is merged into. What would
    stop a move (a file where a directory must go, a directory where a file must go) is an
    InstallError before anything in root changes; an OS error in the middle puts back what
    root held, so a failure leaves root as it was.
    """

    def __init__(self, root: Path, work: Path) -> None:
        self.root = root
        self.work = work
        self.stage = Tree(work / "stage", str(root))
        self.stage.root.mkdir()

    def place(self, staged: Staged) -> None:
        self.stage.place(staged)

    def commit(self) -> list[str]:
        """Move the staged files into root; the paths (relative to root) now there."""
        dirs, files = self._plan()
        made: list[Path] = []
        moved: list[tuple[Path, Path | None]] = []  # (in root, the file it replaced, kept in work)
        previous = self.work / "previous"
        try:
            previous.mkdir()
            for rel in dirs:
                (self.root / rel).mkdir()
                made.append(self.root / rel)
            for i, rel in enumerate(files):
                dest = self.root / rel
                kept = None
                if dest.is_symlink() or dest.exists():
                    kept = previous / str(i)
                    os.rename(dest, kept)
                moved.append((dest, kept))
                os.rename(self.stage.root / rel, dest)
        except OSError as e:
            self._put_back(moved, made)
            raise os_error(e, f"move the installed files into {self.root}") from e
        return files

    def _plan(self) -> tuple[list[str], list[str]]:
        """The dirs to make in root and the files to move there, parents first; an
        InstallError for a path root holds as the other kind."""
        dirs, files = [], []
        for top, subdirs, names in os.walk(self.stage.root):
            # A symlink to a directory (an archive's `current -> lib`) moves as it is.
            names += [n for n in subdirs if os.path.islink(os.path.join(top, n))]
            subdirs[:] = sorted(n for n in subdirs if n not in names)
            base = Path(top).relative_to(self.stage.root)
            for name in subdirs:
                rel = (base / name).as_posix()
                kind = _kind(self.root / rel)
                if kind == "":
                    dirs.append(rel)
                elif kind != "dir":
                    raise self._in_the_way(rel, f"is a {kind}, where a directory must go")
            for name in sorted(names):
                rel = (base / name).as_posix()
                if _kind(self.root / rel) == "dir":
                    raise self._in_the_way(rel, "is a directory, where a file must go")
                files.append(rel)
        return dirs, files

    def _in_the_way(self, rel: str, what: str) -> InstallError:
        return InstallError(
            f"{self.root / rel} {what}; nothing was installed",
            hint="remove it, or install into another --dest",
        )

    @staticmethod
    def _put_back(moved: list[tuple[Path, Path | None]], made: list[Path]) -> None:
        """Undo commit's moves (best effort: the first error is the one reported)."""
        for dest, kept in reversed(moved):
            try:
                if dest.is_symlink() or dest.exists():
                    dest.unlink()
                if kept is not None:
                    os.rename(kept, dest)
            except OSError:
                continue
        for path in reversed(made):
            try:
                path.rmdir()
            except OSError:
                continue


def _kind(path: Path) -> str:
    """What is at path, not following a symlink: '' (nothing), 'dir', 'symlink', 'file'."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return ""
    if stat.S_ISDIR(mode):
        return "dir"
    return "symlink" if stat.S_ISLNK(mode) else "file"
