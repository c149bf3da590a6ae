"""Entries without `asset`: bin/build and `github-assets lock` choose the asset from the
release (every asset of a copy of a real release listed), log the choice, record it in
the lock, and a locked build never chooses again."""

from __future__ import annotations

import os
import subprocess
import sys

import toml
from tools.github_standin import StandIn
from tools.releases import get, publish

from support import ROOT, CnbDirs

HADOLINT = '[[metadata.githubassets]]\nrepo = "hadolint/hadolint"\ntag = "v2.12.0"\n'


def command(s: StandIn, cnb: CnbDirs, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GITHUB_API_URL": s.api_url, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "github_assets", *args],
        cwd=cnb.app, env=env, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_a_repo_and_tag_entry_builds_with_the_chosen_asset(standin: StandIn, cnb: CnbDirs) -> None:
    copy = get("hadolint")
    publish(standin, copy)
    cnb.project(HADOLINT)
    for arch, asset in (("amd64", "hadolint-Linux-x86_64"), ("arm64", "hadolint-Linux-arm64")):
        r = cnb.detect_and_build({"GITHUB_API_URL": standin.api_url, "CNB_TARGET_ARCH": arch})
        assert r.rc == 0, r.all
        assert f"Selected {asset} for linux/{arch} (" in r.out
        installed = cnb.layers / "hadolint_hadolint" / "bin" / "hadolint"
        assert installed.read_bytes() == copy.assets[asset], "the name is cut before Linux"
        meta = toml.loads((cnb.layers / "hadolint_hadolint.toml").read_text())["metadata"]
        assert meta["assets"][0]["verified_by"] == f"{asset}.sha256"


def test_a_tie_fails_naming_every_asset_and_its_rule(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin, get("cosign"))
    cnb.project('[[metadata.githubassets]]\nrepo = "sigstore/cosign"\ntag = "v2.2.1"\n')
    r = cnb.detect_and_build({"GITHUB_API_URL": standin.api_url, "CNB_TARGET_ARCH": "amd64"})
    assert r.rc == 1
    first = r.err.splitlines()[0]
    assert first == (
        "error: project.toml: [[metadata.githubassets]] #1 (repo sigstore/cosign): failed to "
        "choose an asset of sigstore/cosign v2.2.1 for linux/amd64: 2 assets tie "
        "(cosign-linux-amd64, cosign-linux-pivkey-pkcs11key-amd64); "
        "set 'asset' in the entry to the one you want"
    )
    assert len(r.err.splitlines()) == 1 + len(get("cosign").assets), "every asset listed"
    assert "  cosign-linux-amd64.sig: companion file (.sig)" in r.err
    assert "  cosign_2.2.1_amd64.deb: package (.deb)" in r.err
    assert "  cosign-darwin-amd64: other OS (darwin)" in r.err
    assert "Traceback" not in r.all


def test_the_lock_records_the_choice_and_a_locked_build_never_chooses(
    standin: StandIn, cnb: CnbDirs
) -> None:
    publish(standin, get("hadolint"))
    cnb.project(HADOLINT)
    made = command(standin, cnb, "lock")
    assert made.returncode == 0, made.stderr
    lock = toml.loads((cnb.app / "github-assets.lock").read_text())
    names = {e["target"]: e["name"] for e in lock["assets"]}
    assert names == {"linux/amd64": "hadolint-Linux-x86_64", "linux/arm64": "hadolint-Linux-arm64"}
    assert all("asset" not in e for e in lock["assets"])
    before = len(standin.api_requests())
    r = cnb.detect_and_build({"GITHUB_API_URL": standin.api_url, "CNB_TARGET_ARCH": "arm64"})
    assert r.rc == 0, r.all
    assert "Selected" not in r.out
    assert len(standin.api_requests()) == before, "a locked build asks the API nothing"
    installed = cnb.layers / "hadolint_hadolint" / "bin" / "hadolint"
    assert installed.read_bytes() == get("hadolint").assets["hadolint-Linux-arm64"]


def test_on_a_musl_run_image_a_gnu_build_is_never_chosen(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin, get("bat"))
    cnb.project('[[metadata.githubassets]]\nrepo = "sharkdp/bat"\ntag = "v0.24.0"\n'
                'strip_components = 1\nfiles = { "bin/bat" = "bat" }\n')  # fmt: skip
    env = {"GITHUB_API_URL": standin.api_url, "CNB_TARGET_DISTRO_NAME": "alpine"}
    amd = cnb.detect_and_build({**env, "CNB_TARGET_ARCH": "amd64"})
    assert amd.rc == 0, amd.all
    assert "Selected bat-v0.24.0-x86_64-unknown-linux-musl.tar.gz for linux/amd64" in amd.out
    arm = cnb.detect_and_build({**env, "CNB_TARGET_ARCH": "arm64"})
    assert arm.rc == 1
    assert "for linux/arm64: none of its" in arm.err
    assert "  bat-v0.24.0-aarch64-unknown-linux-gnu.tar.gz: gnu build on a musl distro" in arm.err


def test_a_rebuild_reuses_the_layer_without_choosing_again(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin, get("hadolint"))
    cnb.project(HADOLINT)
    env = {"GITHUB_API_URL": standin.api_url, "CNB_TARGET_ARCH": "amd64"}
    assert cnb.detect_and_build(env).rc == 0
    cnb.simulate_rebuild()
    before = len(standin.requests)
    r = cnb.detect_and_build(env)
    assert r.rc == 0, r.all
    assert "Reusing layer hadolint_hadolint" in r.out and "Selected" not in r.out
    assert len(standin.requests) == before, "a pinned tag's rebuild asks nothing"
