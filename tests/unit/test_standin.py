"""Tests of the loopback GitHub stand-in (tools/github_standin.py)."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import trustme

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.github_standin import StandIn  # noqa: E402

GH = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
OCTET = {"Accept": "application/octet-stream"}
PROBE = b"\x7fELF" + bytes(range(256)) * 40  # 10244 bytes


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as s:
        yield s


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def _release(standin: StandIn, **kwargs: Any) -> dict[str, Any]:
    return standin.add_release(
        "grpc-ecosystem/grpc-health-probe",
        "v0.4.40",
        {"grpc_health_probe-linux-amd64": PROBE, "probe.tar.gz": b"gz", "probe.zip": b"zip"},
        **kwargs,
    )


def _asset(release: dict[str, Any], name: str) -> dict[str, Any]:
    return next(a for a in release["assets"] if a["name"] == name)


def test_latest_skips_drafts_and_prereleases(standin: StandIn, session: requests.Session) -> None:
    repo = "o/r"
    url = f"{standin.api_url}/repos/{repo}/releases/latest"
    r = session.get(url, headers=GH)
    assert r.status_code == 404
    assert r.json()["message"] == "Not Found"
    assert r.json()["documentation_url"].endswith("#get-the-latest-release")

    standin.add_release(repo, "v1.0.0", {"a": b"1"})
    standin.add_release(repo, "v1.1.0", {"a": b"2"})
    standin.add_release(repo, "v2.0.0-rc1", {"a": b"3"}, prerelease=True)
    standin.add_release(repo, "v2.0.0", {"a": b"4"}, draft=True)
    r = session.get(url, headers=GH)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert r.headers["x-ratelimit-remaining"] == "4999"
    assert r.headers["x-ratelimit-limit"] == "5000"
    assert int(r.headers["x-ratelimit-reset"]) > time.time()
    body = r.json()
    assert body["tag_name"] == "v1.1.0"
    assert body["draft"] is False and body["prerelease"] is False
    for key in ("id", "node_id", "name", "created_at", "published_at", "html_url", "url"):
        assert key in body
    for key in ("assets_url", "tarball_url", "zipball_url", "body", "assets"):
        assert key in body
    # Repo names are case-insensitive, as on GitHub.
    r = session.get(f"{standin.api_url}/repos/O/R/releases/latest", headers=GH)
    assert r.json()["tag_name"] == "v1.1.0"


def test_tag_lookup(standin: StandIn, session: requests.Session) -> None:
    standin.add_release("o/r", "v1", {"a": b"1"})
    standin.add_release("o/r", "v2-rc", {"a": b"2"}, prerelease=True)
    standin.add_release("o/r", "v3", {"a": b"3"}, draft=True)
    base = f"{standin.api_url}/repos/o/r/releases/tags"
    assert session.get(f"{base}/v1").json()["tag_name"] == "v1"
    assert session.get(f"{base}/v2-rc").json()["prerelease"] is True
    draft = session.get(f"{base}/v3")  # drafts are not visible by tag
    assert draft.status_code == 404
    missing = session.get(f"{base}/v9")
    assert missing.status_code == 404
    assert missing.json()["message"] == "Not Found"
    assert session.get(f"{standin.api_url}/repos/x/y/releases/tags/v1").status_code == 404
    unknown = session.get(f"{standin.api_url}/nope")
    assert unknown.status_code == 404
    assert unknown.json()["message"] == "Not Found"
    assert unknown.headers["Content-Length"] == str(len(unknown.content))


def test_release_json_shape_and_digest(standin: StandIn, session: requests.Session) -> None:
    release = _release(standin, null_digest=["probe.zip"])
    r = session.get(f"{standin.api_url}/repos/grpc-ecosystem/grpc-health-probe/releases/latest")
    assert r.json() == release
    probe = _asset(release, "grpc_health_probe-linux-amd64")
    assert probe["digest"] == "sha256:" + hashlib.sha256(PROBE).hexdigest()
    assert probe["size"] == len(PROBE)
    assert probe["state"] == "uploaded"
    assert probe["content_type"] == "application/octet-stream"
    assert _asset(release, "probe.tar.gz")["content_type"] == "application/gzip"
    assert _asset(release, "probe.zip")["content_type"] == "application/zip"
    assert _asset(release, "probe.zip")["digest"] is None
    assert str(probe["url"]).startswith(f"{standin.api_url}/repos/grpc-ecosystem/")
    assert probe["browser_download_url"] == (
        f"{standin.storage_url}/grpc-ecosystem/grpc-health-probe/releases/download/"
        "v0.4.40/grpc_health_probe-linux-amd64"
    )
    other = standin.add_release(
        "a/b",
        "v1",
        {"x": b"x", "y": b"y"},
        content_types={"x": "text/plain"},
        digests={"y": "sha256:" + "0" * 64},
    )
    assert _asset(other, "x")["content_type"] == "text/plain"
    assert _asset(other, "y")["digest"] == "sha256:" + "0" * 64  # a wrong one, on purpose
    with pytest.raises(ValueError, match="null_digest"):
        standin.add_release("a/b", "v2", {"x": b"x"}, null_digest=["typo"])
    ids = [release["id"], other["id"], *(a["id"] for a in release["assets"])]
    ids.append(_asset(other, "x")["id"])
    assert len(set(ids)) == len(ids)
    # Without the octet-stream Accept, the asset URL answers its JSON.
    r = session.get(str(probe["url"]), headers=GH)
    assert r.status_code == 200 and r.json() == probe


def test_download_redirects_to_storage_without_auth(
    standin: StandIn, session: requests.Session
) -> None:
    release = _release(standin)
    url = str(_asset(release, "grpc_health_probe-linux-amd64")["url"])
    auth = {**OCTET, "Authorization": "Bearer s3cr3t"}

    r = session.get(url, headers=auth, allow_redirects=False)
    assert r.status_code == 302
    location = r.headers["Location"]
    assert location.startswith(f"{standin.storage_url}/github-production-release-asset/")
    assert "X-Amz-Signature=" in location and "X-Amz-Expires=300" in location

    standin.requests.clear()
    r = session.get(url, headers=auth)
    assert r.status_code == 200
    assert r.content == PROBE
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["Content-Length"] == str(len(PROBE))
    assert r.headers["Accept-Ranges"] == "bytes"
    assert [x.headers["authorization"] for x in standin.api_requests()] == ["Bearer s3cr3t"]
    storage = standin.storage_requests()
    assert len(storage) == 1
    assert "authorization" not in storage[0].headers
    assert storage[0].path.startswith("/github-production-release-asset/")

    # A made-up signature is refused, like an expired S3 URL.
    forged = location.split("X-Amz-Signature=")[0] + "X-Amz-Signature=00"
    assert session.get(forged).status_code == 403
    # browser_download_url serves the bytes directly.
    browser = str(_asset(release, "grpc_health_probe-linux-amd64")["browser_download_url"])
    assert session.get(browser).content == PROBE
    head = session.head(browser)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(PROBE))
    assert head.content == b""


def test_range_requests(standin: StandIn, session: requests.Session) -> None:
    release = _release(standin)
    browser = str(_asset(release, "grpc_health_probe-linux-amd64")["browser_download_url"])
    r = session.get(browser, headers={"Range": "bytes=100-"})
    assert r.status_code == 206
    assert r.content == PROBE[100:]
    assert r.headers["Content-Range"] == f"bytes 100-{len(PROBE) - 1}/{len(PROBE)}"
    r = session.get(browser, headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == PROBE[10:20]
    assert r.headers["Content-Length"] == "10"
    r = session.get(browser, headers={"Range": "bytes=-5"})
    assert r.status_code == 206 and r.content == PROBE[-5:]
    r = session.get(browser, headers={"Range": f"bytes={len(PROBE)}-"})
    assert r.status_code == 416
    assert r.headers["Content-Range"] == f"bytes */{len(PROBE)}"

    standin.range_supported = False
    r = session.get(browser, headers={"Range": "bytes=100-"})
    assert r.status_code == 200 and r.content == PROBE
    assert "Accept-Ranges" not in r.headers


def test_private_repo(standin: StandIn, session: requests.Session) -> None:
    release = standin.add_release("acme/secret", "v1", {"tool": b"classified"})
    standin.make_private("acme/secret", "tok")
    api = f"{standin.api_url}/repos/acme/secret/releases"
    asset_url = str(_asset(release, "tool")["url"])
    browser = str(_asset(release, "tool")["browser_download_url"])
    for url in (f"{api}/latest", f"{api}/tags/v1", asset_url):
        assert session.get(url, headers=GH).status_code == 404
        bad = {**GH, "Authorization": "Bearer wrong"}
        assert session.get(url, headers=bad).status_code == 404
    assert session.get(browser).status_code == 404

    for auth in ("Bearer tok", "token tok"):
        hdrs = {**GH, "Authorization": auth}
        assert session.get(f"{api}/latest", headers=hdrs).json()["tag_name"] == "v1"
        assert session.get(f"{api}/tags/v1", headers=hdrs).status_code == 200
    r = session.get(asset_url, headers={**OCTET, "Authorization": "Bearer tok"})
    assert r.status_code == 200 and r.content == b"classified"
    assert all("authorization" not in x.headers for x in standin.storage_requests())
    assert session.get(browser, headers={"Authorization": "token tok"}).content == b"classified"


def test_etag_304(standin: StandIn, session: requests.Session) -> None:
    standin.add_release("o/r", "v1", {"a": b"1"})
    url = f"{standin.api_url}/repos/o/r/releases/latest"
    first = session.get(url)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    again = session.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    assert session.get(url, headers={"If-None-Match": f"W/{etag}"}).status_code == 304
    assert session.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    tag = session.get(f"{standin.api_url}/repos/o/r/releases/tags/v1")
    assert session.get(tag.url, headers={"If-None-Match": tag.headers["ETag"]}).status_code == 304


def test_fail_fault(standin: StandIn, session: requests.Session) -> None:
    standin.add_release("o/r", "v1", {"a": b"1"})
    url = f"{standin.api_url}/repos/o/r/releases/latest"
    standin.fail("api", 503, times=2, path_contains="/latest")
    assert session.get(f"{standin.api_url}/repos/o/r/releases/tags/v1").status_code == 200
    first = session.get(url)
    assert first.status_code == 503
    assert first.json()["message"]
    assert session.get(url).status_code == 503
    assert session.get(url).status_code == 200
    assert standin.pending_faults() == 0
    # Requests that met a fault are recorded too.
    assert [r.path for r in standin.api_requests()].count("/repos/o/r/releases/latest") == 3

    standin.fail("api", 502, headers={"X-Custom": "1"}, body=b"<html>bad gateway</html>")
    r = session.get(url)
    assert r.status_code == 502 and r.headers["X-Custom"] == "1"
    assert r.content == b"<html>bad gateway</html>"

    release = standin.add_release("o/s", "v1", {"a": b"abc"})
    standin.fail("storage", 500)
    asset_url = str(_asset(release, "a")["url"])
    assert session.get(asset_url, headers=OCTET).status_code == 500
    assert session.get(asset_url, headers=OCTET).content == b"abc"
    with pytest.raises(ValueError, match="host"):
        standin.fail("github.com", 500)


def test_rate_limit_fault(standin: StandIn, session: requests.Session) -> None:
    standin.add_release("o/r", "v1", {"a": b"1"})
    url = f"{standin.api_url}/repos/o/r/releases/latest"
    standin.rate_limit(reset_epoch=1_900_000_000)
    r = session.get(url)
    assert r.status_code == 403
    assert r.headers["x-ratelimit-remaining"] == "0"
    assert r.headers["x-ratelimit-limit"] == "60"
    assert r.headers["x-ratelimit-reset"] == "1900000000"
    assert "retry-after" not in r.headers
    assert r.json()["message"].startswith("API rate limit exceeded for 127.0.0.1.")
    standin.rate_limit(429, reset_epoch=1_900_000_000, retry_after=7)
    r = session.get(url)
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    assert session.get(url).status_code == 200


def test_drop_after_fault(standin: StandIn) -> None:
    release = _release(standin)
    path = urlsplit(str(_asset(release, "grpc_health_probe-linux-amd64")["browser_download_url"]))
    port = path.port
    assert port is not None

    standin.drop_after(1000)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path.path)
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Content-Length") == str(len(PROBE))
    with pytest.raises(http.client.IncompleteRead) as info:
        resp.read()
    assert info.value.partial == PROBE[:1000]
    conn.close()

    # Resume where it stopped.
    r = requests.get(path.geturl(), headers={"Range": "bytes=1000-"})
    assert r.status_code == 206 and r.content == PROBE[1000:]

    standin.drop_after(10, reset=True)
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        requests.get(path.geturl())
    assert requests.get(path.geturl()).content == PROBE


def test_truncate_fault(standin: StandIn, session: requests.Session) -> None:
    release = _release(standin)
    url = str(_asset(release, "grpc_health_probe-linux-amd64")["url"])
    standin.truncate(100)
    r = session.get(url, headers=OCTET)
    assert r.status_code == 200
    assert r.headers["Content-Length"] == "100"
    assert r.headers["Connection"] == "close"
    assert r.content == PROBE[:100]
    assert session.get(url, headers=OCTET).content == PROBE


def test_serve_html_fault(standin: StandIn, session: requests.Session) -> None:
    release = _release(standin)
    url = str(_asset(release, "grpc_health_probe-linux-amd64")["url"])
    standin.serve_html()
    r = session.get(url, headers=OCTET)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert r.content.startswith(b"<!DOCTYPE html>")
    assert session.get(url, headers=OCTET).content == PROBE


def test_delay_and_throttle(standin: StandIn, session: requests.Session) -> None:
    release = standin.add_release("o/r", "v1", {"a": b"x" * 100_000})
    url = f"{standin.api_url}/repos/o/r/releases/latest"
    standin.delay("api", 0.3)
    began = time.monotonic()
    assert session.get(url).status_code == 200
    assert time.monotonic() - began >= 0.3
    assert standin.pending_faults() == 0

    standin.throttle_bytes_per_sec = 250_000
    began = time.monotonic()
    r = session.get(str(_asset(release, "a")["browser_download_url"]))
    elapsed = time.monotonic() - began
    assert r.content == b"x" * 100_000
    assert 0.3 <= elapsed < 2.0
    standin.throttle_bytes_per_sec = None


def test_large_path_asset_streams(
    standin: StandIn, session: requests.Session, tmp_path: Path
) -> None:
    size = 64 * 1024 * 1024
    block = os.urandom(1024 * 1024)
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        for i in range(64):
            f.write(block[i:] + block[:i])
    expected = hashlib.sha256(big.read_bytes()).hexdigest()
    release = standin.add_release("o/big", "v1", {"big.bin": big})
    asset = _asset(release, "big.bin")
    assert asset["size"] == size
    assert asset["digest"] == f"sha256:{expected}"

    digest = hashlib.sha256()
    received = 0
    with session.get(str(asset["url"]), headers=OCTET, stream=True) as r:
        assert r.headers["Content-Length"] == str(size)
        for chunk in r.iter_content(1024 * 1024):
            digest.update(chunk)
            received += len(chunk)
    assert received == size
    assert digest.hexdigest() == expected
    assert standin.bytes_served == size

    tail = session.get(str(asset["url"]), headers={**OCTET, "Range": f"bytes={size - 10}-"})
    assert tail.status_code == 206 and tail.content == big.read_bytes()[-10:]


def test_close_is_prompt_with_open_connections(session: requests.Session) -> None:
    standin = StandIn()
    standin.add_release("o/r", "v1", {"a": b"1"})
    session.get(f"{standin.api_url}/repos/o/r/releases/latest")  # leaves a keep-alive socket
    began = time.monotonic()
    standin.close()
    standin.close()
    assert time.monotonic() - began < 1.0
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{standin.api_url}/repos/o/r/releases/latest", timeout=2)


def test_cli_serves_until_sigterm(tmp_path: Path) -> None:
    asset = tmp_path / "grpc_health_probe-linux-amd64"
    asset.write_bytes(PROBE)
    script = str(ROOT / "tools" / "github_standin.py")
    args = ["--release", "grpc-ecosystem/grpc-health-probe", "v0.4.40", str(asset)]
    proc = subprocess.Popen(
        [sys.executable, script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        api_url = proc.stdout.readline().strip()
        assert api_url.startswith("http://127.0.0.1:")
        release = requests.get(
            f"{api_url}/repos/grpc-ecosystem/grpc-health-probe/releases/latest", timeout=5
        ).json()
        asset_url = release["assets"][0]["url"]
        assert requests.get(asset_url, headers=OCTET, timeout=5).content == PROBE
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_rename_answers_the_old_name_with_a_redirect_to_the_repository_id(
    standin: StandIn, session: requests.Session
) -> None:
    _release(standin)
    standin.make_private("grpc-ecosystem/grpc-health-probe", "tok")
    auth = {**GH, "Authorization": "Bearer tok"}
    standin.rename("grpc-ecosystem/grpc-health-probe", "grpc-ecosystem/health-probe", status=308)
    old = f"{standin.api_url}/repos/grpc-ecosystem/grpc-health-probe/releases/tags/v0.4.40?x=1"
    r = session.get(old, headers=auth, allow_redirects=False)
    assert r.status_code == 308
    location = r.headers["Location"]
    assert location.startswith(f"{standin.api_url}/repositories/")
    assert location.endswith("/releases/tags/v0.4.40?x=1")
    assert r.json()["url"] == location  # GitHub repeats it in the body
    moved = session.get(location, headers=auth).json()
    assert moved["html_url"].endswith("/grpc-ecosystem/health-probe/releases/tag/v0.4.40")
    assert all("/repos/grpc-ecosystem/health-probe/" in a["url"] for a in moved["assets"])
    repo_id = location.split("/")[4]
    repo = session.get(f"{standin.api_url}/repositories/{repo_id}", headers=auth).json()
    assert repo["full_name"] == "grpc-ecosystem/health-probe" and repo["private"] is True
    assert session.get(f"{standin.api_url}/repositories/{repo_id}", headers=GH).status_code == 404
    new = f"{standin.api_url}/repos/grpc-ecosystem/health-probe/releases/tags/v0.4.40"
    assert session.get(new, headers=auth).json() == moved
    with pytest.raises(ValueError, match="no repository"):
        standin.rename("no/such", "x/y")


@pytest.mark.parametrize("encode", [True, False], ids=["encoded", "labelled"])
def test_content_encoding_switch(standin: StandIn, encode: bool) -> None:
    release = _release(standin)
    browser = str(_asset(release, "grpc_health_probe-linux-amd64")["browser_download_url"])
    standin.content_encoding, standin.encode_body = "gzip", encode
    r = requests.get(browser, stream=True, timeout=5)
    assert r.headers["Content-Encoding"] == "gzip"
    raw = r.raw.read(decode_content=False)
    if encode:
        assert gzip.decompress(raw) == PROBE and "Accept-Ranges" not in r.headers
    else:
        assert raw == PROBE and r.headers["Accept-Ranges"] == "bytes"


def test_tls_mode_serves_https_and_counts_connections(tmp_path: Path) -> None:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with StandIn(tls=server) as standin:
        assert standin.api_url.startswith("https://127.0.0.1:")
        release = standin.add_release("o/r", "v1", {"a": b"1"})
        with requests.Session() as s:
            r = s.get(release["assets"][0]["url"], headers=OCTET, verify=str(ca_file))
            assert r.content == b"1" and r.url.startswith(standin.storage_url)
            with pytest.raises(requests.exceptions.SSLError):
                s.get(f"{standin.api_url}/repos/o/r/releases/latest", verify=True)
        assert standin.connections_accepted("api") == 2
        assert standin.connections_accepted("storage") == 1
        assert len(standin.api_requests()) == 1, "a refused handshake makes no request"


def test_accepted_sockets_send_at_once(standin: StandIn) -> None:
    """TCP_NODELAY on every accepted connection: no small answer waits for a delayed ACK."""
    standin.add_release("o/r", "v1", {"a": b"1"})
    with requests.Session() as s:  # keep-alive: the connection stays open to look at
        assert s.get(f"{standin.api_url}/repos/o/r/releases/latest", timeout=5).ok
        with standin._api.connections_lock:
            conns = list(standin._api.connections)
        assert conns
        assert all(c.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for c in conns)


def test_attestations_inline_and_at_a_snappy_bundle_url(
    standin: StandIn, session: requests.Session
) -> None:
    import cramjam

    _release(standin)
    bundle = (ROOT / "tests/data/provenance/gh-cli/custom-issuer.sigstore.json").read_bytes()
    sha = hashlib.sha256(PROBE).hexdigest()
    repo = "grpc-ecosystem/grpc-health-probe"
    standin.add_attestation(repo, sha, bundle)
    standin.add_attestation(repo, sha, bundle, inline=False)
    url = f"{standin.api_url}/repos/{repo}/attestations/sha256:{sha}"
    listed = session.get(url, headers=GH).json()["attestations"]
    assert listed[0]["bundle"] == requests.models.complexjson.loads(bundle)
    assert listed[1]["bundle"] is None
    document = session.get(listed[1]["bundle_url"])
    assert document.headers["Content-Type"] == "application/x-snappy"
    assert listed[1]["bundle_url"].startswith(standin.storage_url)
    assert bytes(cramjam.snappy.decompress_raw(document.content)) == bundle
    other = session.get(f"{standin.api_url}/repos/{repo}/attestations/sha256:{'0' * 64}")
    assert other.status_code == 404
    standin.make_private(repo, "ghp_secret")
    assert session.get(url, headers=GH).status_code == 404
    authorized = session.get(url, headers={**GH, "Authorization": "Bearer ghp_secret"})
    assert len(authorized.json()["attestations"]) == 2
