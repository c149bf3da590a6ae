"""Fifty popular tools, installed from copies of their real releases (tools/releases.py:
same asset names per arch, archive formats, inner paths and checksum files; GitHub
digests null, as on releases from before mid-2025), for linux/amd64 and linux/arm64.

The configs are docs/cookbook.md's, most without `asset` (the build selects it among
every asset of the release): every one is built here, each target selects the expected
asset, and its layer must hold exactly the expected files, verified by the expected
authority.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import toml
from tools.github_standin import StandIn
from tools.releases import SIZE_ONLY, TARGETS, catalogue, publish

from support import ROOT, CnbDirs

COPIES = catalogue()


def layer_files(layer_dir: Path) -> set[str]:
    return {
        str(p.relative_to(layer_dir)) for p in layer_dir.rglob("*") if p.is_file() or p.is_symlink()
    }


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("key", COPIES)
def test_a_real_release_layout_installs_as_the_cookbook_says(
    standin: StandIn, cnb: CnbDirs, key: str, target: str
) -> None:
    copy = COPIES[key]
    publish(standin, copy)
    cnb.project(copy.toml)
    arch = target.split("/")[1]
    r = cnb.detect_and_build({"GITHUB_API_URL": standin.api_url, "CNB_TARGET_ARCH": arch})
    assert r.rc == 0, r.all
    assert "Traceback" not in r.all
    for entry in copy.entries:
        want = entry.expected[target]
        layer_dir = cnb.layers / want.layer
        if want.skipped:
            assert f"not available for {target} (targets)" in r.out
            continue
        if "asset" not in entry.config:
            assert f"Selected {want.asset} for {target} (" in r.out, "the cookbook's choice"
        assert layer_files(layer_dir) >= set(want.files), r.out
        if entry.config.get("files"):
            mine = {f for f in layer_files(layer_dir) if f in want.files}
            assert mine == set(want.files), "files installs exactly the mapped members"
        meta = toml.loads((cnb.layers / f"{want.layer}.toml").read_text())["metadata"]
        [inst] = [a for a in meta["assets"] if a["asset"] == want.asset]
        assert set(want.executables) <= set(inst["executables"]), inst
        for exe in want.executables:
            assert (layer_dir / exe).stat().st_mode & stat.S_IXUSR
        authority = "size only" if want.authority == SIZE_ONLY else want.authority
        assert inst["verified_by"] == ", ".join([authority, *want.provenance]), r.out
        if want.authority == SIZE_ONLY:
            assert f"Warning: only the size of {want.asset} was checked" in r.out


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_project_toml_example_builds(standin: StandIn, cnb: CnbDirs, arch: str) -> None:
    for key in ("grpc_health_probe", "yq", "kustomize", "jq-1.6"):
        publish(standin, COPIES[key])
    cnb.project((ROOT / "project.toml.example").read_text())
    r = cnb.detect_and_build({"GITHUB_API_URL": standin.api_url, "CNB_TARGET_ARCH": arch})
    assert r.rc == 0, r.all
    probe = cnb.layers / "grpc-ecosystem_grpc-health-probe" / "bin" / "grpc_health_probe"
    assert cnb.launch_toml()["processes"][0]["command"] == [str(probe)]
    assert (cnb.app / "bin" / "grpc_health_probe").resolve() == probe
    link = cnb.app / "bin" / "grpc_health_probe"
    assert f'  Probe command: ["{link}", "-addr=:50051"]' in r.out.splitlines()
    assert layer_files(cnb.layers / "mikefarah_yq") == {"bin/yq", "share/man/man1/yq.1"}
    assert layer_files(cnb.layers / "kubernetes-sigs_kustomize") == {"bin/kustomize"}
    assert "Resolved kubernetes-sigs/kustomize kustomize/v5.3.0" in r.out
    assert (cnb.layers / "jqlang_jq").exists() == (arch == "amd64")
