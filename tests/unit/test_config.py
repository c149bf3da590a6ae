"""The config boundary: every key of product.md's table, and every bad input named."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from github_assets.cnb.plan import DetectResult, Require, write_build_plan
from github_assets.config import (
    FIELDS,
    AssetSpec,
    Checksum,
    load_project,
    parse_entry,
    parse_project,
)
from github_assets.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

HEX = "a" * 64
W = "project.toml: [[metadata.githubassets]] #1"


def entry(**kw: Any) -> dict[str, Any]:
    return {
        "repo": "grpc-ecosystem/grpc-health-probe",
        "asset": "grpc_health_probe-{os}-{arch}",
        **kw,
    }


def test_defaults() -> None:
    s = parse_entry(entry(), W)
    assert s.tag == "latest"
    assert s.token_env is None
    assert s.destination is None
    assert s.strip_components == 0
    assert s.sha256 is None
    assert s.replacements == ()
    assert s.process is None and s.args == ()
    assert s.build is False
    assert s.layer_name == "grpc-ecosystem_grpc-health-probe"
    assert s.name == "grpc_health_probe"
    assert s.link is None and s.api_url is None


def test_every_key_parses_and_round_trips_as_plan_metadata() -> None:
    table = entry(
        tag="v0.4.40",
        token_env="PROBE_TOKEN",
        destination="tools/",
        strip_components=1,
        sha256={"amd64": HEX, "arm64": "sha256:" + "B" * 64},
        replacements={"amd64": "x86_64"},
        process="health",
        args=["-addr=:5000"],
        build=True,
        layer="probe",
        link="bin/probe",
        api_url="https://ghe.example.com/api/v3/",
    )
    s = parse_entry(table, W)
    assert s.pin_for("arm64") == Checksum("b" * 64)
    assert s.layer_name == "probe"
    assert s.api_url == "https://ghe.example.com/api/v3"
    again = parse_entry(s.to_metadata(), W)
    assert again == s


def test_the_written_build_plan_parses_with_tomllib_and_round_trips_every_key(
    tmp_path: Path,
) -> None:
    """detect writes the plan with our own TOML writer: every key of FIELDS, with awkward
    strings, comes back from tomllib (what the lifecycle and build read) as it went in."""
    tables = [
        entry(
            asset='grpc_health_probe-{os}-{arch}" \u00e9',
            tag="v0.4.40",
            token_env="PROBE_TOKEN",
            destination="tools/",
            strip_components=1,
            sha256={"amd64": HEX, "arm64": "sha256:" + "B" * 64},
            replacements={"amd64": "x86_64", "arm64": "aarch 64"},
            process="health",
            args=["-addr=:5000", 'a "quoted"\targ', "back\\slash", "\u0001\u007f", ""],
            build=True,
            layer="probe",
            link="bin/probe",
            api_url="https://ghe.example.com/api/v3/",
            checksums="{asset}.sha256",
            version_prefix="probe/",
            targets=["linux/amd64", "linux/arm64"],
        ),
        entry(
            repo="mikefarah/yq",
            asset="yq_{os}_{arch}.tar.gz",
            files={"bin/yq": "./yq_{os}_{arch}", "share/man/": "*.1", "odd key=#": "x"},
            checksums=False,
            abi_check=False,
            provenance={
                "sigstore_bundle": "{asset}.sigstore.json",
                "identity": "^https://github.com/mikefarah/yq/.+$",
                "issuer": "https://token.actions.githubusercontent.com",
                "github_attestation": True,
                "signer_workflow": "mikefarah/yq/.github/workflows/release.yml",
                "predicate_type": "https://spdx.dev/Document/v2.3",
                "minisign_key": "RWQSCAJxMf2rCs8JaYkfwgfnxsm1/y3P6ZAwJr3M2VGIZcWIoUqUreK0",
                "minisign_signature": "{asset}.minisig",
            },
        ),
    ]
    specs = [parse_entry(t, W) for t in tables]
    assert {k for s in specs for k in s.to_metadata()} == {f.name for f in FIELDS}
    plan = tmp_path / "plan.toml"
    requires = tuple(Require("github-assets", s.to_metadata()) for s in specs)
    write_build_plan(plan, DetectResult(("github-assets",), requires))
    data = tomllib.loads(plan.read_text(encoding="utf-8"))
    assert data["provides"] == [{"name": "github-assets"}]
    assert [r["name"] for r in data["requires"]] == ["github-assets"] * 2
    for req, spec in zip(data["requires"], specs, strict=True):
        assert parse_entry(req["metadata"], W) == spec
        assert req["metadata"] == json.loads(json.dumps(spec.to_metadata()))  # tuples: lists
    assert data["requires"][1]["metadata"]["checksums"] is False


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"asset": "x"}, "missing required key 'repo'"),
        (entry(repo="nope"), "'repo' must look like \"owner/name\", got 'nope'"),
        (entry(repo="a/b/c"), "'repo' must look like"),
        (entry(repo=5), "'repo' must be a string, got an integer"),
        (entry(asset=""), "'asset' is empty"),
        (entry(asset="dir/x"), "'asset' is a file name, not a path"),
        (entry(asset="x-{platform}"), "'asset' has an unknown placeholder {platform}"),
        (entry(asset="x-{os"), "unbalanced brace"),
        (entry(tag=1), "'tag' must be a string, got an integer"),
        (entry(strip_components=-1), "'strip_components' must be an integer >= 0, got -1"),
        (entry(strip_components="1"), "'strip_components' must be an integer >= 0, got a string"),
        (entry(strip_components=True), "'strip_components' must be an integer >= 0, got a boolean"),
        (entry(destination="/usr/bin"), "'destination' must be a relative path, got absolute"),
        (entry(destination="../x"), "'destination' must stay inside its directory"),
        (entry(destination="a/../../x"), "with '..'"),
        (entry(link="/probe"), "'link' must be a relative path"),
        (entry(link="../probe"), "'link' must stay inside"),
        (entry(sha256="xyz"), "'sha256' is not a sha256"),
        (entry(sha256=5), "'sha256' must be a hex string"),
        (entry(sha256={"amd64": "zz"}), "'sha256.amd64' is not a sha256"),
        (entry(replacements=["a"]), "'replacements' must be a table"),
        (entry(replacements={"amd64": 1}), "'replacements.amd64' must be a string"),
        (entry(process="has space"), "'process' must be a process type name"),
        (entry(args="-addr"), "'args' must be an array of strings"),
        (entry(args=["x"]), "'args' is set but neither 'process' nor 'link' is"),
        (entry(build="yes"), "'build' must be true or false, got a string"),
        (entry(layer="launch"), "layer name 'launch' clashes with the buildpack's own files"),
        (entry(layer="a/b"), "'layer' must be a plain name"),
        (entry(token_env="not a name"), "'token_env' must be an environment variable name"),
        (entry(api_url="ftp://x"), "'api_url' must be an http(s) URL"),
        (entry(unknown_key=1), "unknown key 'unknown_key'"),
        ("string", "must be a table, got a string"),
    ],
)
def test_bad_input_names_file_entry_and_key(table: object, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_entry(table, W)
    text = str(err.value)
    assert text.startswith(W), text
    assert message in text
    assert "\n" not in text


def test_unknown_key_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="known keys are repo, asset, tag"):
        parse_entry(entry(destinaton="bin"), W)


def test_sha256_table_without_target_arch() -> None:
    s = parse_entry(entry(sha256={"amd64": HEX}), W)
    with pytest.raises(ConfigError, match="'sha256' has no entry for the target arch 'arm64'"):
        s.pin_for("arm64")


def test_schema_0_1_and_0_2() -> None:
    one = parse_project({"metadata": {"githubassets": [entry()]}}, "project.toml")
    two = parse_project(
        {"_": {"schema-version": "0.2", "metadata": {"githubassets": [entry()]}}}, "project.toml"
    )
    assert one == two
    assert len(one) == 1


def test_both_schemas_at_once_is_ambiguous() -> None:
    data = {"metadata": {"githubassets": [entry()]}, "_": {"metadata": {"githubassets": []}}}
    with pytest.raises(ConfigError, match="both"):
        parse_project(data, "project.toml")


def test_single_bracket_table_is_explained() -> None:
    with pytest.raises(ConfigError, match=r"write \[\[metadata.githubassets\]\]"):
        parse_project({"metadata": {"githubassets": entry()}}, "project.toml")


def test_load_project_missing_file_means_no_assets(tmp_path: Path) -> None:
    assert load_project(tmp_path, {}) == []


def test_load_project_bad_toml_shows_line(tmp_path: Path) -> None:
    (tmp_path / "project.toml").write_text('[[metadata.githubassets]]\nrepo = "a/b"\nasset = "x\n')
    with pytest.raises(ConfigError, match=r"failed to parse project.toml: .*\(line 3"):
        load_project(tmp_path, {})


def test_checksum_value() -> None:
    assert Checksum.parse("SHA256:" + "A" * 64) == Checksum("a" * 64)
    assert Checksum.parse("abc") is None
    assert str(Checksum("a" * 64)) == "sha256:" + "a" * 64


def test_specs_are_frozen() -> None:
    s = parse_entry(entry(), W)
    with pytest.raises(AttributeError):
        s.repo = "x/y"  # type: ignore[misc]
    assert isinstance(s, AssetSpec)


def test_the_keys_for_real_releases_parse_to_values() -> None:
    s = parse_entry(
        entry(
            checksums="{asset}.sha256",
            files={"bin/yq": "./yq_{os}_{arch}", "share/man/": "*.1"},
            version_prefix="kustomize/",
            targets=["linux/arm64", "linux/amd64", "linux/amd64"],
        ),
        W,
    )
    assert s.checksums == "{asset}.sha256"
    assert s.files == (("bin/yq", "yq_{os}_{arch}"), ("share/man/", "*.1"))
    assert s.version_prefix == "kustomize/"
    assert s.targets == ("linux/amd64", "linux/arm64")
    assert parse_entry(entry(checksums=False), W).checksums is False
    assert parse_entry(entry(), W).checksums == "auto"
    assert parse_entry(s.to_metadata(), W) == s  # the plan entry round-trips


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"files": {}}, "'files' must be a table"),
        ({"files": {"bin/x": "x"}, "destination": "bin"}, "'files' and 'destination' are both set"),
        ({"files": {".": "x"}}, "must name a file"),
        ({"checksums": "a/b"}, "is a release asset's name, not a path"),
        ({"targets": ["linux/amd64", 3]}, "'targets' must be a non-empty array"),
        ({"version_prefix": " v"}, "'version_prefix' must be a string without spaces"),
    ],
)
def test_bad_values_of_the_keys_for_real_releases(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_entry(entry(**extra), W)


def test_asset_may_be_left_out_and_is_then_chosen_per_target() -> None:
    spec = parse_entry({"repo": "hadolint/hadolint", "tag": "v2.12.0"}, "project.toml #1")
    assert spec.asset == "" and spec.name == ""
    assert "asset" not in spec.to_metadata()
    assert parse_entry(spec.to_metadata(), "plan") == spec


# GitHub's owner/name grammar, which config._is_repo writes out (no regex at every start).
REPO_GRAMMAR = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")


def _repos() -> list[str]:
    import random

    listed = ["a/b", "-a/b", "a-/b", "a/.", "a/..", "a/...", "a" * 39 + "/b", "a" * 40 + "/b"]
    listed += ["a/" + "b" * 100, "a/" + "b" * 101, "a/b/c", "/b", "a/", "ä/b", "a/b c", "a/b\n"]
    rng = random.Random(3)
    return listed + [
        "".join(rng.choice("aZ9-._/ä ") for _ in range(rng.randrange(1, 10))) for _ in range(400)
    ]


@pytest.mark.parametrize("repo", _repos())
def test_repo_follows_githubs_grammar(repo: str) -> None:
    ok = bool(REPO_GRAMMAR.fullmatch(repo.strip())) and repo.strip().split("/")[1] not in (
        ".",
        "..",
    )
    if ok:
        assert parse_entry({"repo": repo, "asset": "x"}, "entry").repo == repo.strip()
    else:
        with pytest.raises(ConfigError, match="'repo' must look like"):
            parse_entry({"repo": repo, "asset": "x"}, "entry")
