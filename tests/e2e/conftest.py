"""E2E fixtures: the packaged buildpack, the real probe, a live gRPC server, the lifecycle."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tools.cnb_lifecycle import ROOT, Lifecycle, missing_tools, tools_bin

EXAMPLE = ROOT / "examples" / "grpc-app"
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
        buildpacks={"test/app": BUILDPACKS / "app", "test/needs-tool": BUILDPACKS / "needs-tool"},
    )
    yield life
    life.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class GrpcServer:
    port: int
    proc: subprocess.Popen[str]

    def flip(self) -> None:
        """SERVING <-> NOT_SERVING."""
        self.proc.send_signal(signal.SIGUSR1)
        time.sleep(0.3)


@pytest.fixture
def grpc_server() -> Iterator[GrpcServer]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLE / "server.py")],
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "listening" in line, line
    yield GrpcServer(port, proc)
    proc.terminate()
    proc.wait(timeout=10)
