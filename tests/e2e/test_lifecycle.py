"""The packaged buildpack under the real CNB lifecycle, with the real grpc_health_probe."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import toml
from tools.cnb_lifecycle import BP_ID, LayoutPlatform, Lifecycle, Result
from tools.example_app import (
    EXAMPLE,
    PROBE_LAYER,
    PROBE_REPO,
    GrpcServer,
    serve_probe,
    stage_app,
)
from tools.github_standin import StandIn


def default_order(lc: Lifecycle) -> Path:
    return lc.order(
        [
            [
                {"id": "test/app", "version": "0.0.1"},
                {"id": BP_ID, "version": lc.version, "optional": True},
            ]
        ]
    )


def test_detect_build_and_launch_the_real_probe(
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

    d = lc.detect(default_order(lc))
    assert d.rc == 0, d.all
    assert [g["id"] for g in lc.group()["group"]] == ["test/app", BP_ID]

    b = lc.build()
    assert b.rc == 0, b.all
    assert "GitHub Release Assets" in b.out
    exe = lc.our_layers / PROBE_LAYER / "bin" / "grpc_health_probe"
    assert exe.read_bytes() == probe.read_bytes()
    assert f"Installed {exe}" in b.out
    assert "ELF amd64 static" in b.out

    # the launcher runs the declared process type against the live server
    r = lc.launch(process="health")
    assert r.rc == 0, r.all
    assert "status: SERVING" in r.all
    grpc_server.flip()
    r = lc.launch(process="health")
    assert r.rc == 4, r.all
    assert "NOT_SERVING" in r.all
    grpc_server.flip()

    # the layer's bin/ is on PATH at launch
    r = lc.launch("--", "grpc_health_probe", f"-addr=127.0.0.1:{grpc_server.port}")
    assert r.rc == 0, r.all
    assert "status: SERVING" in r.all

    # the link in the app dir is a short path to the same binary
    assert (lc.app / "bin" / "grpc_health_probe").resolve() == exe

    # docs/probes.md recommends the link path and says to paste the `Probe command:` line:
    # run exactly that, as a kubelet exec probe does (no launcher, no PATH, no CNB env).
    [line] = [x for x in b.out.splitlines() if x.startswith("  Probe command: ")]
    command = json.loads(line.removeprefix("  Probe command: "))
    assert command == [
        str(lc.app / "bin" / "grpc_health_probe"),
        f"-addr=127.0.0.1:{grpc_server.port}",
    ]
    kubelet = subprocess.run(command, env={}, cwd="/", capture_output=True, text=True, timeout=30)
    assert kubelet.returncode == 0, kubelet.stdout + kubelet.stderr
    grpc_server.flip()
    kubelet = subprocess.run(command, env={}, cwd="/", capture_output=True, text=True, timeout=30)
    assert kubelet.returncode == 4, kubelet.stdout + kubelet.stderr
    grpc_server.flip()

    metadata = toml.loads((lc.layers / "config" / "metadata.toml").read_text())
    health = [p for p in metadata["processes"] if p["type"] == "health"]
    assert health[0]["command"] == [str(exe)]
    labels = {lab["key"]: lab["value"] for lab in metadata.get("labels", [])}
    assert labels.get("probe-assets.github-assets.path.grpc_health_probe") == str(exe)
    sbom = lc.layers / "sbom" / "launch" / "probe-assets_github-assets" / PROBE_LAYER
    assert (sbom / "sbom.cdx.json").exists()
    spdx = json.loads((sbom / "sbom.spdx.json").read_text())
    assert "pkg:golang/google.golang.org/grpc@" in json.dumps(spdx)


def test_optional_buildpack_is_dropped_without_assets(lc: Lifecycle) -> None:
    shutil.copy2(EXAMPLE / "server.py", lc.app / "server.py")
    d = lc.detect(default_order(lc))
    assert d.rc == 0, d.all
    assert [g["id"] for g in lc.group()["group"]] == ["test/app"]


def test_chained_buildpack_requires_a_build_time_asset(
    lc: Lifecycle, standin: StandIn, probe: Path, probe_arm64: Path, probe_tag: str
) -> None:
    serve_probe(standin, probe, probe_arm64, probe_tag)
    (lc.app / "needs-tool.toml").write_text(
        f'repo = "{PROBE_REPO}"\nasset = "grpc_health_probe-{{os}}-{{arch}}"\n'
        f'tag = "{probe_tag}"\nbuild = true\n'
    )
    lc.platform_env(GITHUB_API_URL=standin.api_url)
    order = lc.order(
        [
            [
                {"id": BP_ID, "version": lc.version, "optional": True},
                {"id": "test/needs-tool", "version": "0.0.1"},
            ]
        ]
    )
    d = lc.detect(order)
    assert d.rc == 0, d.all
    assert [g["id"] for g in lc.group()["group"]] == [BP_ID, "test/needs-tool"]
    b = lc.build()
    assert b.rc == 0, b.all
    exe = lc.our_layers / PROBE_LAYER / "bin" / "grpc_health_probe"
    assert f"needs-tool sees: {exe}" in b.out


def test_an_archive_unpacked_at_the_layer_root_is_on_path_at_build_and_launch(
    lc: Lifecycle, standin: StandIn
) -> None:
    """kustomize's tarball holds the binary at its root, so by default it lands at the layer
    root, which the lifecycle does not put on PATH (only <layer>/bin): env/PATH.prepend does,
    for a later buildpack (build = true) and for `launcher -- kustomize`, and a rebuild that
    reuses the layer from the cache keeps doing so."""
    from tools.archives import Member, tar_bytes

    tool = b'#!/bin/sh\necho "kustomize ran: $0 $*"\n'
    tarball = tar_bytes([Member("kustomize", tool, 0o755), Member("LICENSE", b"Apache-2.0\n")])
    standin.add_release(
        "acme/kustomize", "v5.3.0", {"kustomize_v5.3.0_linux_amd64.tar.gz": tarball}
    )
    (lc.app / "needs-tool.toml").write_text(
        'repo = "acme/kustomize"\nasset = "kustomize_v{version}_{os}_{arch}.tar.gz"\n'
        'tag = "v5.3.0"\nbuild = true\n'
    )
    (lc.app / "needs-tool.name").write_text("kustomize")
    lc.platform_env(GITHUB_API_URL=standin.api_url)
    order = lc.order(
        [
            [
                {"id": BP_ID, "version": lc.version, "optional": True},
                {"id": "test/needs-tool", "version": "0.0.1"},
            ]
        ]
    )
    platform = LayoutPlatform(lc, order)
    exe = lc.our_layers / "acme_kustomize" / "kustomize"
    for build in ("Installing: no previous layer", "Reusing layer acme_kustomize"):
        phases = _phases_ok(platform.build_image())
        assert build in phases["builder"].out
        assert f"needs-tool sees: {exe}" in phases["builder"].out
        r = lc.launch("--", "kustomize", "build")
        assert r.rc == 0, r.all
        assert f"kustomize ran: {exe} build" in r.out


def write_analyzed(lc: Lifecycle, arch: str) -> Path:
    path = lc.base / "analyzed.toml"
    path.write_text(
        toml.dumps(
            {
                "run-image": {
                    "reference": "",
                    "image": "example/run",
                    "target": {"os": "linux", "arch": arch},
                }
            }
        )
    )
    return path


def test_arm64_target_picks_the_arm64_asset(
    lc: Lifecycle,
    standin: StandIn,
    probe: Path,
    probe_arm64: Path,
    probe_tag: str,
) -> None:
    serve_probe(standin, probe, probe_arm64, probe_tag)
    stage_app(lc.app, probe_tag, 50051)
    lc.platform_env(GITHUB_API_URL=standin.api_url)
    analyzed = write_analyzed(lc, "arm64")
    d = lc.detect(default_order(lc), "-analyzed", str(analyzed))
    assert d.rc == 0, d.all
    b = lc.build("-analyzed", str(analyzed))
    assert b.rc == 0, b.all
    exe = lc.our_layers / PROBE_LAYER / "bin" / "grpc_health_probe"
    assert exe.read_bytes() == probe_arm64.read_bytes()
    assert "grpc_health_probe-linux-arm64" in b.out
    assert "ELF arm64 static" in b.out


def test_elf_check_rejects_amd64_binary_under_an_arm64_name(
    lc: Lifecycle, standin: StandIn, probe: Path, probe_tag: str
) -> None:
    standin.add_release(PROBE_REPO, probe_tag, {"grpc_health_probe-linux-arm64": probe})
    stage_app(lc.app, probe_tag, 50051)
    lc.platform_env(GITHUB_API_URL=standin.api_url)
    analyzed = write_analyzed(lc, "arm64")
    assert lc.detect(default_order(lc), "-analyzed", str(analyzed)).rc == 0
    b = lc.build("-analyzed", str(analyzed))
    assert b.rc != 0
    assert "is built for amd64 (EM_X86_64) but the build targets arm64" in b.all
    assert not (lc.our_layers / PROBE_LAYER).exists()


def _phases_ok(results: list[tuple[str, Result]]) -> dict[str, Result]:
    for name, r in results:
        assert r.rc == 0, f"{name} failed:\n{r.all[-4000:]}"
    assert [n for n, _ in results] == ["analyzer", "detector", "restorer", "builder", "exporter"]
    return dict(results)


def test_rebuild_reuses_the_layer_of_the_previous_image(
    lc: Lifecycle, standin: StandIn, probe: Path, probe_arm64: Path, probe_tag: str
) -> None:
    serve_probe(standin, probe, probe_arm64, probe_tag)
    standin.add_release(PROBE_REPO, "v0.0.1-old", {"grpc_health_probe-linux-amd64": probe})
    stage_app(lc.app, probe_tag, 50051)
    lc.platform_env(GITHUB_API_URL=standin.api_url)
    platform = LayoutPlatform(lc, default_order(lc))
    layer_ref = f"{BP_ID}:{PROBE_LAYER}"

    first = _phases_ok(platform.build_image())
    assert "Installing: no previous layer" in first["builder"].out
    assert f"Adding layer '{layer_ref}'" in first["exporter"].all
    downloads = len(standin.storage_requests())
    assert downloads == 1

    # same config: the restorer brings back the layer (cache = true), nothing is fetched
    before = len(standin.requests)
    second = _phases_ok(platform.build_image())
    assert len(standin.requests) == before, "a pinned rebuild must make no request"
    assert f"Reusing layer {PROBE_LAYER}" in second["builder"].out
    assert f"Reusing layer '{layer_ref}'" in second["exporter"].all
    exe = lc.our_layers / PROBE_LAYER / "bin" / "grpc_health_probe"
    assert exe.read_bytes() == probe.read_bytes(), "restored from the cache as it was"

    # another tag: downloaded again
    stage_app(lc.app, "v0.0.1-old", 50051)
    third = _phases_ok(platform.build_image())
    assert "Installing: tag changed (" in third["builder"].out
    assert len(standin.storage_requests()) == downloads + 1


def test_air_gapped_build_from_a_dependency_mapping_binding(
    lc: Lifecycle, probe: Path, probe_tag: str, grpc_server: GrpcServer
) -> None:
    """No GitHub host reachable: the pinned probe comes from a binding in the platform dir."""
    import hashlib

    stage_app(lc.app, probe_tag, grpc_server.port)
    digest = hashlib.sha256(probe.read_bytes()).hexdigest()
    project = lc.app / "project.toml"
    project.write_text(
        project.read_text().replace(
            f'tag = "{probe_tag}"', f'tag = "{probe_tag}"\nsha256 = "{digest}"'
        )
    )
    binding = lc.platform / "bindings" / "probes"
    binding.mkdir(parents=True)
    (binding / "type").write_text("dependency-mapping\n")
    stored = lc.base / "mirror" / "grpc_health_probe"
    stored.parent.mkdir()
    shutil.copy2(probe, stored)
    (binding / digest).write_text(stored.as_uri() + "\n")
    with StandIn() as dead:  # every host refuses: nothing may reach GitHub
        dead.down = {"api", "storage", "web"}
        lc.platform_env(GITHUB_API_URL=dead.api_url, GITHUB_SERVER_URL=dead.web_url)
        assert lc.detect(default_order(lc)).rc == 0
        b = lc.build()
        assert b.rc == 0, b.all
        assert "from dependency-mapping binding probes" in b.out
        assert dead.requests == []
    r = lc.launch(process="health")
    assert r.rc == 0 and "status: SERVING" in r.all, r.all
