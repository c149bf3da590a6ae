"""What the seams of 0.3 change for users (issue 18), at the level they see it: bin/build
and the github-assets command as subprocesses against the loopback stand-in.

- the evidence a layer was installed on is data, so a rebuild under
  BP_GITHUB_ASSETS_REQUIRE_CHECKSUM never reuses a layer that knob refuses;
- an HTTP failure names the host that answered, and only the GitHub API's limit
  advises a token.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time

from tools.github_standin import StandIn

from github_assets.tomlfile import dumps, loads
from support import ROOT, CnbDirs, Phase, elf_bytes, write_plan

REPO = "acme/probe"
LAYER = "acme_probe"
AMD = elf_bytes(size=40_000)
TOKEN = "ghp_seamsTOKEN0123456789abcdef"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


PINNED = f"""
[[metadata.githubassets]]
repo = "{REPO}"
asset = "probe-{{os}}-{{arch}}"
tag = "v1"
sha256 = "{sha(AMD)}"
"""
API_ONLY = f"""
[[metadata.githubassets]]
repo = "{REPO}"
asset = "probe-{{os}}-{{arch}}"
tag = "v1"
"""
RAW = '[[metadata.githubassets]]\nrepo = "acme/raw"\nasset = "raw"\ntag = "v1"\n'


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


# -- 1. evidence as data: the reuse decision asks whether it is trusted ---------------------


def tofu_layer(standin: StandIn, cnb: CnbDirs) -> None:
    """A layer installed on a trust-on-first-use lock entry (no digest, no checksum file)."""
    standin.add_release("acme/raw", "v1", {"raw": AMD}, null_digest=["raw"])
    cnb.project(RAW)
    assert command(standin, cnb, "lock", "--target", "linux/amd64").returncode == 0
    r = build(standin, cnb)
    assert r.rc == 0 and "(lock (trust on first use), " in r.out, r.all
    meta = cnb.layer_toml("acme_raw")["metadata"]["assets"][0]
    assert meta["authorities"] == [{"kind": "tofu", "name": "lock (trust on first use)"}]
    assert meta["verified_by"] == "lock (trust on first use)"


def test_a_rebuild_under_require_checksum_never_reuses_a_trust_on_first_use_layer(
    standin: StandIn, cnb: CnbDirs
) -> None:
    tofu_layer(standin, cnb)
    r = build(standin, cnb, BP_GITHUB_ASSETS_REQUIRE_CHECKSUM="true")
    assert "Reusing layer" not in r.out, r.all
    assert (
        "Installing: verified by lock (trust on first use) only, and "
        "BP_GITHUB_ASSETS_REQUIRE_CHECKSUM is set" in r.out
    )
    assert r.rc == 1 and "could be checked" in r.err.splitlines()[0], r.all
    assert build(standin, cnb).rc == 0  # without the knob the lock is enough, as before


def test_a_layer_that_0_2_wrote_is_read_and_judged_by_its_evidence(
    standin: StandIn, cnb: CnbDirs
) -> None:
    tofu_layer(standin, cnb)
    path = cnb.layers / "acme_raw.toml"
    data = loads(path.read_text(), "layer toml")
    for asset in data["metadata"]["assets"]:
        del asset["authorities"]  # the keys 0.2.0 wrote: verified_by only
    path.write_text(dumps(data))
    assert "Reusing layer acme_raw" in build(standin, cnb).out  # read, and reused
    r = build(standin, cnb, BP_GITHUB_ASSETS_REQUIRE_CHECKSUM="true")
    assert "Installing: verified by lock (trust on first use) only" in r.out and r.rc == 1


def test_a_layer_github_vouched_for_is_reused_under_require_checksum(
    standin: StandIn, cnb: CnbDirs
) -> None:
    standin.add_release(REPO, "v1", {"probe-linux-amd64": AMD})
    assert build(standin, cnb, API_ONLY).rc == 0
    meta = cnb.layer_toml(LAYER)["metadata"]["assets"][0]
    assert meta["authorities"] == [{"kind": "digest", "name": "GitHub digest"}]
    r = build(standin, cnb, BP_GITHUB_ASSETS_REQUIRE_CHECKSUM="true")
    assert r.rc == 0 and f"Reusing layer {LAYER}" in r.out, r.all


# -- 3. an HTTP failure names the host that answered; GitHub's advice only for GitHub ------

LONG = {"retry-after": "3600"}


def first_line(r: Phase) -> str:
    assert r.rc == 1 and "Traceback" not in r.err, r.all
    return r.err.splitlines()[0]


def test_a_mirror_answering_429_is_named_and_gets_no_token_advice(
    standin: StandIn, cnb: CnbDirs
) -> None:
    standin.add_release(REPO, "v1", {"probe-linux-amd64": AMD})
    with StandIn() as mirror:
        mirror.add_release(REPO, "v1", {"probe-linux-amd64": AMD})
        mirror.fail("storage", 429, times=5, headers=LONG)
        host = mirror.storage_url.removeprefix("http://")
        r = build(standin, cnb, PINNED, BP_DEPENDENCY_MIRROR=mirror.storage_url, GITHUB_TOKEN=TOKEN)
        line = first_line(r)
        assert f"{host} rate limited the download of probe-linux-amd64 (HTTP 429)" in line
        assert "from mirror " in line
        assert "GITHUB_TOKEN" not in r.err and "GitHub API" not in r.err
        assert f"no token is sent to {host}" in line
        assert standin.requests == []


def test_the_storage_host_answering_429_gets_no_token_advice(
    standin: StandIn, cnb: CnbDirs
) -> None:
    standin.add_release(REPO, "v1", {"probe-linux-amd64": AMD})
    standin.fail("storage", 429, times=5, headers=LONG)
    line = first_line(build(standin, cnb, API_ONLY))
    storage = standin.storage_url.removeprefix("http://")
    assert f"{storage} rate limited the download of probe-linux-amd64 (HTTP 429)" in line
    assert "GITHUB_TOKEN" not in line and "GitHub API" not in line


def test_a_direct_download_answered_429_gets_no_token_advice(
    standin: StandIn, cnb: CnbDirs
) -> None:
    standin.add_release(REPO, "v1", {"probe-linux-amd64": AMD})
    standin.fail("web", 429, times=5, headers=LONG)
    r = build(standin, cnb, PINNED, GITHUB_SERVER_URL=standin.web_url)
    line = first_line(r)
    web = standin.web_url.removeprefix("http://")
    assert f"{web} rate limited the download of probe-linux-amd64 (HTTP 429)" in line
    assert "GITHUB_TOKEN" not in line and "GitHub API" not in line
    assert standin.api_requests() == []


def test_the_api_answering_429_on_the_download_still_advises_a_token(
    standin: StandIn, cnb: CnbDirs
) -> None:
    standin.add_release(REPO, "v1", {"probe-linux-amd64": AMD})
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 3600)}
    standin.fail("api", 429, times=5, path_contains="/releases/assets/", headers=reset)
    # public: the browser_download_url first; its 404 sends the download to the API
    standin.fail("storage", 404, path_contains="/releases/download/")
    line = first_line(build(standin, cnb, API_ONLY))
    assert "GitHub API rate limit exceeded for the download of probe-linux-amd64" in line
    assert "set GITHUB_TOKEN" in line
