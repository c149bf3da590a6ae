"""The network as real servers behave (issue 11), caused for real against the stand-in.

Absurd rate-limit headers, renamed repositories (301/307/308 from the API), a storage host
or mirror that sends Content-Encoding: gzip, an expired signed URL (401 from storage), and
HTTPS with a CA made for the test, trusted only as a user would (SSL_CERT_FILE,
SSL_CERT_DIR). Each build is bin/build as a subprocess, for a private repository with a
token, so each test also proves the token stays on the API host and out of every output.
"""

from __future__ import annotations

import os
import time
from email.utils import formatdate

import pytest
from tools.github_standin import StandIn

from support import CnbDirs, Phase, assert_secret_kept, elf_bytes, write_plan

REPO = "acme/probe"
LAYER = "acme_probe"
ASSET = "probe-linux-amd64"
TOKEN = "ghp_networkTOKEN0123456789abcdefXYZ"
FAST = {"BP_GITHUB_ASSETS_BACKOFF": "0.01", "BP_GITHUB_ASSETS_TIMEOUT": "5"}
W1 = f"project.toml: [[metadata.githubassets]] #1 (repo {REPO}): "


@pytest.fixture(scope="module")
def payload() -> bytes:
    head = elf_bytes(size=4096)
    return head + os.urandom(256 * 1024 - len(head))


def publish(s: StandIn, data: bytes, *, repo: str = REPO, **kw: object) -> None:
    s.add_release(repo, "v1", {ASSET: data, "probe-linux-arm64": b"other"}, **kw)  # type: ignore[arg-type]
    s.make_private(repo, TOKEN)


def config(tag: str = "v1", repo: str = REPO, asset: str = "probe-{os}-{arch}") -> str:
    return f'[[metadata.githubassets]]\nrepo = "{repo}"\nasset = "{asset}"\ntag = "{tag}"\n'


def run(s: StandIn, cnb: CnbDirs, **extra: str) -> Phase:
    write_plan(cnb)
    return cnb.build({"GITHUB_API_URL": s.api_url, "GITHUB_TOKEN": TOKEN, **FAST, **extra})


def assert_installed(s: StandIn, cnb: CnbDirs, r: Phase, data: bytes, exe: str = "probe") -> None:
    assert r.rc == 0, r.all
    assert (cnb.layers / LAYER / "bin" / exe).read_bytes() == data
    meta = cnb.layer_toml(LAYER)["metadata"]["assets"][0]
    assert meta["verified_by"] == "GitHub digest"
    assert cnb.files_outside_layers() == []
    assert_secret_kept(TOKEN, r, cnb, s.storage_requests())


def first_error(s: StandIn, cnb: CnbDirs, r: Phase) -> str:
    """The build failed with exit 1, one error line, no traceback, nothing installed."""
    assert r.rc == 1, r.all
    assert "Traceback" not in r.err, r.err
    assert r.err.startswith("error: ")
    assert not (cnb.layers / LAYER).exists()
    assert cnb.files_outside_layers() == []
    assert_secret_kept(TOKEN, r, cnb, s.storage_requests())
    return r.err.splitlines()[0]


def asset_requests(s: StandIn) -> list[str]:
    return [q.path for q in s.api_requests() if "/releases/assets/" in q.path]


# -- #11: rate-limit headers no calendar holds ----------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"retry-after": "9" * 400},
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "9" * 400},
        {"retry-after": "\u00b2"},  # str.isdigit() says yes, float() says no
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1" + "0" * 30},
    ],
    ids=["retry-after-400-digits", "reset-400-digits", "retry-after-superscript", "reset-1e30"],
)
def test_rate_limit_headers_out_of_range_fail_in_one_line(
    standin: StandIn, cnb: CnbDirs, payload: bytes, headers: dict[str, str]
) -> None:
    publish(standin, payload)
    standin.fail("api", 403, times=5, path_contains="/releases/tags/", headers=headers)
    cnb.project(config())
    r = run(standin, cnb)
    kind = "secondary rate limit" if "retry-after" in headers else "rate limit exceeded"
    assert first_error(standin, cnb, r) == (
        f"error: {W1}GitHub API {kind} for {REPO} tag v1 (HTTP 403); "
        "it resets at an unknown time; wait for the reset or use another token"
    )
    assert len(standin.api_requests()) == 1, "a limit of unknown length is not waited out"


def test_retry_after_as_an_http_date_is_waited_out(
    standin: StandIn, cnb: CnbDirs, payload: bytes
) -> None:
    publish(standin, payload)
    when = formatdate(time.time() + 2, usegmt=True)  # RFC 9110 allows a date as well
    standin.fail("api", 429, path_contains="/releases/tags/", headers={"retry-after": when})
    cnb.project(config())
    r = run(standin, cnb)
    assert_installed(standin, cnb, r, payload)
    waits = [ln.strip() for ln in r.out.splitlines() if "Rate limited" in ln]
    assert waits in ([f"Rate limited (HTTP 429); waiting {n} s as GitHub asks"] for n in (1, 2))
