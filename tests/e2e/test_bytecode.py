"""The package ships bytecode (contract, "Packaging"): run as builders run it, read-only and
as a non-root user, no Python of the matrix compiles any module of ours or of the vendored
dependencies, and nothing is written into the buildpack dir."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from scripts.package import MINORS, interpreter
from tools.builder import (
    ReadOnlyPackage,
    python_dir,
    reachable_python,
    scratch,
    system_python,
    workspace,
)
from tools.github_standin import StandIn

from support import Phase, host_binary, tar_gz

VERSIONS = [f"{a}.{b}" for a, b in MINORS] + ["system"]
CODE_FROM = "# code object from "
"""python -v: "# code object from '<x.pyc>'" for bytecode read, "... <x.py>" for a compile."""


@pytest.fixture(scope="module")
def read_only(package: Path) -> Iterator[ReadOnlyPackage]:
    with ReadOnlyPackage(package) as ro:
        yield ro


@pytest.fixture(scope="module")
def pythons() -> Iterator[Path]:
    base = scratch("ga-pythons-")
    yield base
    shutil.rmtree(base, ignore_errors=True)


def loaded_from(phase: Phase, package: Path) -> list[str]:
    """The files under the package dir whose code objects this phase loaded (python -v)."""
    out = []
    for line in phase.err.splitlines():
        assert not line.startswith("# could not create"), line
        if line.startswith(CODE_FROM):
            path = line.removeprefix(CODE_FROM).strip("'")
            if path.startswith(f"{package}/"):
                out.append(path.removeprefix(f"{package}/"))
    return out


def module(pyc: str) -> str:
    """vendor/x/__pycache__/y.cpython-311.pyc -> vendor/x/y"""
    where, name = pyc.rsplit("/__pycache__/", 1)
    return f"{where}/{name.split('.')[0]}"


@pytest.mark.parametrize("version", VERSIONS)
def test_nothing_is_compiled_at_build_time(
    version: str, read_only: ReadOnlyPackage, pythons: Path, standin: StandIn
) -> None:
    if version == "system":
        exe = system_python()
        if exe is None:
            pytest.skip("/usr/bin/python3 is missing or older than 3.10")
    else:
        found = interpreter(MINORS[VERSIONS.index(version)])
        assert found, f"make package needs CPython {version} too"
        exe = found
    python = reachable_python(exe, pythons)
    tool = host_binary()  # an ELF executable: the build imports the ELF check
    standin.add_release("acme/tool", "v1", {"tool-linux-amd64": tool})
    standin.add_release("acme/pack", "v1", {"pack-linux-amd64.tar.gz": tar_gz({"bin/p": tool})})
    config = "".join(
        f'[[metadata.githubassets]]\nrepo = "acme/{name}"\nasset = "{asset}"\ntag = "v1"\n\n'
        for name, asset in (("tool", "tool-{os}-{arch}"), ("pack", "pack-{os}-{arch}.tar.gz"))
    )
    base = scratch("ga-bytecode-")
    try:
        # python3 -v (-E does not stop it, as it would PYTHONVERBOSE): every module it loads
        # says where its code object came from.
        path = f"{python_dir(python, base / 'python', ('-v',))}:/usr/bin:/bin"
        cnb = workspace(base / "cnb", config, read_only.dir)
        env = {"GITHUB_API_URL": standin.api_url, "PATH": path}
        detect = cnb.detect(env)
        assert detect.rc == 0, detect.all
        cnb.bp_plan_from_detect()
        cold = cnb.build(env)
        assert cold.rc == 0, cold.all
        cnb.simulate_rebuild()
        requests = len(standin.requests)
        rebuild = cnb.build(env)
        assert rebuild.rc == 0, rebuild.all
        assert len(standin.requests) == requests, "the rebuild reuses both layers"
    finally:
        shutil.rmtree(base, ignore_errors=True)

    tag = "" if version == "system" else f".cpython-{version.replace('.', '')}.pyc"
    for phase in (detect, cold, rebuild):
        loaded = loaded_from(phase, read_only.dir)
        assert loaded, phase.err[-2000:]
        compiled = [p for p in loaded if not p.endswith(".pyc")]
        assert not compiled, f"compiled at run time: {compiled}"
        assert all("/__pycache__/" in p and p.endswith(tag) for p in loaded), loaded
    modules = {module(p) for p in loaded_from(cold, read_only.dir)}
    for expected in (
        "src/github_assets/build",
        "src/github_assets/elf",
        "vendor/requests/sessions",
        "vendor/urllib3/connectionpool",
        "vendor/certifi/core",
    ):
        assert expected in modules, sorted(modules)
    if version == "3.10":  # no tomllib: the vendored tomli parses project.toml
        assert "vendor/tomli/_parser" in {module(p) for p in loaded_from(detect, read_only.dir)}
    assert read_only.listing() == read_only.entries, "the run wrote into the buildpack dir"
