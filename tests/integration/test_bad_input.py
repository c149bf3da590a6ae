"""Bad input, each through bin/detect or bin/build as a subprocess: exit code and exact message.

Config mistakes are caught by detect (exit 1, no plan written); what only the release can tell
(tag, asset, checksum, clashes) is caught by build (exit 1, nothing installed).
"""

from __future__ import annotations

import hashlib

import pytest
from tools.github_standin import StandIn

from github_assets.config import KEYS
from support import CnbDirs, Phase, assert_secret_kept, host_binary, write_plan

REPO = "acme/probe"
LAYER = "acme_probe"
TOKEN = "ghp_badinputTOKEN0123456789abcdefXYZ"
ENTRY = f"project.toml: [[metadata.githubassets]] #1 (repo {REPO})"
TABLE = f'[[metadata.githubassets]]\nrepo = "{REPO}"\n'
# Every key of the field table, in its order (each new key joins the message).
KNOWN_KEYS = ", ".join(KEYS)

DETECT_CASES = {
    "malformed-toml": (
        TABLE + 'asset = "probe"\ntag = \n',
        "error: failed to parse project.toml: Invalid value (line 4, column 7); "
        "fix the TOML syntax",
    ),
    "toml-the-old-parser-choked-on": (
        TABLE + 'asset = "probe"\n.=\n',
        "error: failed to parse project.toml: Invalid statement (line 4, column 1); "
        "fix the TOML syntax",
    ),
    "wrong-type-tag": (
        TABLE + 'asset = "probe"\ntag = 1\n',
        f"error: {ENTRY}: 'tag' must be a string, got an integer",
    ),
    "wrong-type-strip": (
        TABLE + 'asset = "probe"\nstrip_components = "1"\n',
        f"error: {ENTRY}: 'strip_components' must be an integer >= 0, got a string",
    ),
    "wrong-type-build": (
        TABLE + 'asset = "probe"\nbuild = "yes"\n',
        f"error: {ENTRY}: 'build' must be true or false, got a string",
    ),
    "wrong-type-args": (
        TABLE + 'asset = "probe"\nprocess = "health"\nargs = "-addr=:50051"\n',
        f"error: {ENTRY}: 'args' must be an array of strings",
    ),
    "wrong-type-table": (
        '[metadata]\ngithubassets = "probe"\n',
        "error: project.toml: metadata.githubassets must be an array of tables; "
        "write [[metadata.githubassets]] (double brackets) for each asset",
    ),
    "api-url-with-a-space": (
        TABLE + 'asset = "probe"\napi_url = "https://ghe.example.com /api/v3"\n',
        f"error: {ENTRY}: 'api_url' must be an http(s) URL, got "
        "'https://ghe.example.com /api/v3'; for GitHub Enterprise use https://HOST/api/v3",
    ),
    "unknown-key": (
        TABLE + 'asset = "probe"\ndestinaton = "bin"\n',
        "error: project.toml: [[metadata.githubassets]] #1: unknown key 'destinaton'; "
        f"known keys are {KNOWN_KEYS}",
    ),
    "bad-repo-form": (
        '[[metadata.githubassets]]\nrepo = "grpc-health-probe"\nasset = "probe"\n',
        "error: project.toml: [[metadata.githubassets]] #1: 'repo' must look like "
        "\"owner/name\", got 'grpc-health-probe'; "
        'for example repo = "grpc-ecosystem/grpc-health-probe"',
    ),
    "empty-asset": (TABLE + 'asset = ""\n', f"error: {ENTRY}: 'asset' is empty"),
    "negative-strip": (
        TABLE + 'asset = "probe.tar.gz"\nstrip_components = -1\n',
        f"error: {ENTRY}: 'strip_components' must be an integer >= 0, got -1",
    ),
    "absolute-destination": (
        TABLE + 'asset = "probe"\ndestination = "/usr/local/bin/probe"\n',
        f"error: {ENTRY}: 'destination' must be a relative path, got absolute "
        "'/usr/local/bin/probe'; "
        "paths are relative to the layer (destination) or the app dir (link)",
    ),
    "dotdot-destination": (
        TABLE + 'asset = "probe"\ndestination = "bin/../../probe"\n',
        f"error: {ENTRY}: 'destination' must stay inside its directory, got "
        "'bin/../../probe' with '..'; remove the '..' parts",
    ),
    "unknown-placeholder": (
        TABLE + 'asset = "probe-{platform}-{arch}"\n',
        f"error: {ENTRY}: 'asset' has an unknown placeholder {{platform}}; "
        "use only {os}, {arch}, {version}, {tag}",
    ),
    "bad-sha256": (
        TABLE + 'asset = "probe"\nsha256 = "abc123"\n',
        f"error: {ENTRY}: 'sha256' is not a sha256 ('abc123'); "
        "give 64 hex digits, optionally prefixed 'sha256:'",
    ),
    "bad-token-env": (
        TABLE + 'asset = "probe"\ntoken_env = "$GITHUB_TOKEN"\n',
        f"error: {ENTRY}: 'token_env' must be an environment variable name, got '$GITHUB_TOKEN'",
    ),
    "args-without-process": (
        TABLE + 'asset = "probe"\nargs = ["-v"]\n',
        f"error: {ENTRY}: 'args' is set but neither 'process' nor 'link' is; args belong to a "
        "process, or to the probe command of a link",
    ),
}


@pytest.mark.parametrize(("text", "message"), DETECT_CASES.values(), ids=DETECT_CASES.keys())
def test_config_mistake_fails_detect_with_one_exact_line(
    cnb: CnbDirs, text: str, message: str
) -> None:
    cnb.project(text)
    r = cnb.detect({"GITHUB_TOKEN": TOKEN})
    assert r.rc == 1, r.all
    assert r.err.splitlines() == [message]
    assert r.out == ""
    assert not cnb.plan_path.exists()
    assert TOKEN not in r.all


# -- mistakes only the release (or the build environment) can reveal -------------------------


def publish(s: StandIn, *, private: bool = True) -> bytes:
    data = host_binary()
    s.add_release(REPO, "v1", {"probe-linux-amd64": data, "probe-linux-arm64": b"arm"})
    if private:
        s.make_private(REPO, TOKEN)
    return data


def build(s: StandIn, cnb: CnbDirs, text: str, **env: str) -> Phase:
    """bin/build on the plan detect would write for text; it must fail and leave nothing."""
    cnb.project(text)
    write_plan(cnb)
    r = cnb.build({"GITHUB_API_URL": s.api_url, **env})
    assert r.rc == 1, r.all
    assert "Traceback" not in r.err
    assert [p.name for p in cnb.layers.iterdir()] == []
    assert_secret_kept(TOKEN, r, cnb, s.storage_requests())
    return r


def test_token_env_naming_an_unset_variable(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin)
    r = build(
        standin, cnb, TABLE + 'asset = "probe"\ntoken_env = "PROBE_TOKEN"\n', GITHUB_TOKEN=TOKEN
    )
    assert r.err.splitlines() == [
        f"error: {ENTRY}: 'token_env' names PROBE_TOKEN, which is not set; "
        "pass it to the build (e.g. pack build --env PROBE_TOKEN), or give the token in a "
        "binding of type github (kpack: a Secret in the Image's services)"
    ]
    assert standin.requests == [], "nothing is asked of GitHub without the token"


def test_unknown_tag(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin)
    r = build(standin, cnb, TABLE + 'asset = "probe-{os}-{arch}"\ntag = "V1"\n', GITHUB_TOKEN=TOKEN)
    assert r.err.splitlines() == [
        f"error: {ENTRY}: release tag V1 not found in {REPO}; "
        "check the tag name on the repository's releases page (tags are case-sensitive)"
    ]


def test_unknown_asset_lists_the_release_assets(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin)
    text = TABLE + 'asset = "probe-{os}-{arch}"\ntag = "v1"\nreplacements = { amd64 = "x86_64" }\n'
    r = build(standin, cnb, text, GITHUB_TOKEN=TOKEN)
    assert r.err.splitlines() == [
        f"error: {ENTRY}: release v1 of {REPO} has no asset 'probe-linux-x86_64'; "
        "set 'asset' (and 'replacements' for {os}/{arch}) to one of the assets listed",
        f"assets of {REPO} v1: probe-linux-amd64, probe-linux-arm64",
    ]


def test_private_repo_without_a_token(standin: StandIn, cnb: CnbDirs) -> None:
    publish(standin)
    r = build(standin, cnb, TABLE + 'asset = "probe-{os}-{arch}"\ntag = "v1"\n')
    assert r.err.splitlines() == [
        f"error: {ENTRY}: repository {REPO} not found at {standin.api_url}; check the name; if the "
        "repository is private set token_env (or GITHUB_TOKEN) and pass the variable to the "
        "build (pack build --env NAME), or give the token in a binding of type github"
    ]
    assert all("authorization" not in q.headers for q in standin.requests)


def test_two_raw_assets_writing_the_same_path(standin: StandIn, cnb: CnbDirs) -> None:
    for repo in ("acme/one", "acme/two"):
        standin.add_release(repo, "v1", {"tool": repo.encode()})
    text = "".join(
        f'[[metadata.githubassets]]\nrepo = "{repo}"\nasset = "tool"\ntag = "v1"\nlayer = "tools"\n'
        for repo in ("acme/one", "acme/two")
    )
    r = build(standin, cnb, text, GITHUB_TOKEN=TOKEN)
    assert r.err.splitlines() == [
        "error: project.toml: [[metadata.githubassets]] #2 (repo acme/two): "
        "two assets write the same path bin/tool in the layer; "
        "give one of them another 'destination' or 'layer'"
    ]


def test_two_assets_with_the_same_destination(standin: StandIn, cnb: CnbDirs) -> None:
    text = "".join(
        f'[[metadata.githubassets]]\nrepo = "acme/{n}"\nasset = "{n}"\n'
        'layer = "tools"\ndestination = "bin/tool"\n'
        for n in ("one", "two")
    )
    r = build(standin, cnb, text, GITHUB_TOKEN=TOKEN)
    assert r.err.splitlines() == [
        "error: project.toml: [[metadata.githubassets]] #2 (repo acme/two): 'destination' "
        "'tools/bin/tool' is also used by project.toml: [[metadata.githubassets]] #1 "
        "(repo acme/one); give each asset its own"
    ]
    assert standin.requests == [], "a clash in the config is found before any download"


@pytest.mark.parametrize(("key", "value"), [("process", "health"), ("link", "bin/probe")])
def test_two_assets_with_the_same_process_or_link_name_the_quoted_key(
    standin: StandIn, cnb: CnbDirs, key: str, value: str
) -> None:
    text = "".join(
        f'[[metadata.githubassets]]\nrepo = "acme/{n}"\nasset = "{n}"\n{key} = "{value}"\n'
        for n in ("one", "two")
    )
    r = build(standin, cnb, text)
    assert r.err.splitlines() == [
        f"error: project.toml: [[metadata.githubassets]] #2 (repo acme/two): '{key}' "
        f"'{value}' is also used by project.toml: [[metadata.githubassets]] #1 "
        "(repo acme/one); give each asset its own"
    ]
    assert standin.requests == []


def test_sha256_pin_that_does_not_match(standin: StandIn, cnb: CnbDirs) -> None:
    data = publish(standin)
    pin = "ab" * 32
    text = TABLE + f'asset = "probe-{{os}}-{{arch}}"\ntag = "v1"\nsha256 = "sha256:{pin}"\n'
    r = build(standin, cnb, text, GITHUB_TOKEN=TOKEN)
    assert r.err.splitlines() == [
        f"error: {ENTRY}: checksum mismatch for probe-linux-amd64: expected sha256:{pin} "
        f"(pinned), got sha256:{hashlib.sha256(data).hexdigest()} (downloaded bytes); "
        "nothing was installed; if the release asset was replaced on purpose, "
        "update the sha256 pin"
    ]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BP_GITHUB_ASSETS_TIMEOUT", "soon"),
        ("BP_GITHUB_ASSETS_BACKOFF", "-1"),
        ("BP_GITHUB_ASSETS_MAX_BYTES", "0"),
    ],
)
def test_bad_tuning_variable(standin: StandIn, cnb: CnbDirs, name: str, value: str) -> None:
    publish(standin)
    r = build(standin, cnb, TABLE + 'asset = "probe"\n', GITHUB_TOKEN=TOKEN, **{name: value})
    assert r.err.splitlines() == [
        f"error: {name} must be a number > 0, got {value!r}; unset {name} or fix its value"
    ]
