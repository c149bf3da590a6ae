"""Network faults, rate limits and interrupted builds, caused for real against the stand-in.

Every build here runs bin/build as a subprocess against a private repository with a token,
so each test also proves the token stays on the API host and out of every output and file.
Backoff and timeouts are shortened through BP_GITHUB_ASSETS_BACKOFF/BP_GITHUB_ASSETS_TIMEOUT.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import socket
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from tools.github_standin import StandIn

from github_assets.config import parse_entry
from github_assets.errors import DownloadError
from github_assets.log import Log
from github_assets.platform import Target
from github_assets.settings import RetryPolicy
from github_assets.sources import FileSink, Received
from github_assets.sources.github import GitHubSource
from github_assets.sources.http import Http
from github_assets.verify import Expected
from support import CnbDirs, Phase, assert_secret_kept, elf_bytes, write_plan

REPO = "acme/probe"
LAYER = "acme_probe"
ASSET = "probe-linux-amd64"
TOKEN = "ghp_faultsTOKEN0123456789abcdefXYZ"
MiB = 1 << 20
# Short backoff for every test; a generous timeout, so that only the timeout tests time out.
FAST = {"BP_GITHUB_ASSETS_BACKOFF": "0.01", "BP_GITHUB_ASSETS_TIMEOUT": "5"}
W1 = f"project.toml: [[metadata.githubassets]] #1 (repo {REPO}): "
NOTHING_INSTALLED = "nothing was installed; the network or GitHub is failing, retry the build later"


@pytest.fixture(scope="module")
def payload() -> bytes:
    """An amd64 ELF file of exactly 2.5 MiB, so a drop at 1 MiB lands mid-download."""
    head = elf_bytes(size=4096)
    return head + os.urandom(5 * MiB // 2 - len(head))


def publish(s: StandIn, data: bytes, tag: str = "v1") -> None:
    s.add_release(REPO, tag, {ASSET: data, "probe-linux-arm64": b"other"})
    s.make_private(REPO, TOKEN)


def config(tag: str = "v1") -> str:
    return (
        f'[[metadata.githubassets]]\nrepo = "{REPO}"\n'
        f'asset = "probe-{{os}}-{{arch}}"\ntag = "{tag}"\n'
    )


def run(s: StandIn, cnb: CnbDirs, **extra: str) -> Phase:
    """bin/build with the plan bin/detect would write (detect itself is tested elsewhere)."""
    write_plan(cnb)
    return cnb.build({"GITHUB_API_URL": s.api_url, "GITHUB_TOKEN": TOKEN, **FAST, **extra})


def installed(cnb: CnbDirs) -> str:
    """The installed probe's sha256: compared as a digest, so a failure reports in an instant
    (pytest diffs two MiB-sized byte strings for minutes)."""
    return hashlib.sha256((cnb.layers / LAYER / "bin" / "probe").read_bytes()).hexdigest()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_installed(s: StandIn, cnb: CnbDirs, r: Phase, data: bytes) -> None:
    assert r.rc == 0, r.all
    assert installed(cnb) == digest(data)
    meta = cnb.layer_toml(LAYER)["metadata"]["assets"][0]
    assert meta["sha256"] == hashlib.sha256(data).hexdigest()
    assert meta["verified_by"] == "GitHub digest"
    assert cnb.files_outside_layers() == []
    assert_secret_kept(TOKEN, r, cnb, s.storage_requests())


def assert_nothing_installed(s: StandIn, cnb: CnbDirs, r: Phase) -> str:
    """The build failed with exit 1 and left nothing; returns the first stderr line."""
    assert r.rc == 1, r.all
    assert "Traceback" not in r.err
    assert not (cnb.layers / LAYER).exists()
    assert not (cnb.layers / f"{LAYER}.toml").exists()
    assert cnb.files_outside_layers() == []
    assert_secret_kept(TOKEN, r, cnb, s.storage_requests())
    return r.err.splitlines()[0]


def asset_requests(s: StandIn) -> list[str]:
    return [q.path for q in s.api_requests() if "/releases/assets/" in q.path]


# -- dropped connections ------------------------------------------------------------------


def test_drop_mid_download_resumes_with_range(
    standin: StandIn, cnb: CnbDirs, payload: bytes
) -> None:
    publish(standin, payload)
    standin.drop_after(MiB)
    cnb.project(config())
    r = run(standin, cnb)
    assert_installed(standin, cnb, r, payload)
    storage = standin.storage_requests()
    assert [q.headers.get("range") for q in storage] == [None, f"bytes={MiB}-"]
    assert storage[0].path == storage[1].path, "resume reuses the signed URL"
    assert len(asset_requests(standin)) == 1
    assert "      Resuming at 1.0 MiB of 2.5 MiB" in r.out.splitlines()


def test_connection_reset_mid_download(standin: StandIn, cnb: CnbDirs, payload: bytes) -> None:
    publish(standin, payload)
    standin.drop_after(MiB, reset=True)
    cnb.project(config())
    r = run(standin, cnb)
    assert_installed(standin, cnb, r, payload)
    # An RST may discard bytes in flight: the retry resumes where the client got to, if anywhere.
    ranges = [q.headers.get("range") for q in standin.storage_requests()]
    assert len(ranges) == 2 and ranges[0] is None
    assert ranges[1] is None or 0 < int(ranges[1].removeprefix("bytes=").rstrip("-")) <= MiB


def test_drop_without_range_support_starts_over(
    standin: StandIn, cnb: CnbDirs, payload: bytes
) -> None:
    standin.range_supported = False
    publish(standin, payload)
    standin.drop_after(MiB)
    cnb.project(config())
    r = run(standin, cnb)
    # The file must hold the new bytes only, not the first attempt's MiB followed by them.
    assert_installed(standin, cnb, r, payload)
    assert [q.headers.get("range") for q in standin.storage_requests()] == [None, None]
    assert len(asset_requests(standin)) == 2, "starting over asks the API for a fresh URL"
    assert "      Starting over: the server cannot resume at 1.0 MiB of 2.5 MiB" in r.out


def test_truncated_body_is_resumed(standin: StandIn, cnb: CnbDirs, payload: bytes) -> None:
    publish(standin, payload)
    standin.truncate(MiB)
    cnb.project(config())
    r = run(standin, cnb)
    assert_installed(standin, cnb, r, payload)
    assert f"the connection ended after {MiB} of {len(payload)} bytes" in r.out
    assert [q.headers.get("range") for q in standin.storage_requests()] == [None, f"bytes={MiB}-"]


def test_truncated_every_time_fails_with_the_size(
    standin: StandIn, cnb: CnbDirs, payload: bytes
) -> None:
    publish(standin, payload)
    standin.truncate(1000, times=5)
    cnb.project(config())
    r = run(standin, cnb)
    assert assert_nothing_installed(standin, cnb, r) == (
        f"error: {W1}failed to download {ASSET} after 5 attempts: the connection ended after "
        f"5000 of {len(payload)} bytes; {NOTHING_INSTALLED}"
    )
    assert len(standin.storage_requests()) == 5


def test_html_page_with_200_is_retried(standin: StandIn, cnb: CnbDirs, payload: bytes) -> None:
    publish(standin, payload)
    standin.serve_html()
    cnb.project(config())
    r = run(standin, cnb)
    assert_installed(standin, cnb, r, payload)
    assert "(attempt 2 of 5): the server sent an HTML page instead of the asset" in r.out


def test_html_page_every_time_fails(standin: StandIn, cnb: CnbDirs, payload: bytes) -> None:
    publish(standin, payload)
    standin.serve_html(times=5)
    cnb.project(config())
    r = run(standin, cnb)
    assert assert_nothing_installed(standin, cnb, r) == (
        f"error: {W1}failed to download {ASSET} after 5 attempts: the server sent an HTML page "
        f"instead of the asset; {NOTHING_INSTALLED}"
    )


# -- 5xx ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "path", "status"),
    [("api", "/releases/tags/", 503), ("api", "/releases/assets/", 500), ("storage", "", 502)],
    ids=["api-release", "api-asset", "storage"],
)
def test_5xx_then_success(
    standin: StandIn, cnb: CnbDirs, payload: bytes, host: str, path: str, status: int
) -> None:
    publish(standin, payload)
    standin.fail(host, status, times=3, path_contains=path)
    cnb.project(config())
    r = run(standin, cnb)
    assert_installed(standin, cnb, r, payload)
    assert standin.pending_faults() == 0
    assert f"(attempt 4 of 5): HTTP {status}" in r.out


def test_5xx_on_the_storage_host_until_retries_run_out(
    standin: StandIn, cnb: CnbDirs, payload: bytes
) -> None:
    publish(standin, payload)
    standin.fail("storage", 503, times=6)
    cnb.project(config())
    r = run(standin, cnb)
    first = assert_nothing_installed(standin, cnb, r)
    assert (
        first
        == f"error: {W1}failed to download {ASSET} after 5 attempts: HTTP 503; {NOTHING_INSTALLED}"
    )
    assert len(standin.storage_requests()) == 5
    assert standin.pending_faults() == 1


def test_5xx_on_the_api_host_until_retries_run_out(
    standin: StandIn, cnb: CnbDirs, payload: bytes
) -> None:
    publish(standin, payload)
    standin.fail("api", 502, times=5, path_contains="/releases/tags/")
    cnb.project(config())
    r = run(standin, cnb)
    assert assert_nothing_installed(standin, cnb, r) == (
        f"error: {W1}GitHub API answered HTTP 502 for {REPO} tag v1 5 times in a row; "
        "GitHub is failing; retry the build later"
    )
    assert standin.storage_requests() == []


def test_api_host_unreachable(standin: StandIn, cnb: CnbDirs) -> None:
    with socket.socket() as sock:  # a loopback port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cnb.project(config())
    r = run(standin, cnb, GITHUB_API_URL=f"http://127.0.0.1:{port}")
    assert assert_nothing_installed(standin, cnb, r) == (
        f"error: {W1}failed to reach the GitHub API at http://127.0.0.1:{port} for {REPO} tag v1 "
        "after 5 attempts: the connection failed or was reset; "
        "check GITHUB_API_URL / api_url and the network, or retry later"
    )


# -- timeouts -----------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["api", "storage"])
def test_slow_server_past_the_timeout_is_retried(
    standin: StandIn, cnb: CnbDirs, payload: bytes, host: str
) -> None:
    publish(standin, payload)
    standin.delay(host, 1.5)
    cnb.project(config())
    r = run(standin, cnb, BP_GITHUB_ASSETS_TIMEOUT="0.5")
    assert_installed(standin, cnb, r, payload)
    assert "(attempt 2 of 5): no data for 0.5 s (read timeout)" in r.out


def test_slow_server_until_retries_run_out(standin: StandIn, cnb: CnbDirs, payload: bytes) -> None:
    publish(standin, payload)
    standin.delay("storage", 1.5, times=5)
    cnb.project(config())
    started = time.monotonic()
    r = run(standin, cnb, BP_GITHUB_ASSETS_TIMEOUT="0.2")
    assert time.monotonic() - started < 10
    assert assert_nothing_installed(standin, cnb, r) == (
        f"error: {W1}failed to download {ASSET} after 5 attempts: "
        f"no data for 0.2 s (read timeout); {NOTHING_INSTALLED}"
    )


# -- rate limits --------------------------------------------------------------------------


def _resets(epoch: int) -> str:
    return f"{datetime.fromtimestamp(epoch, tz=timezone.utc):%Y-%m-%d %H:%M:%S} UTC"


SECONDARY = b'{"message": "You have exceeded a secondary rate limit. Please wait a few minutes."}'


@pytest.mark.parametrize("status", [403, 429])
@pytest.mark.parametrize("kind", ["primary", "secondary"])
def test_short_rate_limit_is_waited_out(
    standin: StandIn, cnb: CnbDirs, payload: bytes, status: int, kind: str
) -> None:
    publish(standin, payload)
    if kind == "primary":
        standin.rate_limit(status, reset_epoch=int(time.time()) + 1)
    else:
        standin.fail("api", status, headers={"retry-after": "1"}, body=SECONDARY)
    cnb.project(config())
    started = time.monotonic()
    r = run(standin, cnb)
    assert_installed(standin, cnb, r, payload)
    waits = [ln for ln in r.out.splitlines() if "Rate limited" in ln]
    if kind == "secondary":
        assert waits == [f"      Rate limited (HTTP {status}); waiting 1 s as GitHub asks"]
        assert time.monotonic() - started >= 1.0
    else:
        assert waits in (
            [f"      Rate limited (HTTP {status}); waiting {n} s as GitHub asks"] for n in (0, 1)
        )


def api_host(s: StandIn) -> str:
    """The API host as a rate limit names it (contract: naming the host that answered)."""
    return s.api_url.removeprefix("http://")


@pytest.mark.parametrize("status", [403, 429])
@pytest.mark.parametrize("token", [True, False], ids=["token", "no-token"])
def test_long_rate_limit_fails_at_once_with_the_reset_time(
    standin: StandIn, cnb: CnbDirs, payload: bytes, status: int, token: bool
) -> None:
    standin.add_release(REPO, "v1", {ASSET: payload})
    reset = int(time.time()) + 3600
    standin.rate_limit(status, reset_epoch=reset, times=5)
    cnb.project(config())
    started = time.monotonic()
    r = run(standin, cnb, GITHUB_TOKEN=TOKEN if token else "")
    assert time.monotonic() - started < 5
    advice = (
        "wait for the reset or use another token"
        if token
        else "a token raises the limit: set GITHUB_TOKEN (pack build --env GITHUB_TOKEN)"
    )
    assert assert_nothing_installed(standin, cnb, r) == (
        f"error: {W1}GitHub API rate limit exceeded for {REPO} tag v1 "
        f"(HTTP {status} from {api_host(standin)}); "
        f"it resets at {_resets(reset)}, in 60 min; {advice}"
    )
    assert len(standin.api_requests()) == 1, "a long limit is not retried"
    assert standin.pending_faults() == 4


def test_long_secondary_rate_limit_fails_at_once(
    standin: StandIn, cnb: CnbDirs, payload: bytes
) -> None:
    publish(standin, payload)
    standin.fail("api", 403, headers={"retry-after": "3600"}, body=SECONDARY)
    cnb.project(config())
    before = time.time()
    r = run(standin, cnb)
    first = assert_nothing_installed(standin, cnb, r)
    prefix = (
        f"error: {W1}GitHub API secondary rate limit for {REPO} tag v1 "
        f"(HTTP 403 from {api_host(standin)}); it resets at "
    )
    suffix = ", in 60 min; wait for the reset or use another token"
    assert first.startswith(prefix) and first.endswith(suffix), first
    shown = first[len(prefix) : -len(suffix)]
    assert shown in {_resets(int(before) + 3600 + d) for d in range(5)}
    assert len(standin.api_requests()) == 1


def test_rate_limit_on_the_asset_download(standin: StandIn, cnb: CnbDirs, payload: bytes) -> None:
    publish(standin, payload)
    limited = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 1)}
    standin.fail("api", 403, path_contains="/releases/assets/", headers=limited)
    standin.fail("storage", 429, headers={"retry-after": "1"})
    cnb.project(config())
    r = run(standin, cnb)
    assert_installed(standin, cnb, r, payload)
    waits = [ln.strip() for ln in r.out.splitlines() if "Rate limited" in ln]
    assert len(waits) == 2
    assert waits[0] in {f"Rate limited (HTTP 403); waiting {n} s as GitHub asks" for n in (0, 1)}
    assert waits[1] == "Rate limited (HTTP 429); waiting 1 s as GitHub asks"
    assert standin.pending_faults() == 0


def test_long_rate_limit_on_the_asset_download_fails_at_once(
    standin: StandIn, cnb: CnbDirs, payload: bytes
) -> None:
    publish(standin, payload)
    reset = int(time.time()) + 3600
    limited = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
    standin.fail("api", 429, times=5, path_contains="/releases/assets/", headers=limited)
    cnb.project(config())
    r = run(standin, cnb)
    assert assert_nothing_installed(standin, cnb, r) == (
        f"error: {W1}GitHub API rate limit exceeded for the download of {ASSET} "
        f"(HTTP 429 from {api_host(standin)}); "
        f"it resets at {_resets(reset)}, in 60 min; wait for the reset or use another token"
    )
    assert len(asset_requests(standin)) == 1
    assert standin.storage_requests() == []


def test_401_on_the_asset_download_is_not_retried(
    standin: StandIn, cnb: CnbDirs, payload: bytes
) -> None:
    publish(standin, payload)
    standin.fail(
        "api",
        401,
        times=5,
        path_contains="/releases/assets/",
        body=b'{"message": "Bad credentials"}',
    )
    cnb.project(config())
    r = run(standin, cnb)
    assert assert_nothing_installed(standin, cnb, r) == (
        f"error: {W1}failed to download {ASSET}: the token was rejected (HTTP 401); "
        "check the token in GITHUB_TOKEN; it may be expired or revoked"
    )
    assert len(asset_requests(standin)) == 1


# -- the retry schedule, in process against the stand-in ------------------------------------


def fetch_in_process(standin: StandIn, dest: Path, http: Http) -> Received:
    """The GitHub source of a build, resolving and fetching ASSET of v1 into dest."""
    source = GitHubSource(http, standin.api_url, None)
    log = Log(io.StringIO())
    spec = parse_entry({"repo": REPO, "asset": ASSET, "tag": "v1"}, "test")
    asset = source.resolve(spec, Target("linux", "amd64"), log=log, cancel=None)
    with dest.open("wb") as f:
        return source.fetch(
            asset, FileSink(f), Expected(asset.name, asset.size), log=log, cancel=None
        )


def test_backoff_grows_with_jitter_and_is_capped(standin: StandIn, tmp_path: Path) -> None:
    data = b"x" * 1000
    standin.add_release(REPO, "v1", {ASSET: data})
    standin.fail("storage", 503, times=4)
    policy = RetryPolicy(attempts=5, backoff=1.0, max_backoff=3.0)
    draws = iter([0.0, 1.0, 0.5, 0.25])
    slept: list[float] = []
    http = Http(requests.Session, policy, sleep=slept.append, rand=lambda: next(draws))
    got = fetch_in_process(standin, tmp_path / "a", http)
    assert (tmp_path / "a").read_bytes() == data and got.size == 1000
    # Retry n waits backoff * 2**(n-1), capped at 3 s, times a jitter factor in [0.5, 1].
    assert slept == [0.5, 2.0, 3.0 * 0.75, 3.0 * 0.625]

    spread = {RetryPolicy().delay(3) for _ in range(50)}
    assert len(spread) > 40 and all(1.0 <= d <= 2.0 for d in spread)


def test_download_gives_up_after_the_attempts_without_sleeping_at_the_end(
    standin: StandIn, tmp_path: Path
) -> None:
    standin.add_release(REPO, "v1", {ASSET: b"x"})
    standin.fail("storage", 500, times=9)
    slept: list[float] = []
    http = Http(requests.Session, RetryPolicy(attempts=3), sleep=slept.append)
    with pytest.raises(DownloadError, match="after 3 attempts: HTTP 500"):
        fetch_in_process(standin, tmp_path / "a", http)
    assert len(slept) == 2


# -- atomicity ----------------------------------------------------------------------------


def test_killed_build_keeps_the_previous_layer_and_the_next_run_cleans_up(
    standin: StandIn, cnb: CnbDirs, payload: bytes
) -> None:
    publish(standin, payload, "v1")
    v2 = payload[:4096] + os.urandom(2 * MiB)
    publish(standin, v2, "v2")
    cnb.project(config("v1"))
    assert run(standin, cnb).rc == 0
    v1_toml = cnb.layer_toml(LAYER)

    cnb.project(config("v2"))
    write_plan(cnb)
    env = cnb.env({"GITHUB_API_URL": standin.api_url, "GITHUB_TOKEN": TOKEN, **FAST})
    env.update({"CNB_LAYERS_DIR": str(cnb.layers), "CNB_BP_PLAN_PATH": str(cnb.bp_plan_path)})
    standin.throttle_bytes_per_sec = MiB  # about 2.5 s for the asset
    proc = subprocess.Popen(
        [
            str(cnb.buildpack / "bin" / "build"),
            str(cnb.layers),
            str(cnb.platform),
            str(cnb.bp_plan_path),
        ],
        cwd=cnb.app,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while standin.bytes_served < len(payload) + MiB // 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the build must still be downloading"
    os.kill(proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert TOKEN.encode() not in out + err

    # The previous layer is untouched; the staging dir is what the kill left behind.
    assert installed(cnb) == digest(payload)
    assert cnb.layer_toml(LAYER) == v1_toml
    leftovers = cnb.files_outside_layers()
    assert len(leftovers) == 1 and leftovers[0].startswith(".github-assets-work-")

    standin.throttle_bytes_per_sec = None
    r = cnb.build({"GITHUB_API_URL": standin.api_url, "GITHUB_TOKEN": TOKEN, **FAST})
    assert r.rc == 0, r.all
    assert f"  Removing {leftovers[0]}, left by an interrupted build" in r.out.splitlines()
    assert installed(cnb) == digest(v2)
    assert cnb.layer_toml(LAYER)["metadata"]["assets"][0]["resolved_tag"] == "v2"
    assert cnb.files_outside_layers() == []
    assert_secret_kept(TOKEN, r, cnb, standin.storage_requests())


def test_failure_on_the_second_asset_keeps_the_previous_layer(
    standin: StandIn, cnb: CnbDirs
) -> None:
    for name in ("one", "two"):
        for tag in ("v1", "v2"):
            standin.add_release(f"acme/{name}", tag, {name: f"{name} {tag}\n".encode()})
        standin.make_private(f"acme/{name}", TOKEN)

    def two_assets(tag: str) -> str:
        return "".join(
            f'[[metadata.githubassets]]\nrepo = "acme/{n}"\nasset = "{n}"\ntag = "{tag}"\n'
            'layer = "tools"\n'
            for n in ("one", "two")
        )

    cnb.project(two_assets("v1"))
    assert run(standin, cnb).rc == 0
    before = {p.name: p.read_bytes() for p in (cnb.layers / "tools" / "bin").iterdir()}
    assert before == {"one": b"one v1\n", "two": b"two v1\n"}
    v1_toml = cnb.layer_toml("tools")

    cnb.project(two_assets("v2"))
    standin.fail("storage", 503, times=5, path_contains="/two")
    r = run(standin, cnb)
    assert r.rc == 1
    assert r.err.splitlines()[0] == (
        "error: project.toml: [[metadata.githubassets]] #2 (repo acme/two): "
        f"failed to download two after 5 attempts: HTTP 503; {NOTHING_INSTALLED}"
    )
    assert "Verified sha256:" in r.out, "the first asset of the layer was downloaded"
    after = {p.name: p.read_bytes() for p in (cnb.layers / "tools" / "bin").iterdir()}
    assert after == before
    assert cnb.layer_toml("tools") == v1_toml
    assert cnb.files_outside_layers() == []
    assert_secret_kept(TOKEN, r, cnb, standin.storage_requests())


@pytest.mark.parametrize(
    ("host", "token"),
    # Without a token a public asset never downloads through the API's asset URL (it comes
    # from its browser_download_url), so the API host answers a download only with one.
    [("api", True), ("storage", True), ("storage", False)],
    ids=["token-api", "token-storage", "no-token-storage"],
)
def test_a_404_on_the_download_names_the_host_and_what_to_check(
    standin: StandIn, cnb: CnbDirs, payload: bytes, host: str, token: bool
) -> None:
    """Contract, GitHub: say what is missing, naming the host that answered; no token advice
    where no token goes (the storage host)."""
    standin.add_release(REPO, "v1", {ASSET: payload})
    standin.fail(host, 404, times=5, path_contains="/releases/assets/" if host == "api" else "")
    cnb.project(config())
    r = run(standin, cnb, GITHUB_TOKEN=TOKEN if token else "")
    answered = (standin.api_url if host == "api" else standin.storage_url).removeprefix("http://")
    if host == "storage":
        hint = f"check that the asset still exists at {answered}"
    else:
        hint = "check that the asset still exists and the token can read it"
    assert assert_nothing_installed(standin, cnb, r) == (
        f"error: {W1}failed to download {ASSET}: HTTP 404 from {answered}; {hint}"
    )
