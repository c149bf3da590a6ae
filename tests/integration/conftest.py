"""Fixtures for running bin/detect under a chosen python3, or with none at all."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

PYENV = Path.home() / ".pyenv" / "versions"


def _version(exe: str) -> tuple[int, int] | None:
    out = subprocess.run(
        [exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    m = re.match(r"^(\d+)\.(\d+)$", out.stdout.strip())
    return (int(m.group(1)), int(m.group(2))) if out.returncode == 0 and m else None


def python310() -> str | None:
    """A CPython 3.10 (the one supported version without tomllib), if this machine has one."""
    candidates = [str(p) for p in sorted(PYENV.glob("3.10*/bin/python3"))]
    candidates += [c for c in (shutil.which("python3.10"),) if c]
    return next((c for c in candidates if _version(c) == (3, 10)), None)


@pytest.fixture
def no_python_path(tmp_path: Path) -> str:
    """A PATH with the coreutils the shims use and no python at all."""
    d = tmp_path / "nopython"
    d.mkdir()
    for tool in ("sh", "dirname", "grep", "sed", "cat", "cp", "mkdir", "realpath", "readlink"):
        found = shutil.which(tool, path="/usr/bin:/bin")
        assert found, tool
        (d / tool).symlink_to(found)
    return str(d)


@pytest.fixture(params=["tomllib", "tomli"])
def parser(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Env for bin/detect so that it parses TOML with tomllib (python3 >= 3.11 from PATH) or
    with the vendored tomli (a python3 3.10 first on PATH)."""
    if request.param == "tomllib":
        python3 = shutil.which("python3")
        version = _version(python3) if python3 else None
        if version is None or version < (3, 11):
            pytest.skip(f"python3 on PATH is {version}, not >= 3.11")
        return {}
    exe = python310()
    if exe is None:
        pytest.skip("no CPython 3.10 on this machine (pyenv or python3.10 on PATH)")
    d = tmp_path / "python310"
    d.mkdir()
    (d / "python3").symlink_to(exe)
    return {"PATH": f"{d}:/usr/bin:/bin"}
