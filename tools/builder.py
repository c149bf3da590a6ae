"""Run the packaged buildpack as builders run it: the `make package` .tgz unpacked into a
read-only dir, bin/detect and bin/build run as a non-root user (the `cnb` user that
`make tools` creates, through setpriv) with a chosen python3 (tests and `make bench`).

On a builder the buildpack dir (/cnb/buildpacks/...) belongs to root and the lifecycle
runs as another user, so Python can neither write bytecode there nor find any it did not
ship: whatever the package lacks is compiled on every run.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tools.cnb_dirs import CnbDirs
from tools.cnb_lifecycle import USER


def build_user() -> pwd.struct_passwd | None:
    """The user the phases run as: `cnb` when we are root (None: we already are not)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        raise SystemExit(
            f"error: system user {USER!r} is missing; run `make tools` as root to create it"
        ) from None


def as_user(cmd: list[str]) -> list[str]:
    """cmd run as the build user (setpriv), or as is when this process is not root."""
    user = build_user()
    if user is None:
        return cmd
    setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
    ids = [f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups"]
    return [setpriv, *ids, "--", *cmd]


def give_to_user(path: Path) -> None:
    """path and everything under it owned by the build user (it writes there)."""
    user = build_user()
    if user is None:
        return
    for p in [path, *path.rglob("*")]:
        os.lchown(p, user.pw_uid, user.pw_gid)


def scratch(prefix: str) -> Path:
    """A new dir under /tmp that the build user can enter (pytest's tmp_path is 0700)."""
    base = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    base.chmod(0o755)
    return base


class ReadOnlyPackage:
    """The .tgz unpacked (or a buildpack dir copied) into a dir nobody may write
    (`chmod -R a-w`), owned by root."""

    def __init__(self, source: Path) -> None:
        self.base = scratch("ga-ro-package-")
        self.dir = self.base / "buildpack"
        if source.is_dir():
            shutil.copytree(source, self.dir, symlinks=True)
        else:
            self.dir.mkdir()
            with tarfile.open(source) as tf:
                tf.extractall(self.dir, filter="data")
        self.entries = self.listing()
        for p in [*self.dir.rglob("*"), self.dir]:
            if not p.is_symlink():
                p.chmod(stat.S_IMODE(p.stat().st_mode) & ~0o222)

    def listing(self) -> list[str]:
        """Every path in the package dir: a run that wrote bytecode would add to it."""
        return sorted(p.relative_to(self.dir).as_posix() for p in self.dir.rglob("*"))

    def close(self) -> None:
        for p in [self.dir, *self.dir.rglob("*")]:
            if p.is_dir() and not p.is_symlink():
                p.chmod(0o755)
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> ReadOnlyPackage:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@dataclass(frozen=True)
class Python:
    """An interpreter the build user can run, and the dir of its libpython when the
    loader must be told (LD_LIBRARY_PATH)."""

    exe: Path
    library_path: Path | None = None


def reachable_python(exe: Path, into: Path) -> Python:
    """exe, or where the build user can run the same interpreter.

    pyenv installs under /root (mode 0700 here), which the build user cannot enter: then
    its installation is hard-linked into `into` (the same files, no copy of the bytes;
    site-packages and the test suite left out), and the copy finds its stdlib next to
    itself; its libpython through LD_LIBRARY_PATH, as its RUNPATH names /root/.pyenv."""
    # The same interpreter, not only one that starts: a pyenv python3.11 run by a user who
    # cannot read its libpython falls back to the system's libpython3.11 (another prefix).
    probe = [str(exe), "-c", "import sys; print(sys.version, sys.prefix)"]
    mine = subprocess.run(probe, capture_output=True, text=True, check=True).stdout
    theirs = subprocess.run(as_user(probe), capture_output=True, text=True, check=False)
    if theirs.returncode == 0 and theirs.stdout == mine:
        return Python(exe)
    prefix = exe.resolve().parent.parent
    minor = exe.resolve().name.removeprefix("python")
    dest = into / prefix.name
    if not dest.exists():
        (dest / "bin").mkdir(parents=True)
        os.link(exe.resolve(), dest / "bin" / exe.resolve().name)

        def skip(d: str, names: list[str]) -> list[str]:
            other_minor = Path(d) == prefix / "lib"
            return [
                n
                for n in names
                if n in ("site-packages", "test", "pkgconfig")
                or (other_minor and n.startswith("python") and n != f"python{minor}")
            ]

        shutil.copytree(prefix / "lib", dest / "lib", copy_function=os.link, symlinks=True,
                        ignore=skip)  # fmt: skip
        for p in [dest, *dest.rglob("*")]:
            if p.is_dir():
                p.chmod(0o755)
    return Python(dest / "bin" / exe.resolve().name, dest / "lib")


def python_dir(python: Python, into: Path, flags: tuple[str, ...] = ()) -> Path:
    """A dir whose `python3` is that interpreter (flags go before the shim's own): first on
    PATH, bin/detect and bin/build run it."""
    into.mkdir(parents=True, exist_ok=True)
    shim = into / "python3"
    if not flags and python.library_path is None:
        shim.symlink_to(python.exe)  # no sh in between: what a build image has
    else:
        env = f"LD_LIBRARY_PATH='{python.library_path}' " if python.library_path else ""
        shim.write_text(f"#!/bin/sh\n{env}exec '{python.exe}' {' '.join(flags)} \"$@\"\n")
        shim.chmod(0o755)
    into.chmod(0o755)
    return into


def workspace(base: Path, config: str, package: Path) -> CnbDirs:
    """App, platform and layers dirs the build user owns, the phases run as that user."""
    cnb = CnbDirs(base, buildpack_dir=package)
    cnb.project(config)
    cnb.prefix = as_user([])
    give_to_user(base)
    return cnb


def system_python() -> Path | None:
    """/usr/bin/python3 when it is >= 3.10: the build image's python3, as builders have it."""
    exe = Path("/usr/bin/python3")
    if not exe.exists():
        return None
    out = subprocess.run(
        [str(exe), "-c", "import sys; print(sys.version_info >= (3, 10))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return exe if out.stdout.strip() == "True" else None
