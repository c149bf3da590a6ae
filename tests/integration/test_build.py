"""bin/build as a real subprocess against the loopback GitHub stand-in (two hosts)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from tools.github_standin import StandIn

from github_assets import __version__
from support import (
    CAGE1016_PROJECT,
    EM_AARCH64,
    ROOT,
    CnbDirs,
    Phase,
    elf_bytes,
    host_binary,
    tar_gz,
    zip_bytes,
)

REPO = "grpc-ecosystem/grpc-health-probe"
LAYER = "grpc-ecosystem_grpc-health-probe"
TOKEN = "ghp_secretTOKEN0123456789abcdef"


def probe_release(s: StandIn, tag: str = "v0.4.40", **kw: object) -> bytes:
    data = host_binary()
    s.add_release(
        REPO,
        tag,
        {
            "grpc_health_probe-linux-amd64": data,
            "grpc_health_probe-linux-arm64": elf_bytes(EM_AARCH64),
        },
        **kw,  # type: ignore[arg-type]
    )
    return data


def probe_config(tag: str = "v0.4.40", extra: str = "") -> str:
    return (
        "[[metadata.githubassets]]\n"
        f'repo = "{REPO}"\n'
        'asset = "grpc_health_probe-{os}-{arch}"\n'
        f'tag = "{tag}"\n' + extra
    )


def env_for(s: StandIn, **extra: str) -> dict[str, str]:
    return {"GITHUB_API_URL": s.api_url, **extra}


def test_installs_a_raw_executable_with_launch_metadata(standin: StandIn, cnb: CnbDirs) -> None:
    data = probe_release(standin)
    cnb.project(probe_config(extra='process = "health"\nargs = ["-addr=:50051"]\n'))
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 0, r.all
    exe = cnb.layers / LAYER / "bin" / "grpc_health_probe"
    assert exe.read_bytes() == data
    assert stat.S_IMODE(exe.stat().st_mode) == 0o755
    # the installed binary is the real one and runs
    assert subprocess.run([str(exe)], check=False).returncode == 0

    layer = cnb.layer_toml(LAYER)
    assert layer["types"] == {"launch": True, "build": False, "cache": True}
    [meta] = layer["metadata"]["assets"]
    assert meta["repo"] == REPO
    assert meta["resolved_tag"] == "v0.4.40"
    assert meta["asset"] == "grpc_health_probe-linux-amd64"
    assert meta["sha256"] == hashlib.sha256(data).hexdigest()
    assert meta["destination"] == "bin/grpc_health_probe"
    assert meta["strip_components"] == 0
    assert isinstance(meta["asset_id"], int)

    launch = cnb.launch_toml()
    assert launch["processes"] == [
        {"type": "health", "command": [str(exe)], "args": ["-addr=:50051"], "default": False}
    ]
    labels = {lab["key"]: lab["value"] for lab in launch["labels"]}
    assert labels["probe-assets.github-assets.path.grpc_health_probe"] == str(exe)
    installed = json.loads(labels["probe-assets.github-assets.installed"])
    assert installed[0]["executables"] == [str(exe)]
    assert installed[0]["tag"] == "v0.4.40"

    sbom = json.loads((cnb.layers / f"{LAYER}.sbom.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    assert sbom["components"][0]["hashes"] == [
        {"alg": "SHA-256", "content": hashlib.sha256(data).hexdigest()}
    ]

    lines = r.out.splitlines()
    assert lines[0] == f"GitHub Release Assets {__version__}"
    assert f"    Installed {exe}" in lines
    assert cnb.files_outside_layers() == []


def test_log_grammar_is_fixed(standin: StandIn, cnb: CnbDirs) -> None:
    data = probe_release(standin)
    cnb.project(probe_config())
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 0, r.all
    exe = cnb.layers / LAYER / "bin" / "grpc_health_probe"
    digest = hashlib.sha256(data).hexdigest()
    lines = [ln for ln in r.out.splitlines() if not ln.strip().startswith(("Done in", "ELF"))]
    size = f"{len(data) / 1024:.1f} KiB"
    assert lines == [
        f"GitHub Release Assets {__version__}",
        "  Target linux/amd64, 1 asset",
        f"  Layer {LAYER}",
        f"    Wants {REPO} v0.4.40 grpc_health_probe-{{os}}-{{arch}}",
        "    Installing: no previous layer",
        f"    Resolved {REPO} v0.4.40: grpc_health_probe-linux-amd64 "
        f"(asset {cnb.layer_toml(LAYER)['metadata']['assets'][0]['asset_id']}, {size})",
        # resolved without a token (a public repo): the release's browser_download_url
        f"    Downloading grpc_health_probe-linux-amd64 ({size}) from "
        f"{standin.storage_url} (direct)",
        f"    Verified sha256:{digest} (GitHub digest, {size})",
        "    Unpacked raw: 1 file",
        f"    Installed {exe}",
    ]
    assert any(
        ln.startswith("      ELF amd64 dynamic, interpreter /lib") for ln in r.out.splitlines()
    )


def test_a_slow_download_reports_progress_lines_naming_the_asset(
    standin: StandIn, cnb: CnbDirs
) -> None:
    data = host_binary() + bytes(400_000 - len(host_binary()))  # still the ELF file it was
    standin.add_release(REPO, "v0.4.40", {"grpc_health_probe-linux-amd64": data})
    standin.throttle_bytes_per_sec = 100_000  # 4 s: progress is reported every 3 s
    cnb.project(probe_config())
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 0, r.all
    progress = [ln for ln in r.out.splitlines() if "%" in ln]
    assert progress, r.out
    for line in progress:
        assert re.fullmatch(
            r"      grpc_health_probe-linux-amd64: \d{1,3}% of 390\.6 KiB, [\d.]+ [KM]?i?B/s",
            line,
        ), line


def test_latest_skips_drafts_and_prereleases(standin: StandIn, cnb: CnbDirs) -> None:
    probe_release(standin, "v0.4.39")
    standin.add_release(
        REPO, "v0.5.0-rc1", {"grpc_health_probe-linux-amd64": b"x"}, prerelease=True
    )
    standin.add_release(REPO, "v0.5.0", {"grpc_health_probe-linux-amd64": b"x"}, draft=True)
    cnb.project(probe_config("latest"))
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 0, r.all
    assert cnb.layer_toml(LAYER)["metadata"]["assets"][0]["resolved_tag"] == "v0.4.39"


def test_private_repo_with_token_env_redirect_drops_authorization(
    standin: StandIn, cnb: CnbDirs
) -> None:
    probe_release(standin)
    standin.make_private(REPO, TOKEN)
    cnb.project(probe_config(extra='token_env = "PROBE_TOKEN"\n'))
    r = cnb.detect_and_build(env_for(standin, PROBE_TOKEN=TOKEN, BP_LOG_LEVEL="DEBUG"))
    assert r.rc == 0, r.all
    assert (cnb.layers / LAYER / "bin" / "grpc_health_probe").exists()
    api = standin.api_requests()
    assert api and all(q.headers.get("authorization") == f"Bearer {TOKEN}" for q in api)
    assert all(q.headers["accept"] for q in api)
    assert api[0].headers["x-github-api-version"] == "2022-11-28"
    assert api[0].headers["user-agent"] == f"probe-assets/github-assets/{__version__}"
    storage = standin.storage_requests()
    assert storage, "the download must go through the storage host"
    assert all("authorization" not in q.headers for q in storage)
    assert TOKEN not in r.all
    assert "X-Amz-Signature" not in r.all
    for f in cnb.layers.rglob("*"):
        if f.is_file():
            assert TOKEN.encode() not in f.read_bytes(), f


def test_github_token_is_the_fallback(standin: StandIn, cnb: CnbDirs) -> None:
    probe_release(standin)
    standin.make_private(REPO, TOKEN)
    cnb.project(probe_config())
    r = cnb.detect_and_build(env_for(standin, GITHUB_TOKEN=TOKEN))
    assert r.rc == 0, r.all
    assert TOKEN not in r.all


def test_private_repo_without_token_says_to_set_one(standin: StandIn, cnb: CnbDirs) -> None:
    probe_release(standin)
    standin.make_private(REPO, TOKEN)
    cnb.project(probe_config())
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 1
    first = r.err.splitlines()[0]
    assert f"repository {REPO} not found" in first
    assert "token_env" in first and "GITHUB_TOKEN" in first
    assert not (cnb.layers / LAYER).exists()


def test_token_env_naming_an_unset_variable(standin: StandIn, cnb: CnbDirs) -> None:
    probe_release(standin)
    cnb.project(probe_config(extra='token_env = "NOPE_TOKEN"\n'))
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 1
    assert "'token_env' names NOPE_TOKEN, which is not set" in r.err.splitlines()[0]


def test_missing_tag_and_missing_asset_are_named(standin: StandIn, cnb: CnbDirs) -> None:
    probe_release(standin)
    cnb.project(probe_config("v9.9.9"))
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 1
    assert f"release tag v9.9.9 not found in {REPO}" in r.err.splitlines()[0]

    cnb.project(probe_config(extra='replacements = { amd64 = "x86_64" }\n'))
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 1
    assert "has no asset 'grpc_health_probe-linux-x86_64'" in r.err.splitlines()[0]
    assert "grpc_health_probe-linux-amd64, grpc_health_probe-linux-arm64" in r.err


def test_missing_repo_is_named(standin: StandIn, cnb: CnbDirs) -> None:
    cnb.project(probe_config())
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 1
    assert f"repository {REPO} not found" in r.err.splitlines()[0]


def test_template_replacements_and_version(standin: StandIn, cnb: CnbDirs) -> None:
    bundle = tar_gz(
        {"tool_1.2.3_Linux_x86_64/tool": host_binary(), "tool_1.2.3_Linux_x86_64/README": b"hi"}
    )
    standin.add_release("acme/tool", "v1.2.3", {"tool_1.2.3_Linux_x86_64.tar.gz": bundle})
    cnb.project(
        "[[metadata.githubassets]]\n"
        'repo = "acme/tool"\n'
        'asset = "tool_{version}_{os}_{arch}.tar.gz"\n'
        'tag = "v1.2.3"\n'
        "strip_components = 1\n"
        'destination = "bin"\n'
        'replacements = { linux = "Linux", amd64 = "x86_64" }\n'
        'link = "tool"\n'
    )
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 0, r.all
    exe = cnb.layers / "acme_tool" / "bin" / "tool"
    assert exe.exists() and (cnb.layers / "acme_tool" / "bin" / "README").exists()
    assert stat.S_IMODE(exe.stat().st_mode) == 0o755
    link = cnb.app / "tool"
    assert link.is_symlink() and os.readlink(link) == str(exe)


def test_zip_keeps_exec_bits(standin: StandIn, cnb: CnbDirs) -> None:
    standin.add_release("acme/zipped", "v1", {"zipped.zip": zip_bytes({"zipped": host_binary()})})
    cnb.project(
        '[[metadata.githubassets]]\nrepo = "acme/zipped"\nasset = "zipped.zip"\ntag = "v1"\n'
    )
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 0, r.all
    exe = cnb.layers / "acme_zipped" / "zipped"
    assert stat.S_IMODE(exe.stat().st_mode) == 0o755


def test_arm64_target_picks_arm64_asset(standin: StandIn, cnb: CnbDirs) -> None:
    probe_release(standin)
    cnb.project(probe_config())
    r = cnb.detect_and_build(env_for(standin, CNB_TARGET_ARCH="arm64"))
    assert r.rc == 0, r.all
    meta = cnb.layer_toml(LAYER)["metadata"]
    assert meta["target"] == "linux/arm64"
    assert meta["assets"][0]["asset"] == "grpc_health_probe-linux-arm64"
    assert "ELF arm64 static" in r.out


def test_wrong_arch_elf_fails_and_installs_nothing(standin: StandIn, cnb: CnbDirs) -> None:
    standin.add_release(REPO, "v0.4.40", {"grpc_health_probe-linux-arm64": host_binary()})
    cnb.project(probe_config())
    r = cnb.detect_and_build(env_for(standin, CNB_TARGET_ARCH="arm64"))
    assert r.rc == 1
    first = r.err.splitlines()[0]
    assert "amd64" in first and "arm64" in first and "grpc_health_probe" in first
    assert not (cnb.layers / LAYER).exists()
    assert not (cnb.layers / f"{LAYER}.toml").exists()
    assert cnb.files_outside_layers() == []


def test_null_digest_is_verified_by_size(standin: StandIn, cnb: CnbDirs) -> None:
    probe_release(standin, null_digest=["grpc_health_probe-linux-amd64"])
    cnb.project(probe_config())
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 0, r.all
    assert "(size only" in r.out
    assert cnb.layer_toml(LAYER)["metadata"]["assets"][0]["verified_by"] == "size only"


def test_pinned_sha256_mismatch_installs_nothing(standin: StandIn, cnb: CnbDirs) -> None:
    probe_release(standin)
    cnb.project(probe_config(extra=f'sha256 = "{"0" * 64}"\n'))
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 1
    assert "checksum mismatch for grpc_health_probe-linux-amd64" in r.err.splitlines()[0]
    assert "pinned" in r.err
    assert not (cnb.layers / LAYER).exists()
    assert cnb.files_outside_layers() == []


def test_sha256_by_arch_table(standin: StandIn, cnb: CnbDirs) -> None:
    data = probe_release(standin)
    digest = hashlib.sha256(data).hexdigest()
    cnb.project(
        probe_config(extra=f'sha256 = {{ amd64 = "sha256:{digest}", arm64 = "{"1" * 64}" }}\n')
    )
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 0, r.all
    # tag and sha256 pinned: no API request, so no GitHub digest, only the pin vouches
    assert "(pinned, " in r.out and "GitHub digest" not in r.out
    assert standin.api_requests() == []


def test_rebuild_with_pinned_tag_makes_no_request(standin: StandIn, cnb: CnbDirs) -> None:
    probe_release(standin)
    cnb.project(probe_config(extra='process = "health"\nlink = "grpc_health_probe"\n'))
    assert cnb.detect_and_build(env_for(standin)).rc == 0
    first_toml = cnb.layer_toml(LAYER)
    cnb.simulate_rebuild(from_cache=False)
    before = len(standin.requests)
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 0, r.all
    assert len(standin.requests) == before, "a pinned rebuild must not touch the network"
    # an empty dir would be exported over the previous image's layer
    assert not (cnb.layers / LAYER).exists(), "a reused launch layer's dir must not be created"
    assert cnb.layer_toml(LAYER) == first_toml
    assert f"Reusing layer {LAYER}" in r.out and "(no download)" in r.out
    exe = cnb.layers / LAYER / "bin" / "grpc_health_probe"
    assert cnb.launch_toml()["processes"][0]["command"] == [str(exe)]
    assert os.readlink(cnb.app / "grpc_health_probe") == str(exe)
    assert (cnb.layers / f"{LAYER}.sbom.cdx.json").exists()


def test_a_restored_layer_missing_a_file_is_installed_again(standin: StandIn, cnb: CnbDirs) -> None:
    """A cache that restored the layer's dir without the executable (a damaged cache) is not
    reused: the image would ship without its probe while the log said Installed."""
    data = probe_release(standin)
    cnb.project(probe_config())
    assert cnb.detect_and_build(env_for(standin)).rc == 0
    cnb.simulate_rebuild()
    exe = cnb.layers / LAYER / "bin" / "grpc_health_probe"
    exe.unlink()
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 0, r.all
    assert "    Installing: the restored layer lacks bin/grpc_health_probe" in r.out.splitlines()
    assert exe.read_bytes() == data


def test_rebuild_with_latest_costs_one_api_call(standin: StandIn, cnb: CnbDirs) -> None:
    probe_release(standin)
    cnb.project(probe_config("latest"))
    assert cnb.detect_and_build(env_for(standin)).rc == 0
    cnb.simulate_rebuild()
    before = len(standin.requests)
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 0, r.all
    assert len(standin.requests) == before + 1
    assert "Reusing layer" in r.out

    # a new latest release means a new download
    probe_release(standin, "v0.4.41")
    cnb.simulate_rebuild()
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 0, r.all
    assert (
        "latest release of grpc-ecosystem/grpc-health-probe is now v0.4.41 (was v0.4.40)" in r.out
    )
    assert (cnb.layers / LAYER / "bin" / "grpc_health_probe").exists()


def test_changed_tag_downloads_again(standin: StandIn, cnb: CnbDirs) -> None:
    probe_release(standin, "v0.4.39")
    probe_release(standin, "v0.4.40")
    cnb.project(probe_config("v0.4.39"))
    assert cnb.detect_and_build(env_for(standin)).rc == 0
    cnb.simulate_rebuild()
    cnb.project(probe_config("v0.4.40"))
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 0, r.all
    assert "Installing: tag changed (v0.4.39 -> v0.4.40)" in r.out
    assert cnb.layer_toml(LAYER)["metadata"]["assets"][0]["resolved_tag"] == "v0.4.40"


def test_stale_layer_is_removed(standin: StandIn, cnb: CnbDirs) -> None:
    probe_release(standin)
    cnb.project(probe_config())
    assert cnb.detect_and_build(env_for(standin)).rc == 0
    cnb.simulate_rebuild()
    cnb.project('[project]\nid = "x"\n')
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 0, r.all
    assert not (cnb.layers / f"{LAYER}.toml").exists()
    assert f"Removing stale layer {LAYER}" in r.out


def test_build_true_layer_is_cached_and_on_build_path(standin: StandIn, cnb: CnbDirs) -> None:
    probe_release(standin)
    cnb.project(probe_config(extra="build = true\n"))
    assert cnb.detect_and_build(env_for(standin)).rc == 0
    assert cnb.layer_toml(LAYER)["types"] == {"launch": True, "build": True, "cache": True}


def test_chaining_installs_another_buildpacks_requirement(standin: StandIn, cnb: CnbDirs) -> None:
    probe_release(standin)
    # our own config is empty; another buildpack requires the probe in its plan
    r = cnb.detect(env_for(standin))
    assert r.rc == 0
    cnb.bp_plan_from_detect(
        [
            {
                "name": "github-assets",
                "metadata": {
                    "repo": REPO,
                    "asset": "grpc_health_probe-{os}-{arch}",
                    "tag": "v0.4.40",
                },
            },
            {"name": "github-assets", "metadata": {}},
        ]
    )
    r = cnb.build(env_for(standin))
    assert r.rc == 0, r.all
    assert (cnb.layers / LAYER / "bin" / "grpc_health_probe").exists()


def test_bad_plan_entry_from_another_buildpack_is_named(standin: StandIn, cnb: CnbDirs) -> None:
    cnb.detect()
    cnb.bp_plan_from_detect([{"name": "github-assets", "metadata": {"repo": "nope", "asset": "x"}}])
    r = cnb.build(env_for(standin))
    assert r.rc == 1
    assert r.err.startswith("error: buildpack plan entry #1 (github-assets): 'repo' must look like")


def test_per_asset_api_url(standin: StandIn, cnb: CnbDirs) -> None:
    probe_release(standin)
    cnb.project(probe_config(extra=f'api_url = "{standin.api_url}/"\n'))
    r = cnb.detect_and_build({"GITHUB_API_URL": "http://127.0.0.1:9"})
    assert r.rc == 0, r.all


def test_two_assets_writing_the_same_path(standin: StandIn, cnb: CnbDirs) -> None:
    standin.add_release("acme/a", "v1", {"a.tar.gz": tar_gz({"bin/x": b"1"})})
    standin.add_release("acme/b", "v1", {"b.tar.gz": tar_gz({"bin/x": b"2"})})
    cnb.project(
        "".join(
            f'[[metadata.githubassets]]\nrepo = "acme/{n}"\nasset = "{n}.tar.gz"\n'
            'tag = "v1"\nlayer = "tools"\n'
            for n in "ab"
        )
    )
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 1
    assert "two assets write the same path bin/x" in r.err.splitlines()[0]
    assert not (cnb.layers / "tools").exists()
    assert cnb.files_outside_layers() == []


def test_link_over_a_different_file_is_an_error(standin: StandIn, cnb: CnbDirs) -> None:
    probe_release(standin)
    (cnb.app / "probe").write_text("mine")
    cnb.project(probe_config(extra='link = "probe"\n'))
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 1
    assert "'link' probe: the app dir already has a different file there" in r.err
    assert (cnb.app / "probe").read_text() == "mine"
    assert standin.storage_requests() == [], "a link that cannot be made fails before any download"


def test_link_over_a_symlink_elsewhere_fails_and_leaves_no_layer(
    standin: StandIn, cnb: CnbDirs
) -> None:
    """Where the link must point is known only once the asset is installed: failing then
    takes the installed layer away again (no layer dir without its toml)."""
    probe_release(standin)
    (cnb.app / "probe").symlink_to("/bin/true")
    cnb.project(probe_config(extra='link = "probe"\n'))
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 1
    assert r.err.startswith("error: ")
    assert "'link' probe: the app dir already has a different file there" in r.err.splitlines()[0]
    assert os.readlink(cnb.app / "probe") == "/bin/true"
    assert sorted(p.name for p in cnb.layers.iterdir()) == []


def test_a_link_too_long_for_the_app_dir_names_its_entry_and_leaves_nothing(
    standin: StandIn, cnb: CnbDirs
) -> None:
    """Short enough for detect (PATH_MAX), too long once under the app dir's path."""
    probe_release(standin)
    link = "/".join(["d" * 250] * 16) + "/" + "p" * 70  # 4086 bytes
    cnb.project(probe_config(extra=f'link = "{link}"\n'))
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 1, r.all
    first = r.err.splitlines()[0]
    assert first.startswith(f"error: project.toml: [[metadata.githubassets]] #1 (repo {REPO}): "), (
        first
    )
    assert "File name too long" in first
    assert sorted(p.name for p in cnb.layers.iterdir()) == []
    assert sorted(p.name for p in cnb.app.iterdir()) == ["project.toml"]


@pytest.mark.parametrize("status", [403, 429])
def test_rate_limit_names_reset_and_suggests_token(
    standin: StandIn, cnb: CnbDirs, status: int
) -> None:
    probe_release(standin)
    standin.rate_limit(status, reset_epoch=4102444800, times=10)
    cnb.project(probe_config())
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 1
    first = r.err.splitlines()[0]
    assert "rate limit exceeded" in first
    assert "2100-01-01 00:00:00 UTC" in first
    assert "GITHUB_TOKEN" in first


def test_401_is_not_retried(standin: StandIn, cnb: CnbDirs) -> None:
    probe_release(standin)
    standin.fail("api", 401, times=5, body=b'{"message": "Bad credentials"}')
    cnb.project(probe_config())
    r = cnb.detect_and_build(env_for(standin, GITHUB_TOKEN=TOKEN))
    assert r.rc == 1
    assert "HTTP 401" in r.err
    assert len(standin.api_requests()) == 1
    assert TOKEN not in r.all


def test_transient_5xx_is_retried(standin: StandIn, cnb: CnbDirs) -> None:
    probe_release(standin)
    standin.fail("storage", 503, times=2)
    cnb.project(probe_config())
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 0, r.all


def test_download_resumes_with_range_after_a_drop(
    standin: StandIn, cnb: CnbDirs, tmp_path: Path
) -> None:
    big = tmp_path / "big"
    big.write_bytes(host_binary() + os.urandom(3 << 20))
    standin.add_release(REPO, "v0.4.40", {"grpc_health_probe-linux-amd64": big})
    standin.drop_after(1 << 20)
    cnb.project(probe_config())
    r = cnb.detect_and_build(env_for(standin, BP_LOG_LEVEL="DEBUG"))
    assert r.rc == 0, r.all
    ranges = [q.headers.get("range") for q in standin.storage_requests()]
    assert any(rg and rg.startswith("bytes=") for rg in ranges), ranges
    assert (cnb.layers / LAYER / "bin" / "grpc_health_probe").read_bytes() == big.read_bytes()


def test_cage1016_project_toml_builds_to_the_same_layer_shape(
    standin: StandIn, cnb: CnbDirs
) -> None:
    """The predecessor's README example, unchanged: archive into bin/, raw files at a path."""
    exe = host_binary()
    standin.add_release(
        "kkdai/youtube",
        "v2.7.0",
        {"youtubedr_2.7.0_linux_amd64.tar.gz": tar_gz({"youtubedr": exe, "LICENSE": b"MIT"})},
    )
    standin.add_release(
        "qeek-dev/apitest-toolchain", "v0.1.0", {"apitest-toolchain-linux-amd64": exe}
    )
    standin.make_private("qeek-dev/apitest-toolchain", TOKEN)
    standin.add_release("stedolan/jq", "jq-1.6", {"jq-linux64": exe})
    cnb.project(CAGE1016_PROJECT)
    r = cnb.detect_and_build(env_for(standin, APITEST_TOOLCHAIN_TOKEN=TOKEN))
    assert r.rc == 0, r.all
    for path in (
        "kkdai_youtube/bin/youtubedr",
        "kkdai_youtube/bin/LICENSE",
        "qeek-dev_apitest-toolchain/bin/apitest-toolchain",
        "stedolan_jq/bin/jq",
    ):
        assert (cnb.layers / path).is_file(), path
    assert stat.S_IMODE((cnb.layers / "stedolan_jq/bin/jq").stat().st_mode) == 0o755
    assert TOKEN not in r.all


@pytest.mark.parametrize("compression", ["xz", "bz2", ""])
def test_other_tar_compressions(standin: StandIn, cnb: CnbDirs, compression: str) -> None:
    name = f"tool.tar{'.' + compression if compression else ''}"
    blob = tar_gz({"tool/bin/tool": host_binary()}, compression=compression)
    standin.add_release("acme/tool", "v1", {name: blob})
    cnb.project(
        f'[[metadata.githubassets]]\nrepo = "acme/tool"\nasset = "{name}"\ntag = "v1"\n'
        "strip_components = 1\n"
    )
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 0, r.all
    assert (cnb.layers / "acme_tool" / "bin" / "tool").is_file()


def test_lone_gzip_file_installs_as_executable(standin: StandIn, cnb: CnbDirs) -> None:
    data = host_binary()
    standin.add_release("acme/tool", "v1", {"tool-linux-amd64.gz": gzip.compress(data)})
    cnb.project(
        '[[metadata.githubassets]]\nrepo = "acme/tool"\nasset = "tool-{os}-{arch}.gz"\n'
        'tag = "v1"\nprocess = "tool"\n'
    )
    r = cnb.detect_and_build(env_for(standin))
    assert r.rc == 0, r.all
    exe = cnb.layers / "acme_tool" / "bin" / "tool"
    assert exe.read_bytes() == data
    assert stat.S_IMODE(exe.stat().st_mode) == 0o755
    assert cnb.launch_toml()["processes"][0]["command"] == [str(exe)]


def _modules_imported(cnb: CnbDirs, env: dict[str, str]) -> tuple[Phase, set[str]]:
    """bin/build's own command line with -X importtime: its result and every module it imported."""
    full = cnb.env(env)
    full.update({"CNB_LAYERS_DIR": str(cnb.layers), "CNB_BP_PLAN_PATH": str(cnb.bp_plan_path)})
    p = subprocess.run(
        [sys.executable, "-E", "-s", "-S", "-X", "importtime", str(ROOT / "src" / "boot.py"),
         "build", str(cnb.layers), str(cnb.platform), str(cnb.bp_plan_path)],
        cwd=cnb.app, env=full, capture_output=True, text=True, check=False,
    )  # fmt: skip
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in p.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return Phase(p.returncode, p.stdout, p.stderr), modules


def test_pinned_rebuild_imports_neither_the_http_stack_nor_pyelftools(
    standin: StandIn, cnb: CnbDirs
) -> None:
    probe_release(standin)
    cnb.project(probe_config())
    assert cnb.detect_and_build(env_for(standin)).rc == 0
    cnb.simulate_rebuild()
    r, modules = _modules_imported(cnb, env_for(standin))
    assert r.rc == 0 and f"Reusing layer {LAYER}" in r.out, r.all
    heavy = {m for m in modules if m.split(".")[0] in ("requests", "urllib3", "elftools", "ssl")}
    assert heavy == set()
    assert "github_assets.layers" in modules and "github_assets.sources.http" not in modules
    # nor what only an install needs: the pipeline, archive readers, the toml 0.10 writer
    only_install = {"github_assets.pipeline", "tarfile", "zipfile", "lzma", "shutil", "toml"}
    assert only_install & modules == set()

    # and the cold build that installs does import them: the probe above can see imports
    cnb.simulate_rebuild()
    cnb.project(probe_config(extra="replacements = { amd64 = 'amd64' }\n"))
    assert cnb.detect(env_for(standin)).rc == 0
    cnb.bp_plan_from_detect()
    r, modules = _modules_imported(cnb, env_for(standin))
    assert "Installing: replacements changed (unset -> {amd64 = amd64})" in r.out
    assert r.rc == 0, r.all
    assert {"requests", "github_assets.elf", "github_assets.sources.http"} <= modules
    assert not {m for m in modules if m.split(".")[0] == "elftools"}, "ELF is read with struct"


def test_a_cold_build_imports_only_what_its_assets_need(standin: StandIn, cnb: CnbDirs) -> None:
    """tarfile only for a tar, and no ELF library for any (elf.py reads ELF with struct).
    (zipfile and lzma are not told apart here: urllib3 imports importlib.metadata, which
    imports them.)"""
    script = b"#!/bin/sh\necho hello\n"
    standin.add_release("acme/script", "v1", {"hello.sh": script})
    standin.add_release("acme/tool", "v1", {"tool-linux-amd64": host_binary()})
    standin.add_release("acme/tgz", "v1", {"t.tar.gz": tar_gz({"t": host_binary()})})
    entry = '[[metadata.githubassets]]\nrepo = "acme/{}"\nasset = "{}"\ntag = "v1"\n'
    cases = [
        (entry.format("script", "hello.sh"), set(), {"elftools", "tarfile"}),
        (entry.format("tool", "tool-{os}-{arch}"), set(), {"elftools", "tarfile"}),
        (entry.format("tgz", "t.tar.gz"), {"tarfile"}, {"elftools"}),
    ]
    for config, present, absent in cases:
        cnb.simulate_rebuild()
        for toml_file in cnb.layers.glob("*.toml"):
            toml_file.unlink()
        cnb.project(config)
        assert cnb.detect(env_for(standin)).rc == 0
        cnb.bp_plan_from_detect()
        r, modules = _modules_imported(cnb, env_for(standin))
        assert r.rc == 0, r.all
        tops = {m.split(".")[0] for m in modules}
        assert present <= tops and absent & tops == set(), (config, present, absent & tops)


def test_debug_log_shows_requests_retries_sniffing_and_the_reuse_diff(
    standin: StandIn, cnb: CnbDirs
) -> None:
    probe_release(standin)
    cnb.project(probe_config())
    standin.fail("storage", 503, times=1)
    debug = env_for(
        standin, BP_LOG_LEVEL="DEBUG", GITHUB_TOKEN=TOKEN, BP_GITHUB_ASSETS_BACKOFF="0.01"
    )
    r = cnb.detect_and_build(debug)
    assert r.rc == 0, r.all
    host = standin.api_url.removeprefix("http://")
    assert f"[debug] GET {host}/repos/{REPO}/releases/tags/v0.4.40" in r.out
    assert "[debug] HTTP 503: transient (Transient), attempt 1 of 5" in r.out
    assert "[debug] sniffed raw from the first bytes of grpc_health_probe-linux-amd64" in r.out
    assert "?" not in "".join(line for line in r.out.splitlines() if "[debug] GET" in line)
    assert TOKEN not in r.all

    cnb.simulate_rebuild()
    cnb.project(probe_config(extra="strip_components = 1\n"))
    r = cnb.detect_and_build(debug)
    assert r.rc == 0, r.all
    assert "Installing: strip_components changed (0 -> 1)" in r.out
    assert (
        f"[debug] reuse {REPO} grpc_health_probe-{{os}}-{{arch}}: strip_components changed (0 -> 1)"
        in r.out
    )
    quiet = cnb.detect_and_build(env_for(standin))
    assert "[debug]" not in quiet.out
