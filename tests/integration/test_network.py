"""The network as real servers behave (issue 11), caused for real against the stand-in.

Absurd rate-limit headers, renamed repositories (301/307/308 from the API), a storage host
or mirror that sends Content-Encoding: gzip, an expired signed URL (401 from storage), and
HTTPS with a CA made for the test, trusted only as a user would (SSL_CERT_FILE,
SSL_CERT_DIR). Each build is bin/build as a subprocess, for a private repository with a
token, so each test also proves the token stays on the API host and out of every output.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import ssl
import subprocess
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path

import pytest
import trustme
from tools.github_standin import StandIn

from support import CnbDirs, Phase, assert_secret_kept, elf_bytes, tar_gz, write_plan

REPO = "acme/probe"
LAYER = "acme_probe"
ASSET = "probe-linux-amd64"
TOKEN = "ghp_networkTOKEN0123456789abcdefXYZ"
FAST = {"BP_GITHUB_ASSETS_BACKOFF": "0.01", "BP_GITHUB_ASSETS_TIMEOUT": "5"}
W1 = f"project.toml: [[metadata.githubassets]] #1 (repo {REPO}): "
JSON = {"Content-Type": "application/json; charset=utf-8"}


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
        f"error: {W1}GitHub API {kind} for {REPO} tag v1 "
        f"(HTTP 403 from {standin.api_url.removeprefix('http://')}); "
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


# -- #14: renamed repositories ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 307, 308])
def test_renamed_repo_is_followed_on_the_api_host_and_named(
    standin: StandIn, cnb: CnbDirs, payload: bytes, status: int
) -> None:
    publish(standin, payload)
    standin.rename(REPO, "acme/probe-ng", status=status)
    cnb.project(config())
    r = run(standin, cnb)
    assert_installed(standin, cnb, r, payload)
    assert "    Moved: acme/probe is now acme/probe-ng; update 'repo'" in r.out.splitlines(), r.out
    api = standin.api_requests()
    assert api[0].path == f"/repos/{REPO}/releases/tags/v1"
    assert api[1].path.startswith("/repositories/") and api[1].path.endswith("/releases/tags/v1")
    assert api[1].headers["authorization"] == f"Bearer {TOKEN}", "same host: the token goes along"


def test_renamed_repo_without_the_tag_names_the_new_name(
    standin: StandIn, cnb: CnbDirs, payload: bytes
) -> None:
    publish(standin, payload)
    standin.rename(REPO, "acme/probe-ng")
    cnb.project(config(tag="v9"))
    r = run(standin, cnb)
    assert first_error(standin, cnb, r) == (
        f"error: {W1}release tag v9 not found in {REPO}; check the tag name on the "
        "repository's releases page (tags are case-sensitive)"
    )
    assert "    Moved: acme/probe is now acme/probe-ng; update 'repo'" in r.out.splitlines(), r.out


def test_redirect_to_another_host_is_refused_without_sending_the_token(
    standin: StandIn, cnb: CnbDirs, payload: bytes
) -> None:
    publish(standin, payload)
    elsewhere = f"{standin.storage_url}/repos/{REPO}/releases/tags/v1"
    standin.fail("api", 301, path_contains="/releases/tags/", headers={"Location": elsewhere})
    cnb.project(config())
    r = run(standin, cnb)
    host = standin.storage_url.removeprefix("http://")
    assert first_error(standin, cnb, r) == (
        f"error: {W1}the GitHub API at {standin.api_url} redirected {REPO} tag v1 to another "
        f"host, {host} (HTTP 301); not followed, so the token never leaves the API host; "
        "check api_url / GITHUB_API_URL"
    )
    assert standin.storage_requests() == []


def test_redirect_loop_is_bounded(standin: StandIn, cnb: CnbDirs, payload: bytes) -> None:
    publish(standin, payload)
    loop = f"{standin.api_url}/repos/{REPO}/releases/tags/v1"
    standin.fail("api", 308, times=20, path_contains="/releases/tags/", headers={"Location": loop})
    cnb.project(config())
    r = run(standin, cnb)
    assert first_error(standin, cnb, r) == (
        f"error: {W1}the GitHub API at {standin.api_url} redirected {REPO} tag v1 more than "
        "5 times; check api_url / GITHUB_API_URL"
    )
    assert len(standin.api_requests()) == 6


# -- #15: Content-Encoding from the storage host or a mirror ---------------------------------------


@pytest.fixture(scope="module")
def archive() -> bytes:
    """A real .tar.gz release asset: what S3 labels `Content-Encoding: gzip` by mistake."""
    return tar_gz({"probe": elf_bytes(size=4096) + os.urandom(64 * 1024)})


def test_every_request_asks_for_identity_encoding(
    standin: StandIn, cnb: CnbDirs, payload: bytes
) -> None:
    """Contract, GitHub: ask for `Accept-Encoding: identity`: the release JSON as well as
    the asset (API, storage), with the API's headers on every API request."""
    publish(standin, payload)
    cnb.project(config())
    r = run(standin, cnb)
    assert_installed(standin, cnb, r, payload)
    assert standin.api_requests() and standin.storage_requests()
    for q in standin.requests:
        assert q.headers.get("accept-encoding") == "identity", q
    for q in standin.api_requests():
        assert q.headers["x-github-api-version"] == "2022-11-28", q
        assert q.headers["user-agent"].startswith("probe-assets/github-assets/"), q
        assert q.headers["authorization"] == f"Bearer {TOKEN}", q


def test_gzip_label_on_a_tar_gz_takes_the_bytes_as_sent(
    standin: StandIn, cnb: CnbDirs, archive: bytes
) -> None:
    standin.add_release(REPO, "v1", {"probe.tar.gz": archive})
    standin.make_private(REPO, TOKEN)
    standin.content_encoding, standin.encode_body = "gzip", False
    cnb.project(config(asset="probe.tar.gz") + 'destination = "bin"\n')
    r = run(standin, cnb)
    assert r.rc == 0, r.all
    assert "Retrying" not in r.out and "decoded" not in r.out
    meta = cnb.layer_toml(LAYER)["metadata"]["assets"][0]
    assert meta["sha256"] == hashlib.sha256(archive).hexdigest()
    assert meta["verified_by"] == "GitHub digest"
    assert len(standin.storage_requests()) == 1
    assert_secret_kept(TOKEN, r, cnb, standin.storage_requests())


def test_gzip_encoded_body_is_verified_decoded(
    standin: StandIn, cnb: CnbDirs, payload: bytes
) -> None:
    publish(standin, payload)
    standin.content_encoding = "gzip"  # nginx gzip: the body is gzip(asset)
    cnb.project(config())
    r = run(standin, cnb)
    assert_installed(standin, cnb, r, payload)
    line = (
        "      Content-Encoding: gzip: the bytes as sent do not verify "
        f"(size mismatch for {ASSET}: expected {len(payload)} bytes, "
        f"got {len(gzip.compress(payload, mtime=0))}); trying them decoded"
    )
    assert line in r.out.splitlines(), r.out
    assert "Retrying" not in r.out
    assert len(asset_requests(standin)) == 2, "the decoded bytes come from a fresh URL"


def test_gzip_encoded_checksum_file_is_read_decoded(
    standin: StandIn, cnb: CnbDirs, payload: bytes
) -> None:
    sums = f"{hashlib.sha256(payload).hexdigest()}  {ASSET}\n".encode()
    standin.add_release(REPO, "v1", {ASSET: payload, "checksums.txt": sums})
    standin.make_private(REPO, TOKEN)
    standin.content_encoding = "gzip"  # nginx gzips text/plain above all
    cnb.project(config() + 'checksums = "checksums.txt"\n')
    r = run(standin, cnb)
    assert r.rc == 0, r.all
    meta = cnb.layer_toml(LAYER)["metadata"]["assets"][0]
    # a pinned tag and a named checksum file resolve without the API: no GitHub digest
    assert meta["verified_by"] == "checksums.txt"
    assert_secret_kept(TOKEN, r, cnb, standin.storage_requests())


def test_gzip_encoded_body_that_matches_neither_way_fails_at_once(
    standin: StandIn, cnb: CnbDirs, payload: bytes
) -> None:
    publish(standin, payload, digests={ASSET: "sha256:" + "ab" * 32})
    standin.content_encoding = "gzip"
    cnb.project(config())
    r = run(standin, cnb)
    line = first_error(standin, cnb, r)
    assert line.startswith(
        f"error: {W1}{ASSET} came with Content-Encoding: gzip and verifies neither as sent "
        f"(size mismatch for {ASSET}: expected {len(payload)} bytes, got "
    ), line
    assert (
        f"nor decoded (checksum mismatch for {ASSET}: expected sha256:{'ab' * 32} (GitHub digest), "
        f"got sha256:{hashlib.sha256(payload).hexdigest()} (downloaded bytes)); nothing was "
        "installed; the server or mirror must send the asset's own bytes: "
        "remove the Content-Encoding it adds"
    ) in line, line
    assert "retry the build later" not in r.err
    assert len(standin.storage_requests()) == 2, "neither retried nor waited on"


# -- #16: the storage host refuses the signed URL ----------------------------------------------


def test_expired_signed_url_gets_a_fresh_one_from_the_api(
    standin: StandIn, cnb: CnbDirs, payload: bytes
) -> None:
    publish(standin, payload)
    standin.fail("storage", 401)
    cnb.project(config())
    r = run(standin, cnb)
    assert_installed(standin, cnb, r, payload)
    host = standin.storage_url.removeprefix("http://")
    line = (
        f"      {host} refused the signed download URL (HTTP 401), which may have expired; "
        "asking the GitHub API for a fresh one"
    )
    assert line in r.out.splitlines(), r.out
    assert "token" not in r.out
    assert len(asset_requests(standin)) == 2


@pytest.mark.parametrize("status", [401, 403])
def test_storage_refusing_a_fresh_url_too_says_what_happened(
    standin: StandIn, cnb: CnbDirs, payload: bytes, status: int
) -> None:
    publish(standin, payload)
    standin.fail("storage", status, times=5)
    cnb.project(config())
    r = run(standin, cnb)
    host = standin.storage_url.removeprefix("http://")
    assert first_error(standin, cnb, r) == (
        f"error: {W1}failed to download {ASSET}: {host} refused the signed download URL "
        f"(HTTP {status}), a fresh one from the GitHub API too; nothing was installed; no token "
        "is sent to that host, so this is not about the token: check that a proxy does not "
        "alter the request, or retry the build later"
    )
    assert len(asset_requests(standin)) == 2
    assert len(standin.storage_requests()) == 2


# -- #18: TLS --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def https(ca: trustme.CA) -> Iterator[StandIn]:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    with StandIn(tls=server) as s:
        yield s


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "corporate-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def test_https_trusted_through_ssl_cert_file(
    https: StandIn, cnb: CnbDirs, payload: bytes, ca_file: Path
) -> None:
    publish(https, payload)
    cnb.project(config())
    r = run(https, cnb, SSL_CERT_FILE=str(ca_file))
    assert_installed(https, cnb, r, payload)


def test_https_trusted_through_a_hashed_ssl_cert_dir(
    https: StandIn, cnb: CnbDirs, payload: bytes, ca_file: Path, tmp_path: Path
) -> None:
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "corporate-ca.pem").write_bytes(ca_file.read_bytes())
    subprocess.run(["openssl", "rehash", str(certs)], check=True)  # c_rehash: <hash>.0 links
    assert any(p.suffix == ".0" for p in certs.iterdir())
    publish(https, payload)
    cnb.project(config())
    r = run(https, cnb, SSL_CERT_DIR=str(certs))
    assert_installed(https, cnb, r, payload)


def test_untrusted_certificate_fails_at_once_saying_how_to_add_a_ca(
    https: StandIn, cnb: CnbDirs, payload: bytes
) -> None:
    publish(https, payload)
    cnb.project(config())
    r = run(https, cnb)
    host = https.api_url.removeprefix("https://")
    assert first_error(https, cnb, r) == (
        f"error: {W1}failed to reach the GitHub API at {https.api_url} for {REPO} tag v1: "
        f"the certificate of {host} is not trusted (unable to get local issuer certificate); "
        "add the CA that signed it to the build: a binding of type ca-certificates holding the "
        "PEM file (kpack: a Secret in the Image's services), or SSL_CERT_FILE (a PEM bundle) or "
        "SSL_CERT_DIR (a hashed directory), e.g. pack build --env SSL_CERT_FILE=/path/to/ca.pem"
    )
    assert "Retrying" not in r.out
    assert https.connections_accepted("api") == 1, "a certificate failure is not retried"
    assert https.requests == []


def test_one_tls_context_per_build_shared_by_every_session(
    https: StandIn, cnb: CnbDirs, ca_file: Path
) -> None:
    names = [f"tool{i}" for i in range(4)]
    for name in names:
        https.add_release(f"acme/{name}", "v1", {name: f"{name}\n".encode()})
    cnb.project("".join(config(repo=f"acme/{n}", asset=n) for n in names))
    r = run(https, cnb, SSL_CERT_FILE=str(ca_file), BP_LOG_LEVEL="DEBUG")
    assert r.rc == 0, r.all
    made = [ln.strip() for ln in r.out.splitlines() if "TLS context" in ln]
    assert len(made) == 1, made
    assert made[0].startswith("[debug] TLS context made in ")
    assert f" ms, trusting SSL_CERT_FILE={ca_file}" in made[0], made
    # 4 assets on parallel threads, sharing the build's one session: all on the one context
    assert len({q.path for q in https.api_requests()}) >= 8


# -- the sweep: every URL, status and exception a server or a user can bring -----------------------


def test_api_url_no_parser_accepts_is_one_line(standin: StandIn, cnb: CnbDirs) -> None:
    cnb.project(config())
    r = run(standin, cnb, GITHUB_API_URL="http://[::1")  # ValueError in urllib.parse before
    assert first_error(standin, cnb, r) == (
        f"error: {W1}failed to reach the GitHub API at http://[::1 for {REPO} tag v1: "
        "a malformed URL; check GITHUB_API_URL / api_url"
    )


def test_malformed_location_on_the_asset_redirect_is_one_line(
    standin: StandIn, cnb: CnbDirs, payload: bytes
) -> None:
    publish(standin, payload)
    bad = {"Location": "http://[::1/asset"}
    standin.fail("api", 302, path_contains="/releases/assets/", headers=bad)
    cnb.project(config())
    r = run(standin, cnb)
    assert first_error(standin, cnb, r) == (
        f"error: {W1}failed to download {ASSET}: a malformed URL; "
        "the asset URL or its redirect is unusable; check api_url"
    )
    assert len(asset_requests(standin)) == 1


def test_https_to_a_plain_http_port_fails_at_once(standin: StandIn, cnb: CnbDirs) -> None:
    cnb.project(config())
    api = standin.api_url.replace("http://", "https://")
    r = run(standin, cnb, GITHUB_API_URL=api)
    host = api.removeprefix("https://")
    assert first_error(standin, cnb, r) == (
        f"error: {W1}failed to reach the GitHub API at {api} for {REPO} tag v1: the TLS "
        f"handshake with {host} failed (wrong version number); check that {host} speaks "
        "HTTPS on that port, and any proxy in between"
    )
    assert standin.connections_accepted("api") == 1


def test_token_with_a_trailing_newline_is_used_without_it(
    standin: StandIn, cnb: CnbDirs, payload: bytes
) -> None:
    publish(standin, payload)  # as read from <platform>/env/GITHUB_TOKEN written by echo
    cnb.project(config())
    r = run(standin, cnb, GITHUB_TOKEN=f"{TOKEN}\n")
    assert_installed(standin, cnb, r, payload)


def test_401_without_a_token_asks_for_one(standin: StandIn, cnb: CnbDirs, payload: bytes) -> None:
    standin.add_release(REPO, "v1", {ASSET: payload})
    standin.fail(
        "api", 401, path_contains="/releases/tags/", body=b'{"message": "Requires authentication"}'
    )
    cnb.project(config())
    r = run(standin, cnb, GITHUB_TOKEN="")
    assert first_error(standin, cnb, r) == (
        f"error: {W1}the GitHub API at {standin.api_url} asks for a token for {REPO} tag v1 "
        "(HTTP 401); set token_env (or GITHUB_TOKEN) and pass the variable to the build "
        "(pack build --env NAME), or give the token in a binding of type github"
    )


NOT_A_RELEASE = f"unexpected answer from the GitHub API for {REPO} tag v1: not a release"


@pytest.mark.parametrize(
    ("asset", "error"),
    [
        ({"size": -5}, f"unexpected answer from the GitHub API for {REPO} tag v1: not a release"),
        ({"id": "7"}, f"unexpected answer from the GitHub API for {REPO} tag v1: not a release"),
        ({"digest": 12345}, f"GitHub published a digest for {ASSET} that is not sha256: 12345"),
        # a name reaches the log and, chosen by selection, the installed file's name
        ({"name": "sub/probe-linux-amd64"}, NOT_A_RELEASE),
        ({"name": ".."}, NOT_A_RELEASE),
        ({"name": "probe\nInstalled /etc/passwd"}, NOT_A_RELEASE),
        ({"tag_name": "v1\nInstalled /etc"}, NOT_A_RELEASE),
    ],
    ids=[
        "negative-size",
        "string-id",
        "digest-not-a-string",
        "name-with-a-path",
        "name-dotdot",
        "name-with-a-newline",
        "tag-with-a-newline",
    ],
)
def test_release_json_that_github_never_sends(
    standin: StandIn, cnb: CnbDirs, payload: bytes, asset: dict[str, object], error: str
) -> None:
    release = standin.add_release(REPO, "v1", {ASSET: payload})
    if "tag_name" in asset:
        release.update(asset)
    else:
        release["assets"][0].update(asset)
    body = json.dumps(release).encode()
    standin.fail("api", 200, path_contains="/releases/tags/", body=body, headers=JSON)
    cnb.project(config())
    r = run(standin, cnb, GITHUB_TOKEN="")
    assert first_error(standin, cnb, r).startswith(f"error: {W1}{error}; ")


def test_a_prefixed_latest_that_github_never_sends_is_one_line(
    standin: StandIn, cnb: CnbDirs, payload: bytes
) -> None:
    """version_prefix reads the release list: a release there that is not GitHub's answer
    is the same one-line error as for a tag (it was a traceback)."""
    release = standin.add_release(REPO, "app/v1", {ASSET: payload})
    release["assets"][0]["id"] = "7"
    body = json.dumps([release]).encode()
    standin.fail("api", 200, path_contains="/releases?per_page=100", body=body, headers=JSON)
    cnb.project(config(tag="latest") + 'version_prefix = "app/"\n')
    r = run(standin, cnb, GITHUB_TOKEN="")
    assert first_error(standin, cnb, r).startswith(
        f"error: {W1}unexpected answer from the GitHub API for {REPO} releases: not a release; "
    )
