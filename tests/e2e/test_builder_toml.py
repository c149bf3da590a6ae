"""The README's builder.toml, as is but for where its images come from, is one that `pack
builder create --publish` accepts against a real registry on loopback, with no Docker
daemon; the buildpack is referenced bare (docker://host:port/... fails in pack 0.40)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import toml
from tools.cnb_lifecycle import BP_ID, ROOT, tools_bin
from tools.engines import Registry, lifecycle_tgz

OURS = "ghcr.io/probe-assets/github-assets:"


def readme_builder_toml() -> dict[str, Any]:
    text = (ROOT / "README.md").read_text()
    [body] = [b for b in re.findall(r"^```toml\n(.*?)^```", text, re.M | re.S)
              if b.startswith("# builder.toml")]  # fmt: skip
    data: dict[str, Any] = toml.loads(body)
    return data


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    r = Registry(tmp_path_factory.mktemp("builder-registry") / "blobs")
    yield r
    r.stop()


def pack(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pack with no daemon to fall back on and no credentials of this host."""
    (tmp / "docker").mkdir(exist_ok=True)
    (tmp / "docker" / "config.json").write_text("{}")
    (tmp / "pack-home").mkdir(exist_ok=True)
    env = {
        **os.environ,
        "PATH": f"{tools_bin()}:{os.environ['PATH']}",
        "DOCKER_CONFIG": str(tmp / "docker"),
        "PACK_HOME": str(tmp / "pack-home"),
        "DOCKER_HOST": f"unix://{tmp}/no-docker.sock",
    }
    return subprocess.run(
        [str(tools_bin() / "pack"), *args], env=env, capture_output=True, text=True, timeout=300
    )


def stub_buildpack(dest: Path, bp_id: str) -> Path:
    """A buildpack with the id of one the README takes from Docker Hub (no access here)."""
    d = dest / bp_id.replace("/", "_")
    (d / "bin").mkdir(parents=True)
    for phase in ("detect", "build"):
        (d / "bin" / phase).write_text("#!/bin/sh\nexit 0\n")
        (d / "bin" / phase).chmod(0o755)
    (d / "buildpack.toml").write_text(
        f'api = "0.10"\n[buildpack]\nid = "{bp_id}"\nversion = "1.0.0"\n'
        '[[targets]]\nos = "linux"\narch = "amd64"\n'
    )
    return d


def local_config(registry: Registry, tmp: Path, ours: str) -> Path:
    """The README's builder.toml with every image on the loopback registry, the buildpacks
    of Docker Hub replaced by stubs of the same id, and the lifecycle from a local file."""
    config = readme_builder_toml()
    version = (tools_bin() / "lifecycle.version").read_text().strip().lstrip("v")
    for entry in config["buildpacks"]:
        uri = entry["uri"]
        if uri.startswith(OURS):
            entry["uri"] = ours
        else:
            bp_id = "paketo-buildpacks/" + uri.rsplit("/", 1)[1].split(":")[0]
            entry["uri"] = str(stub_buildpack(tmp / "stubs", bp_id))
    config["build"]["image"] = registry.push_run_image(tmp, "build", build=True)
    config["run"]["images"] = [{"image": registry.push_run_image(tmp, "run")}]
    config["lifecycle"] = {"uri": str(lifecycle_tgz(tmp, version))}
    path = tmp / "builder.toml"
    path.write_text(toml.dumps(config))
    return path


def test_the_readme_builder_toml_is_complete(tmp_path: Path) -> None:
    config = readme_builder_toml()
    assert config["build"]["image"] and config["run"]["images"][0]["image"]
    ids = [g["id"] for o in config["order"] for g in o["group"]]
    assert ids.index("paketo-buildpacks/cpython") < ids.index(BP_ID), "python3 first"
    assert ids.index("paketo-buildpacks/go") < ids.index(BP_ID), "after Go's build"
    assert not any(e["uri"].startswith("docker://") for e in config["buildpacks"])


def test_pack_builder_create_publishes_the_readme_builder(
    registry: Registry, tmp_path: Path
) -> None:
    version = toml.loads((ROOT / "buildpack.toml").read_text())["buildpack"]["version"]
    ours = f"{registry.host}/probe-assets/github-assets:{version}"
    done = subprocess.run(
        [str(ROOT / "scripts" / "publish.sh"), ours],
        env={**os.environ, "DOCKER_CONFIG": str(tmp_path)},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    config = local_config(registry, tmp_path, ours)

    builder = f"{registry.host}/builders/go-with-probes:latest"
    done = pack(tmp_path, "builder", "create", builder, "--config", str(config), "--publish")
    assert done.returncode == 0, done.stdout + done.stderr

    labels = registry.config(builder)["config"]["Labels"]
    meta = json.loads(labels["io.buildpacks.builder.metadata"])
    assert {"id": BP_ID, "version": version} in [
        {"id": b["id"], "version": b["version"]} for b in meta["buildpacks"]
    ]
    order = json.loads(labels["io.buildpacks.buildpack.order"])
    [group] = [o["group"] for o in order]
    assert [g["id"] for g in group] == [
        "paketo-buildpacks/cpython",
        "paketo-buildpacks/go",
        BP_ID,
    ]
    assert group[2].get("optional") is True

    # the spelling the README warns about: the same file with docker:// fails in pack 0.40
    data = toml.loads(config.read_text())
    for entry in data["buildpacks"]:
        if entry["uri"] == ours:
            entry["uri"] = f"docker://{ours}"
    config.write_text(toml.dumps(data))
    done = pack(tmp_path, "builder", "create", builder + "-2", "--config", str(config), "--publish")
    assert done.returncode != 0, "pack takes docker://host:port now: update the README"
    assert "unsupported protocol 'docker'" in done.stdout + done.stderr
