"""The example gRPC app, its probe release and its server: shared by the demo and e2e tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import toml

from tools.github_standin import StandIn

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "grpc-app"
PROBE_REPO = "grpc-ecosystem/grpc-health-probe"
PROBE_LAYER = "grpc-ecosystem_grpc-health-probe"


def serve_probe(standin: StandIn, probe: Path, probe_arm64: Path, tag: str) -> None:
    """Publish the real probe binaries as a GitHub release, named as upstream names them."""
    standin.add_release(
        PROBE_REPO,
        tag,
        {"grpc_health_probe-linux-amd64": probe, "grpc_health_probe-linux-arm64": probe_arm64},
    )


def stage_app(app_dir: Path, tag: str, port: int) -> None:
    """Copy examples/grpc-app into app_dir, its probe pinned to tag and pointed at port."""
    for name in ("server.py", "requirements.txt", "Procfile"):
        shutil.copy2(EXAMPLE / name, app_dir / name)
    config = toml.loads((EXAMPLE / "project.toml").read_text())
    [asset] = config["_"]["metadata"]["githubassets"]
    asset["tag"] = tag
    asset["args"] = [f"-addr=127.0.0.1:{port}"]
    (app_dir / "project.toml").write_text(toml.dumps(config))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class GrpcServer:
    """The example server, live on 127.0.0.1:port."""

    port: int
    proc: subprocess.Popen[str]

    @classmethod
    def start(cls) -> GrpcServer:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, str(EXAMPLE / "server.py")],
            env={**os.environ, "PORT": str(port)},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening" not in line:
            proc.kill()
            raise RuntimeError(f"example server did not start: {line!r}")
        return cls(port, proc)

    def flip(self) -> None:
        """SERVING <-> NOT_SERVING."""
        self.proc.send_signal(signal.SIGUSR1)
        time.sleep(0.3)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


# The project.toml of cage1016/github-assets-cnb's README (its youtubedr asset is the
# amd64 one here, so the ELF check passes on this machine); it must work unchanged.
CAGE1016_PROJECT = """
[[build.env]]
name = "APITEST_TOOLCHAIN_TOKEN"
value = "<github-token>"

[[metadata.githubassets]]
repo = "kkdai/youtube"
asset = "youtubedr_2.7.0_linux_amd64.tar.gz"
destination = "bin"

[[metadata.githubassets]]
repo = "qeek-dev/apitest-toolchain"
token_env = "APITEST_TOOLCHAIN_TOKEN"
asset = "apitest-toolchain-linux-amd64"
destination = "bin/apitest-toolchain"
tag = "v0.1.0"

[[metadata.githubassets]]
repo = "stedolan/jq"
asset = "jq-linux64"
destination = "bin/jq"
strip_components = 0
"""

# The project of the blog post that introduced this kind of buildpack (shared/seeds/002):
# cage1016's three assets plus the grpc_health_probe for the Kubernetes probes.
BLOG_PROJECT = (
    CAGE1016_PROJECT
    + """
[[metadata.githubassets]]
repo = "grpc-ecosystem/grpc-health-probe"
asset = "grpc_health_probe-linux-amd64"
destination = "bin/grpc_health_probe"
"""
)
