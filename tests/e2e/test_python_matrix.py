"""The packaged buildpack's detect+build under every python3 >= 3.10 on this machine."""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from tools.github_standin import StandIn

from conftest import PYTHON_MATRIX
from support import CnbDirs, host_binary

PYENV = Path("/root/.pyenv/versions")
REPO = "grpc-ecosystem/grpc-health-probe"


def interpreters() -> list[tuple[str, Path]]:
    """(version, path) of every CPython found: pyenv versions and the system python3."""
    found: dict[str, Path] = {}
    candidates = [*sorted(PYENV.glob("*/bin/python")), Path("/usr/bin/python3")]
    for exe in candidates:
        if not exe.exists():
            continue
        out = subprocess.run(
            [str(exe), "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode == 0 and re.match(r"^\d+\.\d+\.\d+$", out.stdout.strip()):
            found.setdefault(out.stdout.strip(), exe)
    return sorted(found.items(), key=lambda kv: tuple(int(x) for x in kv[0].split(".")))


def _modern(v: str) -> bool:
    return tuple(int(x) for x in v.split(".")[:2]) >= (3, 10)


ALL = interpreters()
MODERN = [(v, p) for v, p in ALL if _modern(v)]
OLD = [(v, p) for v, p in ALL if not _modern(v)]


@pytest.fixture(scope="module")
def package_dir(package: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("bp")
    with tarfile.open(package) as tf:
        tf.extractall(dest, filter="data")
    return dest


def only_python(tmp: Path, exe: Path) -> str:
    """A PATH where python3 is exactly this interpreter (plus the tools the shims use, and
    no other python: the shims would pass over an old python3 for a python3.1x there)."""
    shim = tmp / "pybin"
    shim.mkdir()
    (shim / "python3").symlink_to(exe)
    for tool in ("sh", "grep", "sed", "cat", "realpath", "readlink"):
        found = shutil.which(tool, path="/usr/bin:/bin")
        assert found, tool
        (shim / tool).symlink_to(found)
    return str(shim)


def test_found_at_least_one_supported_python() -> None:
    assert MODERN, f"no python3 >= 3.10 found among {ALL}"


@pytest.mark.parametrize(("version", "exe"), MODERN, ids=[v for v, _ in MODERN])
def test_detect_and_build_under(
    version: str, exe: Path, package_dir: Path, standin: StandIn, tmp_path: Path
) -> None:
    standin.add_release(REPO, "v1", {"grpc_health_probe-linux-amd64": host_binary()})
    cnb = CnbDirs(tmp_path / "cnb", buildpack_dir=package_dir)
    # TOML 1.0 that toml 0.10 refused (a mixed-type array), after a byte-order mark: parsed
    # by tomllib on 3.11+ and by the packaged vendor/tomli on 3.10.
    cnb.project(
        '\ufeff[tool.lint]\nlevels = [1, "warn"]\n\n'
        f'[[metadata.githubassets]]\nrepo = "{REPO}"\nasset = "grpc_health_probe-{{os}}-{{arch}}"\n'
        'tag = "v1"\n'
    )
    env = {"GITHUB_API_URL": standin.api_url, "PATH": only_python(tmp_path, exe)}
    r = cnb.detect_and_build(env)
    assert r.rc == 0, r.all
    assert (cnb.layers / "grpc-ecosystem_grpc-health-probe" / "bin" / "grpc_health_probe").exists()
    PYTHON_MATRIX.append(f"python {version} ({exe}): detect + build OK")


@pytest.mark.parametrize(("version", "exe"), OLD, ids=[v for v, _ in OLD])
def test_older_python_detects_in_sh_and_build_explains(
    version: str, exe: Path, package_dir: Path, tmp_path: Path
) -> None:
    cnb = CnbDirs(tmp_path / "cnb", buildpack_dir=package_dir)
    cnb.project('[[metadata.githubassets]]\nrepo = "a/b"\nasset = "x"\n')
    env = {"PATH": only_python(tmp_path, exe)}
    d = cnb.detect(env)
    assert d.rc == 0, d.all
    requires = cnb.plan()["requires"]
    assert {"name": "cpython", "metadata": {"build": True}} in requires
    cnb.bp_plan_from_detect()
    r = cnb.build(env)
    assert r.rc == 1
    assert r.err.startswith("error: probe-assets/github-assets needs python3 >= 3.10")
    assert f"found {version}" in r.err
    [line] = r.err.splitlines()
    assert "add a CPython buildpack (e.g. paketo-buildpacks/cpython) before this one" in line
    assert cnb.plan()["or"][0]["requires"] == [requires[0]], "the alternative without cpython"
    PYTHON_MATRIX.append(
        f"python {version} ({exe}): detect decided in sh (requires cpython), build refused"
    )
