"""kpack- and Cloud Foundry-shaped builds: the lifecycle's phases one by one as a non-root
user, a real OCI registry on loopback for the run image, the previous image and the cache
image (tools/engines.py). The second build reuses the layer with zero requests to GitHub,
and the probe of the exported image answers a live gRPC server."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tools.cnb_lifecycle import BP_ID, Lifecycle, Result
from tools.engines import EnginePlatform, Registry
from tools.example_app import PROBE_LAYER, PROBE_REPO, GrpcServer, serve_probe, stage_app
from tools.github_standin import StandIn

# kpack speaks 0.9; the newest this lifecycle supports is checked below.
NEWEST = "0.15"
LABEL = "probe-assets.github-assets.path.grpc_health_probe"
TOKEN = "ghp_kpackBindingTOKEN0123456789abcdef"


@pytest.fixture
def registry(lc: Lifecycle) -> Iterator[Registry]:
    r = Registry(lc.base / "registry" / "blobs")
    yield r
    r.stop()


def order(lc: Lifecycle) -> Path:
    return lc.order(
        [
            [
                {"id": "test/app", "version": "0.0.1"},
                {"id": BP_ID, "version": lc.version, "optional": True},
            ]
        ]
    )


def phases_ok(results: list[tuple[str, Result]], want: list[str]) -> dict[str, Result]:
    for name, r in results:
        assert r.rc == 0, f"{name} failed:\n{r.all[-4000:]}"
    assert [n for n, _ in results] == want
    return dict(results)


KPACK = ["analyzer", "detector", "restorer", "builder", "exporter"]


@pytest.mark.parametrize("api", ["0.9", NEWEST])
def test_kpack_shaped_build_and_rebuild(
    lc: Lifecycle,
    registry: Registry,
    standin: StandIn,
    probe: Path,
    probe_arm64: Path,
    probe_tag: str,
    grpc_server: GrpcServer,
    api: str,
) -> None:
    serve_probe(standin, probe, probe_arm64, probe_tag)
    # kpack gives Secrets to buildpacks only as service bindings: the repo is private and
    # the token is in a `github` binding (kpack mounts them under <platform>/bindings)
    standin.make_private(PROBE_REPO, TOKEN)
    github = lc.platform / "bindings" / "github-token"
    github.mkdir(parents=True)
    (github / "type").write_text("github\n")
    (github / "token").write_text(TOKEN + "\n")
    source = lc.base / "source"
    source.mkdir()
    stage_app(source, probe_tag, grpc_server.port)
    lc.platform_env(GITHUB_API_URL=standin.api_url, BP_LOG_LEVEL="DEBUG")
    run_image = registry.push_run_image(lc.base)
    engine = EnginePlatform(lc, registry, order(lc), run_image, platform_api=api)
    image = f"{registry.host}/app:latest"
    bp_dir = lc.buildpacks / "probe-assets_github-assets"
    assert bp_dir.stat().st_uid == 0 and not bp_dir.stat().st_mode & 0o222, "read-only"

    first = phases_ok(engine.build(source, image), KPACK)
    assert "Installing: no previous layer" in first["builder"].out, first["builder"].all
    assert len(standin.storage_requests()) == 1
    # Platform API 0.9 has no run-image target: the lifecycle hands buildpacks the build
    # host's (its own GOARCH); bin/build falls back to the host itself when even that is
    # missing (test_platforms.py builds without CNB_TARGET_*)
    assert ("target" in (lc.layers / "analyzed.toml").read_text()) is (api != "0.9")
    assert "Target linux/amd64" in first["builder"].out
    assert any(q.headers.get("authorization") == f"Bearer {TOKEN}" for q in standin.requests)

    before = len(standin.requests)
    second = phases_ok(engine.build(source, image), KPACK)
    assert len(standin.requests) == before, "a pinned rebuild makes no request to GitHub"
    assert f"Reusing layer {PROBE_LAYER}" in second["builder"].out, second["builder"].all
    assert f"Reusing layer '{BP_ID}:{PROBE_LAYER}'" in second["exporter"].all

    # the probe of the exported image answers the live server
    labels = registry.config(image)["config"]["Labels"]
    exe = labels[LABEL]
    root = lc.base / "exported"
    registry.export(image, root)
    registry.export(f"{registry.host}/cache", lc.base / "cache-image")
    # the binding's token: nowhere in the image or the cache image, labels neither
    for path in [*root.rglob("*"), *(lc.base / "cache-image").rglob("*")]:
        if path.is_file() and not path.is_symlink():
            assert TOKEN.encode() not in path.read_bytes(), path
    assert TOKEN not in json.dumps(registry.config(image))
    assert TOKEN not in json.dumps(registry.config(f"{registry.host}/cache"))
    done = subprocess.run(
        [str(root / exe.lstrip("/")), f"-addr=127.0.0.1:{grpc_server.port}"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0 and "status: SERVING" in done.stdout + done.stderr, done


def test_cloud_foundry_shaped_build_and_rebuild(
    lc: Lifecycle,
    registry: Registry,
    standin: StandIn,
    probe: Path,
    probe_arm64: Path,
    probe_tag: str,
    grpc_server: GrpcServer,
) -> None:
    """No analyzer, so no previous image: only a cache dir brings the layer back, and the
    layer's `cache = true` is what makes the rebuild free."""
    serve_probe(standin, probe, probe_arm64, probe_tag)
    source = lc.base / "source"
    source.mkdir()
    stage_app(source, probe_tag, grpc_server.port)
    lc.platform_env(GITHUB_API_URL=standin.api_url)
    run_image = registry.push_run_image(lc.base)
    engine = EnginePlatform(lc, registry, order(lc), run_image, platform_api=NEWEST, kpack=False)
    image = f"{registry.host}/droplet:latest"
    steps = ["detector", "restorer", "builder", "exporter"]

    first = phases_ok(engine.build(source, image), steps)
    assert "Installing: no previous layer" in first["builder"].out, first["builder"].all
    before = len(standin.requests)
    assert before > 0

    second = phases_ok(engine.build(source, image), steps)
    assert len(standin.requests) == before, "the cache dir alone makes the rebuild free"
    assert f"Reusing layer {PROBE_LAYER}" in second["builder"].out, second["builder"].all
    exe = lc.our_layers / PROBE_LAYER / "bin" / "grpc_health_probe"
    assert exe.read_bytes() == probe.read_bytes(), "restored from the cache dir"
    done = subprocess.run(
        [str(exe), f"-addr=127.0.0.1:{grpc_server.port}"], capture_output=True, text=True,
        timeout=30,
    )  # fmt: skip
    assert done.returncode == 0 and "status: SERVING" in done.stdout + done.stderr, done


def test_the_newest_platform_api_is_the_newest_this_lifecycle_speaks(lc: Lifecycle) -> None:
    """NEWEST above follows the lifecycle: it runs that API and refuses the next one."""
    major, minor = NEWEST.split(".")
    for api, ok in ((NEWEST, True), (f"{major}.{int(minor) + 1}", False)):
        done = subprocess.run(
            [str(lc.cnb / "detector"), "-version"],
            env={"CNB_PLATFORM_API": api, "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert (done.returncode == 0) is ok, (api, done.stdout + done.stderr)
