"""No python3 on the build image (Paketo base): a CPython buildpack, or a build that says so."""

from __future__ import annotations

from pathlib import Path

import toml
from tools.cnb_lifecycle import BP_ID, Lifecycle
from tools.example_app import PROBE_LAYER, GrpcServer, serve_probe, stage_app
from tools.github_standin import StandIn


def order_with_cpython(lc: Lifecycle) -> Path:
    return lc.order(
        [
            [
                {"id": "test/cpython", "version": "0.0.1", "optional": True},
                {"id": BP_ID, "version": lc.version, "optional": True},
                {"id": "test/app", "version": "0.0.1"},
            ]
        ]
    )


def test_no_python3_on_the_builder(
    lc: Lifecycle,
    standin: StandIn,
    probe: Path,
    probe_arm64: Path,
    probe_tag: str,
    grpc_server: GrpcServer,
) -> None:
    serve_probe(standin, probe, probe_arm64, probe_tag)
    stage_app(lc.app, probe_tag, grpc_server.port)
    lc.platform_env(GITHUB_API_URL=standin.api_url)
    lc.without_python()

    d = lc.detect(order_with_cpython(lc))
    assert d.rc == 0, d.all
    assert [g["id"] for g in lc.group()["group"]] == ["test/cpython", BP_ID, "test/app"]
    plan = (lc.base / "plan.toml").read_text()
    assert 'name = "cpython"' in plan

    b = lc.build()
    assert b.rc == 0, b.all
    assert "cpython: contributed Python 3" in b.out
    exe = lc.our_layers / PROBE_LAYER / "bin" / "grpc_health_probe"
    assert exe.read_bytes() == probe.read_bytes()

    r = lc.launch(process="health")
    assert r.rc == 0, r.all
    assert "status: SERVING" in r.all


def test_same_order_with_python3_drops_the_cpython_buildpack(
    lc: Lifecycle, standin: StandIn, probe: Path, probe_arm64: Path, probe_tag: str
) -> None:
    serve_probe(standin, probe, probe_arm64, probe_tag)
    stage_app(lc.app, probe_tag, 50051)
    lc.platform_env(GITHUB_API_URL=standin.api_url)
    d = lc.detect(order_with_cpython(lc))
    assert d.rc == 0, d.all
    assert [g["id"] for g in lc.group()["group"]] == [BP_ID, "test/app"]
    b = lc.build()
    assert b.rc == 0, b.all
    assert (lc.our_layers / PROBE_LAYER / "bin" / "grpc_health_probe").exists()


def test_no_cpython_provider_keeps_the_buildpack_and_build_says_what_to_add(
    lc: Lifecycle, standin: StandIn, probe: Path, probe_arm64: Path, probe_tag: str
) -> None:
    """Paketo base + Go, a common kpack builder: no python3, no CPython buildpack. The
    buildpack must not leave the group without a word (the image would ship without its
    probe): the detector picks the plan alternative without cpython, and build fails."""
    serve_probe(standin, probe, probe_arm64, probe_tag)
    stage_app(lc.app, probe_tag, 50051)
    lc.platform_env(GITHUB_API_URL=standin.api_url)
    lc.without_python()
    order = lc.order(
        [
            [
                {"id": BP_ID, "version": lc.version, "optional": True},
                {"id": "test/app", "version": "0.0.1"},
            ]
        ]
    )

    d = lc.detect(order)
    assert d.rc == 0, d.all
    assert "participating" not in d.all, d.all
    assert [g["id"] for g in lc.group()["group"]] == [BP_ID, "test/app"]
    plan = toml.loads((lc.base / "plan.toml").read_text())
    names = {r["name"] for e in plan["entries"] for r in e["requires"]}
    assert names == {"github-assets"}, plan

    b = lc.build()
    assert b.rc != 0, b.all
    errors = [line for line in b.all.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: probe-assets/github-assets: no python3 >= 3.10 on PATH of the build image; add "
        "a CPython buildpack (e.g. paketo-buildpacks/cpython) before this one in the order"
    ], b.all
    assert not (lc.our_layers / PROBE_LAYER).exists()
    assert standin.requests == []
