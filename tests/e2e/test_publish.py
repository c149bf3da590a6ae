"""`make publish`: pack pushes an image index for linux/amd64 and linux/arm64 to a real
registry (`crane registry serve` on loopback), read back with crane."""

from __future__ import annotations

import gzip
import io
import json
import os
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import toml
from tools.cnb_lifecycle import BP_DIRNAME, BP_ID, ROOT, tools_bin

PLATFORMS = {"linux/amd64", "linux/arm64"}


@pytest.fixture(scope="module")
def tools() -> Path:
    """No silent skip: without pack or crane this fails and says why."""
    b = tools_bin()
    for name in ("pack", "crane"):
        if not (b / name).is_file():
            pytest.fail(
                f"test_publish needs {b / name}: run `make tools` (scripts/install-tools.sh)",
                pytrace=False,
            )
    return b


@pytest.fixture(scope="module")
def registry(tools: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real OCI registry on a free loopback port (plain HTTP, in memory)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("registry") / "crane.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(tools / "crane"), "registry", "serve", "--address", f"127.0.0.1:{port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1):
                    break
            except (urllib.error.URLError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"crane registry serve did not come up on 127.0.0.1:{port}: "
                        + log.read_text(errors="replace"),
                        pytrace=False,
                    )
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def env(tmp: Path, tools: Path) -> dict[str, str]:
    """Tools first on PATH; an empty Docker config and pack home: no credentials of the host."""
    (tmp / "docker").mkdir(exist_ok=True)
    (tmp / "pack-home").mkdir(exist_ok=True)
    return {
        **os.environ,
        "PATH": f"{tools}:{os.environ['PATH']}",
        "DOCKER_CONFIG": str(tmp / "docker"),
        "PACK_HOME": str(tmp / "pack-home"),
    }


def crane(tools: Path, *args: str) -> bytes:
    done = subprocess.run(
        [str(tools / "crane"), *args], capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"crane {' '.join(args)}: {done.stderr.decode()}"
    return done.stdout


def crane_json(tools: Path, *args: str) -> Any:
    return json.loads(crane(tools, *args))


def test_make_publish_pushes_an_index_for_both_arches(
    tools: Path, registry: str, tmp_path: Path
) -> None:
    version = toml.loads((ROOT / "buildpack.toml").read_text())["buildpack"]["version"]
    ref = f"{registry}/probe-assets/github-assets:{version}"
    e = env(tmp_path, tools)

    done = subprocess.run(
        ["make", "-C", str(ROOT), "publish", f"IMAGE={ref}"],
        capture_output=True,
        text=True,
        env=e,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    # the .tgz `make package` writes (scripts/package.sh), to compare with
    pkg = subprocess.run(
        [str(ROOT / "scripts" / "package.sh"), str(tmp_path / "dist")],
        capture_output=True,
        text=True,
        env=e,
        timeout=600,
        check=True,
    ).stdout.split()
    tgz = Path(pkg[0])
    with tarfile.open(tgz) as tf:
        want = {
            m.name: (m.mode & 0o777, tf.extractfile(m).read())  # type: ignore[union-attr]
            for m in tf.getmembers()
            if m.isfile()
        }

    index = crane_json(tools, "manifest", ref)
    assert index["mediaType"] in (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ), index
    platforms = {
        f"{m['platform']['os']}/{m['platform']['architecture']}" for m in index["manifests"]
    }
    assert platforms == PLATFORMS, index
    assert len(index["manifests"]) == 2, index

    layer_digests = set()
    for platform in sorted(PLATFORMS):
        os_, arch = platform.split("/")
        config = crane_json(tools, "config", "--platform", platform, ref)
        assert (config["os"], config["architecture"]) == (os_, arch)
        labels = config["config"]["Labels"]
        meta = json.loads(labels["io.buildpacks.buildpackage.metadata"])
        assert meta["id"] == BP_ID
        assert meta["version"] == version
        layers = json.loads(labels["io.buildpacks.buildpack.layers"])[BP_ID][version]
        assert {f"{t['os']}/{t['arch']}" for t in layers["targets"]} == PLATFORMS
        assert layers["stacks"] == [{"id": "*"}]
        assert config["rootfs"]["diff_ids"] == [layers["layerDiffID"]]

        manifest = crane_json(tools, "manifest", "--platform", platform, ref)
        [layer] = manifest["layers"]
        layer_digests.add(layer["digest"])
        blob = crane(tools, "blob", f"{ref.rsplit(':', 1)[0]}@{layer['digest']}")
        prefix = f"cnb/buildpacks/{BP_DIRNAME}/{version}/"
        got: dict[str, tuple[int, bytes]] = {}
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as lt:
            for m in lt.getmembers():
                name = m.name.lstrip("/")
                if m.isdir():
                    assert (name + "/").startswith(f"cnb/buildpacks/{BP_DIRNAME}/"), name
                    continue
                assert m.isfile() and name.startswith(prefix), (platform, m.name, m.type)
                got[name[len(prefix) :]] = (m.mode & 0o777, lt.extractfile(m).read())  # type: ignore[union-attr]
        assert sorted(got) == sorted(want), platform
        for name, (mode, data) in want.items():
            assert got[name] == (mode, data), f"{platform}: {name} differs from the .tgz"

        # crane export flattens the image: the same files, nothing else
        with tarfile.open(
            fileobj=io.BytesIO(crane(tools, "export", "--platform", platform, ref, "-"))
        ) as ft:
            files = {m.name.lstrip("/") for m in ft.getmembers() if not m.isdir()}
        assert files == {prefix + n for n in want}

    assert len(layer_digests) == 1, "pure Python: both arches carry the same layer"


def test_make_publish_without_image_says_so(tmp_path: Path) -> None:
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "publish"],
        capture_output=True,
        text=True,
        env=env(tmp_path, tools_bin()),
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    [line] = [ln for ln in done.stderr.splitlines() if not ln.startswith("make")]
    assert line.startswith("error: IMAGE is not set; run make publish IMAGE=")
