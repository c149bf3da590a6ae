"""Builds that need no GitHub API: direct downloads, the lock, mirrors, bindings, offline
packages. bin/build, bin/detect and the github-assets command as subprocesses against the
loopback stand-in, whose hosts can be taken down; the API requests are counted."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from tools.github_standin import API, STORAGE, WEB, StandIn

from support import ROOT, CnbDirs, Phase, elf_bytes, tar_gz, write_plan

REPO = "acme/probe"
LAYER = "acme_probe"
TOKEN = "ghp_noApiTOKEN0123456789abcdef"
AMD = elf_bytes(size=40_000)
ARM = elf_bytes(183, size=40_000)
TOOLS = tar_gz({"tools-1/bin/tool": elf_bytes(size=20_000)})
EVERY_HOST = {API, STORAGE, WEB}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def publish(s: StandIn) -> None:
    s.add_release(REPO, "v1", {"probe-linux-amd64": AMD, "probe-linux-arm64": ARM})
    s.add_release("acme/tools", "v2", {"tools.tar.gz": TOOLS})


PINNED = f"""
[[metadata.githubassets]]
repo = "{REPO}"
asset = "probe-{{os}}-{{arch}}"
tag = "v1"
sha256 = {{ amd64 = "{sha(AMD)}", arm64 = "{sha(ARM)}" }}
"""
LATEST = f"""
[[metadata.githubassets]]
repo = "{REPO}"
asset = "probe-{{os}}-{{arch}}"

[[metadata.githubassets]]
repo = "acme/tools"
asset = "tools.tar.gz"
strip_components = 1
"""


def build(s: StandIn, cnb: CnbDirs, text: str | None = None, **env: str) -> Phase:
    if text is not None:
        cnb.project(text)
    write_plan(cnb)
    return cnb.build({"GITHUB_API_URL": s.api_url, "BP_GITHUB_ASSETS_BACKOFF": "0.01", **env})


def command(s: StandIn, cnb: CnbDirs, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "GITHUB_API_URL": s.api_url, "PYTHONPATH": str(ROOT / "src"), **env}
    return subprocess.run(
        [sys.executable, "-m", "github_assets", *args],
        cwd=cnb.app, env=full, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def installed(cnb: CnbDirs, name: str = "probe", layer: str = LAYER) -> bytes:
    return (cnb.layers / layer / "bin" / name).read_bytes()


# -- direct downloads -------------------------------------------------------------------


def test_a_pinned_public_asset_makes_no_api_request(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin)
    r = build(standin, cnb, PINNED, GITHUB_SERVER_URL=standin.web_url, GITHUB_TOKEN=TOKEN)
    assert r.rc == 0, r.all
    assert standin.api_requests() == []
    assert f"from {standin.web_url} (direct)" in r.out
    assert installed(cnb) == AMD
    web = standin.web_requests()
    assert web and all(
        "authorization" not in q.headers for q in [*web, *standin.storage_requests()]
    )


def test_without_server_url_the_api_base_serves_downloads_too(
    standin: StandIn, cnb: CnbDirs
) -> None:
    publish(standin)
    r = build(standin, cnb, PINNED)
    assert r.rc == 0, r.all
    assert standin.api_requests() == [] and standin.web_requests()


def test_a_direct_404_falls_back_to_the_api(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin)
    standin.make_private(REPO, TOKEN)  # private: the download URL answers 404 without a token
    r = build(standin, cnb, PINNED, GITHUB_SERVER_URL=standin.web_url, GITHUB_TOKEN=TOKEN)
    assert r.rc == 0, r.all
    assert "(direct) (HTTP 404); asking the GitHub API" in r.out
    assert installed(cnb) == AMD
    assert all("authorization" not in q.headers for q in standin.web_requests())


# -- the lock ----------------------------------------------------------------------------


def test_lock_then_build_with_the_api_down(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin)
    cnb.project(LATEST)
    assert command(standin, cnb, "lock", "--check").returncode == 1
    made = command(standin, cnb, "lock")
    assert made.returncode == 0, made.stderr
    assert "wrote github-assets.lock (4 assets)" in made.stdout
    text = (cnb.app / "github-assets.lock").read_text()
    assert 'resolved_tag = "v1"' in text and f'sha256 = "{sha(AMD)}"' in text
    assert command(standin, cnb, "lock").stdout.endswith("wrote github-assets.lock (4 assets)\n")
    assert (cnb.app / "github-assets.lock").read_text() == text, "a re-lock is no diff"
    assert command(standin, cnb, "lock", "--check").returncode == 0

    standin.add_release(REPO, "v2", {"probe-linux-amd64": b"newer", "probe-linux-arm64": b"x"})
    before = len(standin.api_requests())
    standin.down = {API}
    r = build(standin, cnb, GITHUB_SERVER_URL=standin.web_url)
    assert r.rc == 0, r.all
    assert "Using github-assets.lock (4 assets)" in r.out
    assert installed(cnb) == AMD, "latest stays at the locked v1"
    assert "(lock, " in r.out
    assert len(standin.api_requests()) == before  # none reached the API host


def test_a_stale_lock_says_to_re_run_lock(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin)
    cnb.project(LATEST)
    assert command(standin, cnb, "lock").returncode == 0
    cnb.project(LATEST.replace("strip_components = 1", 'strip_components = 1\ntag = "v2"'))
    check = command(standin, cnb, "lock", "--check")
    assert check.returncode == 1
    assert "has no entry for acme/tools tools.tar.gz on linux/amd64; re-run github-assets lock" in (
        check.stdout
    )
    r = build(standin, cnb)
    assert r.rc == 1 and "Traceback" not in r.err
    assert r.err.startswith(
        "error: project.toml: [[metadata.githubassets]] #2 (repo acme/tools): github-assets.lock "
        "has no entry for acme/tools tools.tar.gz on linux/amd64; re-run github-assets lock"
    )


def test_command_check_and_usage(standin: StandIn, cnb: CnbDirs) -> None:
    cnb.project(LATEST)
    r = command(standin, cnb, "check")
    assert r.returncode == 0
    assert "  linux/arm64: probe-linux-arm64" in r.stdout
    assert command(standin, cnb, "lock", "--target", "linux").returncode == 2
    assert command(standin, cnb, "frobnicate").returncode == 2
    cnb.project('[[metadata.githubassets]]\nrepo = "acme"\n')
    bad = command(standin, cnb, "check")
    assert bad.returncode == 1 and bad.stderr.startswith("error: project.toml: ")
    assert "Traceback" not in bad.stderr


def test_a_trust_on_first_use_lock_does_not_satisfy_the_require_knob(
    standin: StandIn, cnb: CnbDirs
) -> None:
    publish(standin)
    standin.add_release("acme/raw", "v1", {"raw": AMD}, null_digest=["raw"])
    text = '[[metadata.githubassets]]\nrepo = "acme/raw"\nasset = "raw"\ntag = "v1"\n'
    cnb.project(text)
    assert command(standin, cnb, "lock", "--target", "linux/amd64").returncode == 0
    assert 'authority = "downloaded"' in (cnb.app / "github-assets.lock").read_text()
    r = build(standin, cnb, BP_GITHUB_ASSETS_REQUIRE_CHECKSUM="true")
    assert r.rc == 1 and "could be checked" in r.err
    r = build(standin, cnb)
    assert r.rc == 0 and "(lock (trust on first use), " in r.out, r.all


# -- mirrors, bindings ---------------------------------------------------------------------


def test_an_https_mirror_takes_every_request(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin)
    with StandIn() as mirror:  # its storage host serves /<o>/<r>/releases/download/... itself
        mirror.add_release(REPO, "v1", {"probe-linux-amd64": AMD})
        r = build(
            standin, cnb, PINNED,
            BP_DEPENDENCY_MIRROR_127_0_0_1=mirror.storage_url, GITHUB_TOKEN=TOKEN,
            BP_LOG_LEVEL="DEBUG",
        )  # fmt: skip
        assert r.rc == 0, r.all
        assert f") from mirror {mirror.storage_url}\n" in r.out
        # which variable gave it: at DEBUG, the label is the contract's `mirror <url>`
        given = f"mirror {mirror.storage_url} is given by BP_DEPENDENCY_MIRROR_127_0_0_1"
        assert given in r.out
        assert standin.requests == [], "no request reaches a GitHub host"
        assert all("authorization" not in q.headers for q in mirror.requests)


def test_a_file_mirror_with_every_host_down(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin)
    standin.down = set(EVERY_HOST)
    tree = cnb.base / "mirror" / "github.com" / REPO / "releases" / "download" / "v1"
    tree.mkdir(parents=True)
    (tree / "probe-linux-amd64").write_bytes(AMD)
    mirror = (cnb.base / "mirror").as_uri() + "/{originalHost}"
    r = build(
        standin, cnb, PINNED, BP_DEPENDENCY_MIRROR=mirror, GITHUB_SERVER_URL="https://github.com"
    )
    assert r.rc == 0, r.all
    assert installed(cnb) == AMD
    assert standin.requests == [] or all(q.host in EVERY_HOST for q in standin.requests)


def test_wrong_bytes_from_a_mirror_fail_naming_it(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin)
    tree = cnb.base / "mirror" / REPO / "releases" / "download" / "v1"
    tree.mkdir(parents=True)
    (tree / "probe-linux-amd64").write_bytes(b"not the probe")
    r = build(standin, cnb, PINNED, BP_DEPENDENCY_MIRROR=(cnb.base / "mirror").as_uri())
    assert r.rc == 1 and "Traceback" not in r.err
    assert "checksum mismatch for probe-linux-amd64" in r.err.splitlines()[0]
    assert "from mirror file://" in r.out
    assert not (cnb.layers / LAYER).exists()


def mapping_binding(cnb: CnbDirs, uri: str, digest: str) -> None:
    binding = cnb.platform / "bindings" / "probes"
    binding.mkdir(parents=True)
    (binding / "type").write_text("dependency-mapping\n")
    (binding / digest).write_text(uri + "\n")


def test_a_dependency_mapping_binding_with_every_host_down(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin)
    standin.down = set(EVERY_HOST)
    (cnb.base / "probe").write_bytes(AMD)
    mapping_binding(cnb, (cnb.base / "probe").as_uri(), sha(AMD))
    r = build(standin, cnb, PINNED)
    assert r.rc == 0, r.all
    assert "from dependency-mapping binding probes" in r.out
    assert installed(cnb) == AMD


def test_a_binding_pointing_at_wrong_bytes_fails_naming_it(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin)
    (cnb.base / "probe").write_bytes(b"wrong")
    mapping_binding(cnb, (cnb.base / "probe").as_uri(), sha(AMD))
    r = build(standin, cnb, PINNED)
    assert r.rc == 1 and "checksum mismatch" in r.err
    assert "from dependency-mapping binding probes" in r.out
    assert not (cnb.layers / LAYER).exists()


# -- offline packages ----------------------------------------------------------------------


def test_an_offline_package_builds_with_every_host_down(
    standin: StandIn, cnb: CnbDirs, tmp_path: Path
) -> None:
    publish(standin)
    cnb.project(LATEST)
    assert command(standin, cnb, "lock").returncode == 0
    env = {
        **os.environ,
        "GITHUB_API_URL": standin.api_url,
        "LOCK": str(cnb.app / "github-assets.lock"),
    }
    p = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "package.py"), str(tmp_path / "dist"),
         "--lock", env["LOCK"]],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    [tgz] = (tmp_path / "dist").glob("github-assets-*-offline.tgz")
    with tarfile.open(tgz) as tf:
        names = tf.getnames()
        tf.extractall(tmp_path / "bp", filter="data")
    assert f"dependencies/{sha(AMD)}/probe-linux-amd64" in names
    assert f"dependencies/{sha(TOOLS)}/tools.tar.gz" in names
    standin.down = set(EVERY_HOST)
    offline = CnbDirs(tmp_path / "run", buildpack_dir=tmp_path / "bp")
    offline.project(LATEST)
    (offline.app / "github-assets.lock").write_text((cnb.app / "github-assets.lock").read_text())
    r = build(standin, offline)
    assert r.rc == 0, r.all
    assert "Downloading probe-linux-amd64 (39.1 KiB) from the offline package" in r.out
    assert installed(offline) == AMD
    assert installed(offline, "tool", "acme_tools") == tar_content(TOOLS)


def tar_content(data: bytes) -> bytes:
    import io

    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        member = tf.extractfile("tools-1/bin/tool")
        assert member is not None
        return member.read()


def test_packaging_refuses_bytes_the_lock_does_not_match(
    standin: StandIn, cnb: CnbDirs, tmp_path: Path
) -> None:
    publish(standin)
    cnb.project(PINNED)
    assert command(standin, cnb, "lock").returncode == 0
    lock = cnb.app / "github-assets.lock"
    lock.write_text(lock.read_text().replace(sha(AMD), "0" * 64))
    p = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "package.py"), str(tmp_path / "dist"),
         "--lock", str(lock)],
        env={**os.environ, "GITHUB_API_URL": standin.api_url},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert p.returncode != 0
    assert "checksum mismatch for probe-linux-amd64" in p.stderr
    assert not list((tmp_path / "dist").glob("*-offline.tgz"))


@pytest.mark.parametrize("arch", ["amd64"])
def test_the_lock_covers_another_buildpacks_entry_only_when_it_matches(
    standin: StandIn, cnb: CnbDirs, arch: str
) -> None:
    publish(standin)
    cnb.project(PINNED)
    assert command(standin, cnb, "lock").returncode == 0
    assert cnb.detect().rc == 0
    other = {"repo": "acme/tools", "asset": "tools.tar.gz", "tag": "v2", "strip_components": 1}
    cnb.bp_plan_from_detect([{"name": "github-assets", "metadata": other}])
    r = cnb.build({"GITHUB_API_URL": standin.api_url, "CNB_TARGET_ARCH": arch})
    assert r.rc == 0, r.all  # not in the lock: resolved through the API, no error
    assert (cnb.layers / "acme_tools" / "bin" / "tool").exists()


def test_a_latest_rebuild_sends_the_etag_and_a_304_reuses_the_layer(
    standin: StandIn, cnb: CnbDirs
) -> None:
    publish(standin)
    latest = LATEST.split("[[metadata.githubassets]]")[1]
    cnb.project("[[metadata.githubassets]]" + latest)
    assert build(standin, cnb).rc == 0
    etag = cnb.layer_toml(LAYER)["metadata"]["assets"][0]["etag"]
    assert etag
    cnb.simulate_rebuild()
    before = len(standin.api_requests())
    r = build(standin, cnb)
    assert r.rc == 0, r.all
    assert "acme/probe latest: unchanged (HTTP 304)" in r.out
    assert f"Reusing layer {LAYER}" in r.out
    [asked] = standin.api_requests()[before:]
    assert asked.headers.get("if-none-match") == etag and standin.storage_requests()

    standin.add_release(
        REPO, "v2", {"probe-linux-amd64": AMD[:-1] + b"!", "probe-linux-arm64": ARM}
    )
    cnb.simulate_rebuild()
    r = build(standin, cnb)
    assert r.rc == 0 and "Installing: latest release of acme/probe is now v2 (was v1)" in r.out


def test_a_dependency_mirror_binding_serves_the_host_or_default(
    standin: StandIn, cnb: CnbDirs
) -> None:
    publish(standin)
    standin.down = set(EVERY_HOST)
    tree = cnb.base / "mirror" / "github.com" / REPO / "releases" / "download" / "v1"
    tree.mkdir(parents=True)
    (tree / "probe-linux-amd64").write_bytes(AMD)
    binding = cnb.platform / "bindings" / "company-mirror"
    binding.mkdir(parents=True)
    (binding / "type").write_text("dependency-mirror\n")
    (binding / "default").write_text((cnb.base / "mirror").as_uri() + "/{originalHost}\n")
    r = build(standin, cnb, PINNED, GITHUB_SERVER_URL="https://github.com")
    assert r.rc == 0, r.all
    assert "from dependency-mirror binding company-mirror" in r.out
    assert str(cnb.base / "mirror") not in r.all, "a binding's contents are not printed"
    assert installed(cnb) == AMD


def test_a_pinned_tag_and_a_named_checksum_file_make_no_api_request(
    standin: StandIn, cnb: CnbDirs
) -> None:
    sums = f"{sha(AMD)}  probe-linux-amd64\n{sha(ARM)}  probe-linux-arm64\n".encode()
    standin.add_release(REPO, "v1", {"probe-linux-amd64": AMD, "checksums.txt": sums})
    text = f'[[metadata.githubassets]]\nrepo = "{REPO}"\nasset = "probe-{{os}}-{{arch}}"\n'
    text += 'tag = "v1"\nchecksums = "checksums.txt"\n'
    r = build(standin, cnb, text, GITHUB_SERVER_URL=standin.web_url)
    assert r.rc == 0, r.all
    assert "(checksums.txt, 39.1 KiB)" in r.out and f"from {standin.web_url} (direct)" in r.out
    assert standin.api_requests() == []
    assert installed(cnb) == AMD


def test_a_mirror_without_a_known_sha256_is_skipped_with_a_line(
    standin: StandIn, cnb: CnbDirs
) -> None:
    publish(standin)
    r = build(standin, cnb, LATEST, BP_DEPENDENCY_MIRROR="https://mirror.invalid/{originalHost}")
    assert r.rc == 0, r.all
    assert (
        "Skipping the offline package, bindings and mirrors: the sha256 of probe-linux-amd64"
        in r.out
    )
    # public, resolved without a token: from the release's browser_download_url
    assert f"from {standin.storage_url} (direct)" in r.out
