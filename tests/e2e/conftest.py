"""E2E fixtures: the packaged buildpack, the real probe, a live gRPC server, the lifecycle."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tools.cnb_lifecycle import ROOT, Lifecycle, missing_tools, tools_bin
from tools.example_app import GrpcServer

# Filled by test_python_matrix, shown at the end of the run.
PYTHON_MATRIX: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if PYTHON_MATRIX:
        terminalreporter.write_sep("-", "python3 matrix (packaged buildpack)")
        for line in sorted(PYTHON_MATRIX):
            terminalreporter.write_line(line)


BUILDPACKS = Path(__file__).parent / "buildpacks"


@pytest.fixture(scope="session", autouse=True)
def real_parts() -> None:
    """No silent skip: without the real lifecycle and probe the suite fails and says why."""
    reason = missing_tools()
    if reason:
        pytest.fail(f"e2e needs the real parts: {reason}", pytrace=False)


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The buildpack as platforms get it: `make package`'s .tgz, not the source tree."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "package.py"), str(out)], check=True)
    [tgz] = out.glob("*.tgz")
    with tarfile.open(tgz) as tf:
        names = tf.getnames()
    assert "buildpack.toml" in names and "bin/build" in names
    assert any(n.startswith("vendor/requests/") for n in names)
    return tgz


@pytest.fixture(scope="session")
def probe() -> Path:
    return tools_bin() / "grpc_health_probe"


@pytest.fixture(scope="session")
def probe_arm64() -> Path:
    return tools_bin() / "grpc_health_probe-linux-arm64"


@pytest.fixture(scope="session")
def probe_tag() -> str:
    version_file = tools_bin() / "grpc_health_probe.version"
    return version_file.read_text().strip() if version_file.exists() else "v0.4.40"


@pytest.fixture
def lc(package: Path) -> Iterator[Lifecycle]:
    life = Lifecycle(
        package,
        buildpacks={
            name: BUILDPACKS / name.split("/")[1]
            for name in ("test/app", "test/needs-tool", "test/cpython")
        },
    )
    yield life
    life.close()


@pytest.fixture
def grpc_server() -> Iterator[GrpcServer]:
    server = GrpcServer.start()
    yield server
    server.stop()
