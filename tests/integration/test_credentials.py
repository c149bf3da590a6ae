"""#20.3: credentials never printed, never shipped. bin/build (and the github-assets command)
as subprocesses against the loopback stand-in, with secrets where users put them: URL
userinfo in a mirror, a dependency-mapping URI, GITHUB_SERVER_URL; a token in a variable
whose name says nothing (token_env = "MY_CRED"), echoed back by a server's error body; the
contents of bindings. Every output (stdout, stderr, DEBUG lines included) and every file
the build writes (layers dir: layer tomls, SBOMs, launch.toml; app dir: links, the lock)
is searched for each secret."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tools.github_standin import API, WEB, StandIn

from support import ROOT, CnbDirs, Phase, elf_bytes, write_plan

REPO = "acme/probe"
LAYER = "acme_probe"
AMD = elf_bytes(size=30_000)
SHA = hashlib.sha256(AMD).hexdigest()
PASSWORD = "pw-Kq3xZ9s3cret"
USER = "mirror-bot"
PINNED = f"""
[[metadata.githubassets]]
repo = "{REPO}"
asset = "probe-{{os}}-{{arch}}"
tag = "v1"
sha256 = "{SHA}"
process = "health"
"""


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as s:
        s.add_release(REPO, "v1", {"probe-linux-amd64": AMD})
        yield s


@pytest.fixture
def cnb(tmp_path: Path) -> CnbDirs:
    return CnbDirs(tmp_path / "b")


def with_userinfo(url: str, user: str = USER, password: str = PASSWORD) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{user}:{password}@{rest}"


def build(s: StandIn, cnb: CnbDirs, text: str = PINNED, **env: str) -> Phase:
    cnb.project(text)
    write_plan(cnb)
    debug = {"GITHUB_API_URL": s.api_url, "BP_GITHUB_ASSETS_BACKOFF": "0.01"}
    debug["BP_LOG_LEVEL"] = "DEBUG"
    return cnb.build({**debug, **env})


def assert_nowhere(cnb: CnbDirs, phase: Phase, *secrets: str) -> None:
    """No secret in any output nor in any file the build wrote (layers dir, app dir)."""
    for secret in secrets:
        assert secret not in phase.out, (secret, phase.out)
        assert secret not in phase.err, (secret, phase.err)
        for root in (cnb.layers_root, cnb.app):
            for path in root.rglob("*"):
                if path.is_symlink():
                    assert secret not in str(path.readlink()), path
                elif path.is_file() and path.name != "project.toml":  # the user's own
                    assert secret.encode() not in path.read_bytes(), path


def test_a_mirror_with_userinfo_is_shown_without_it_in_log_and_layer(
    standin: StandIn, cnb: CnbDirs
) -> None:
    mirror = with_userinfo(standin.web_url)
    r = build(standin, cnb, BP_DEPENDENCY_MIRROR=mirror)
    assert r.rc == 0, r.all
    assert f"from mirror {standin.web_url}\n" in r.out
    assert f"[debug] mirror {standin.web_url} is given by BP_DEPENDENCY_MIRROR" in r.out
    assert "[debug] GET 127.0.0.1" in r.out  # the DEBUG request lines were written
    meta = cnb.layer_toml(LAYER)["metadata"]["assets"][0]
    assert meta["source"] == f"mirror {standin.web_url}"
    assert_nowhere(cnb, r, PASSWORD, f"{USER}:")


@pytest.mark.parametrize("status", [401, 403])
def test_a_mirror_refusing_the_request_is_named_without_its_credentials(
    standin: StandIn, cnb: CnbDirs, status: int
) -> None:
    standin.fail(WEB, status, times=10)
    r = build(standin, cnb, BP_DEPENDENCY_MIRROR=with_userinfo(standin.web_url))
    assert r.rc == 1, r.all
    assert r.err.startswith("error: ") and f"HTTP {status}" in r.err, r.err
    assert standin.web_url.removeprefix("http://") in r.err  # the mirror is named, bare
    assert_nowhere(cnb, r, PASSWORD, f"{USER}:")


def test_a_mirror_with_an_untrusted_certificate_is_named_without_its_credentials(
    cnb: CnbDirs, tmp_path: Path
) -> None:
    trustme = pytest.importorskip("trustme")
    server = trustme.CA().issue_cert("127.0.0.1").configure_cert
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server(context)
    with StandIn(tls=context) as s:
        s.add_release(REPO, "v1", {"probe-linux-amd64": AMD})
        r = build(s, cnb, BP_DEPENDENCY_MIRROR=with_userinfo(s.web_url))
        assert r.rc == 1, r.all
        assert "certificate" in r.err, r.err
        assert s.web_url.removeprefix("https://") in r.err
    assert_nowhere(cnb, r, PASSWORD, f"{USER}:")


def test_a_dependency_mapping_uri_with_userinfo_shows_as_the_binding(
    standin: StandIn, cnb: CnbDirs
) -> None:
    uri = with_userinfo(standin.web_url) + f"/{REPO}/releases/download/v1/probe-linux-amd64"
    binding = cnb.platform / "bindings" / "probes"
    binding.mkdir(parents=True)
    (binding / "type").write_text("dependency-mapping\n")
    (binding / SHA).write_text(uri + "\n")
    r = build(standin, cnb)
    assert r.rc == 0, r.all
    assert "from dependency-mapping binding probes" in r.out
    meta = cnb.layer_toml(LAYER)["metadata"]["assets"][0]
    assert meta["source"] == "dependency-mapping binding probes"
    sbom = json.loads((cnb.layers / f"{LAYER}.sbom.cdx.json").read_text())
    [prop] = sbom["components"][0]["properties"]
    assert prop["value"] == "dependency-mapping binding probes"
    [installed] = json.loads(
        {label["key"]: label["value"] for label in cnb.launch_toml()["labels"]}[
            "probe-assets.github-assets.installed"
        ]
    )
    assert installed["source"] == "dependency-mapping binding probes"
    # The binding's contents, in every form a message could quote them.
    assert_nowhere(cnb, r, PASSWORD, uri, f"/{REPO}/releases/download/v1/probe-linux-amd64")


def test_a_dependency_mapping_uri_that_fails_is_named_by_its_binding(
    standin: StandIn, cnb: CnbDirs
) -> None:
    standin.fail(WEB, 403, times=10)
    uri = with_userinfo(standin.web_url) + f"/{REPO}/releases/download/v1/probe-linux-amd64"
    binding = cnb.platform / "bindings" / "probes"
    binding.mkdir(parents=True)
    (binding / "type").write_text("dependency-mapping\n")
    (binding / SHA).write_text(uri + "\n")
    r = build(standin, cnb)
    assert r.rc == 1, r.all
    assert "dependency-mapping binding probes" in r.err, r.err
    host = standin.web_url.removeprefix("http://")
    assert_nowhere(cnb, r, PASSWORD, uri, host, f"/{REPO}/releases/download/v1/probe-linux-amd64")


def test_a_mirror_binding_shows_as_its_name_never_its_path(standin: StandIn, cnb: CnbDirs) -> None:
    secret_dir = cnb.base / "mirror-Zq8-private"
    tree = secret_dir / "github.com" / REPO / "releases" / "download" / "v1"
    tree.mkdir(parents=True)
    (tree / "probe-linux-amd64").write_bytes(AMD)
    binding = cnb.platform / "bindings" / "company-mirror"
    binding.mkdir(parents=True)
    (binding / "type").write_text("dependency-mirror\n")
    (binding / "default").write_text(secret_dir.as_uri() + "/{originalHost}\n")
    r = build(standin, cnb, GITHUB_SERVER_URL="https://github.com")
    assert r.rc == 0, r.all
    assert "from dependency-mirror binding company-mirror" in r.out
    assert_nowhere(cnb, r, "mirror-Zq8-private")


def test_github_server_url_credentials_stay_out_of_the_log_the_toml_and_the_sbom(
    standin: StandIn, cnb: CnbDirs
) -> None:
    server = with_userinfo(standin.web_url)
    r = build(standin, cnb, GITHUB_SERVER_URL=server)
    assert r.rc == 0, r.all
    assert f"from {standin.web_url} (direct)" in r.out
    meta = cnb.layer_toml(LAYER)["metadata"]["assets"][0]
    assert meta["release_url"] == f"{standin.web_url}/{REPO}/releases/tag/v1"
    assert meta["source"] == f"{standin.web_url} (direct)"
    assert_nowhere(cnb, r, PASSWORD, f"{USER}:")


def test_a_token_in_a_variable_named_anything_is_hidden_when_an_error_echoes_it(
    standin: StandIn, cnb: CnbDirs
) -> None:
    token = "cred-7f3a9b1c2d4e5f60718293a4"
    standin.make_private(REPO, token)
    echo = json.dumps({"message": f"Validation Failed for token {token}"}).encode()
    standin.fail(API, 422, body=echo, times=10)
    text = f"""
[[metadata.githubassets]]
repo = "{REPO}"
asset = "probe-{{os}}-{{arch}}"
tag = "v1"
token_env = "MY_CRED"
"""
    r = build(standin, cnb, text, MY_CRED=token)
    assert r.rc == 1, r.all
    assert "HTTP 422" in r.err and "Validation Failed for token [REDACTED]" in r.err, r.err
    assert_nowhere(cnb, r, token)


def test_the_lock_command_writes_no_credentials_of_api_url(standin: StandIn, cnb: CnbDirs) -> None:
    api = with_userinfo(standin.api_url)
    cnb.project(
        f"""
[[metadata.githubassets]]
repo = "{REPO}"
asset = "probe-{{os}}-{{arch}}"
tag = "v1"
api_url = "{api}"
"""
    )
    p = subprocess.run(
        [sys.executable, "-m", "github_assets", "lock", "--target", "linux/amd64"],
        cwd=cnb.app,
        env={**cnb.env(), "PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'vendor'}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    lock = (cnb.app / "github-assets.lock").read_text()
    assert f'api_url = "{standin.api_url}"' in lock
    assert PASSWORD not in lock and PASSWORD not in p.stdout + p.stderr
    # ... and the build finds its entry: the config's api_url compares equal, redacted.
    write_plan(cnb)
    r = cnb.build({"BP_GITHUB_ASSETS_BACKOFF": "0.01"})
    assert r.rc == 0, r.all
    assert "from the lock" in r.out
    assert_nowhere(cnb, r, PASSWORD, f"{USER}:")


def test_a_github_bindings_token_is_hidden_when_an_error_echoes_it(
    standin: StandIn, cnb: CnbDirs
) -> None:
    """Every binding's contents are secrets from the build's first line on, whoever reads
    them (here a `github` binding in the older layout, metadata/kind + secret/token)."""
    token = "ghp_fromAbinding0123456789"
    binding = cnb.platform / "bindings" / "gh"
    (binding / "metadata").mkdir(parents=True)
    (binding / "secret").mkdir()
    (binding / "metadata" / "kind").write_text("github\n")
    (binding / "secret" / "token").write_text(token + "\n")
    standin.fail(API, 422, body=json.dumps({"message": f"bad credentials {token}"}).encode())
    text = PINNED.replace(f'sha256 = "{SHA}"\n', "")
    r = build(standin, cnb, text.replace('tag = "v1"', 'tag = "latest"'))
    assert r.rc == 1, r.all
    assert "HTTP 422" in r.err and "bad credentials [REDACTED]" in r.err, r.err
    assert_nowhere(cnb, r, token)
