"""bin/detect as a real subprocess, with the CNB env and args."""

from __future__ import annotations

import subprocess
import sys

import pytest

from support import CAGE1016_PROJECT, ROOT, CnbDirs

PROBE = """
[[metadata.githubassets]]
repo = "grpc-ecosystem/grpc-health-probe"
asset = "grpc_health_probe-{os}-{arch}"
tag = "v0.4.40"
process = "health"
args = ["-addr=:50051"]
"""


def test_no_config_passes_with_provides_only(cnb: CnbDirs) -> None:
    r = cnb.detect()
    assert r.rc == 0, r.all
    assert cnb.plan() == {"provides": [{"name": "github-assets"}]}


def test_project_toml_without_table_passes_with_provides_only(cnb: CnbDirs) -> None:
    cnb.project('[project]\nid = "x"\n')
    r = cnb.detect()
    assert r.rc == 0, r.all
    assert cnb.plan() == {"provides": [{"name": "github-assets"}]}


def test_one_requires_per_asset_with_the_table_as_metadata(cnb: CnbDirs) -> None:
    cnb.project(PROBE + '\n[[metadata.githubassets]]\nrepo = "jqlang/jq"\nasset = "jq-linux64"\n')
    r = cnb.detect()
    assert r.rc == 0, r.all
    plan = cnb.plan()
    assert plan["provides"] == [{"name": "github-assets"}]
    assert [q["name"] for q in plan["requires"]] == ["github-assets", "github-assets"]
    assert plan["requires"][0]["metadata"] == {
        "repo": "grpc-ecosystem/grpc-health-probe",
        "asset": "grpc_health_probe-{os}-{arch}",
        "tag": "v0.4.40",
        "process": "health",
        "args": ["-addr=:50051"],
    }
    assert plan["requires"][1]["metadata"] == {"repo": "jqlang/jq", "asset": "jq-linux64"}


def test_the_metadata_is_the_table_as_written_defaults_and_spellings_kept(cnb: CnbDirs) -> None:
    """metadata = the asset's table: nothing added (no tag for latest), nothing dropped
    (values equal to the defaults), nothing respelled (a sha256: prefix, a ./ path)."""
    table = (
        '[[metadata.githubassets]]\nrepo = "acme/tool"\nstrip_components = 0\n'
        'checksums = "auto"\ndestination = "./bin/tool"\nbuild = false\n'
        f'sha256 = {{ amd64 = "sha256:{"a" * 64}" }}\n'
    )
    cnb.project(table)
    r = cnb.detect()
    assert r.rc == 0, r.all
    assert cnb.plan()["requires"] == [
        {
            "name": "github-assets",
            "metadata": {
                "repo": "acme/tool",
                "strip_components": 0,
                "checksums": "auto",
                "destination": "./bin/tool",
                "build": False,
                "sha256": {"amd64": "sha256:" + "a" * 64},
            },
        }
    ]


def test_schema_0_2_table(cnb: CnbDirs) -> None:
    cnb.project(
        '[_]\nschema-version = "0.2"\nid = "demo"\n\n'
        '[[_.metadata.githubassets]]\nrepo = "a/b"\nasset = "tool"\n'
    )
    r = cnb.detect()
    assert r.rc == 0, r.all
    assert cnb.plan()["requires"][0]["metadata"]["repo"] == "a/b"


def test_github_assets_path_names_another_file(cnb: CnbDirs) -> None:
    (cnb.app / "ci").mkdir()
    cnb.project('[[metadata.githubassets]]\nrepo = "a/b"\nasset = "tool"\n', "ci/assets.toml")
    r = cnb.detect({"GITHUB_ASSETS_PATH": "ci/assets.toml"})
    assert r.rc == 0, r.all
    assert cnb.plan()["requires"][0]["metadata"]["asset"] == "tool"


def test_github_assets_path_missing_file_is_an_error(cnb: CnbDirs) -> None:
    r = cnb.detect({"GITHUB_ASSETS_PATH": "nope.toml"})
    assert r.rc == 1
    assert r.err.startswith(
        "error: GITHUB_ASSETS_PATH is 'nope.toml', which is not a file in the app dir; "
    )


def test_cage1016_config_works_unchanged(cnb: CnbDirs) -> None:
    cnb.project(CAGE1016_PROJECT)
    r = cnb.detect()
    assert r.rc == 0, r.all
    assert len(cnb.plan()["requires"]) == 3


def test_broken_config_exits_1_with_a_one_line_reason(cnb: CnbDirs) -> None:
    cnb.project('[[metadata.githubassets]]\nrepo = "a/b"\nasset = "x"\nstrip_components = -1\n')
    r = cnb.detect()
    assert r.rc == 1
    first = r.err.splitlines()[0]
    assert first.startswith("error: project.toml: [[metadata.githubassets]] #1 (repo a/b):")
    assert "'strip_components' must be an integer >= 0, got -1" in first
    assert "Traceback" not in r.err


@pytest.mark.parametrize(
    ("key", "relative_to"), [("destination", "the layer"), ("link", "the app dir")]
)
def test_an_empty_path_says_what_it_is_relative_to(
    cnb: CnbDirs, key: str, relative_to: str
) -> None:
    cnb.project(f'[[metadata.githubassets]]\nrepo = "a/b"\nasset = "x"\n{key} = " "\n')
    r = cnb.detect()
    assert r.rc == 1
    assert r.err.splitlines()[0] == (
        f"error: project.toml: [[metadata.githubassets]] #1 (repo a/b): '{key}' is empty; "
        f"give a path relative to {relative_to}"
    )


@pytest.mark.parametrize("key", ["destination", "link", "files"])
def test_a_path_longer_than_any_filesystem_takes_fails_at_detect(cnb: CnbDirs, key: str) -> None:
    """Every component fits (NAME_MAX) but the whole is more than PATH_MAX: no build could
    create it, so detect says so, naming the entry and the key."""
    long = "/".join(["d" * 250] * 20)
    value = f'{{ "{long}" = "x" }}' if key == "files" else f'"{long}"'
    cnb.project(f'[[metadata.githubassets]]\nrepo = "a/b"\nasset = "x"\n{key} = {value}\n')
    r = cnb.detect()
    assert r.rc == 1, r.all
    first = r.err.splitlines()[0]
    assert first.startswith("error: project.toml: [[metadata.githubassets]] #1 (repo a/b): '"), (
        first
    )
    assert f"'{key}" in first and "5019 bytes" in first and "4095" in first


@pytest.mark.parametrize("number", ["9223372036854775808", "-9223372036854775809", "1" * 30])
def test_an_integer_beyond_64_bits_is_refused_as_toml_1_0_says(cnb: CnbDirs, number: str) -> None:
    """TOML 1.0: an integer that cannot be held losslessly in 64 bits is an error (pack's and
    the lifecycle's parser refuse it), so detect does not pass it into the plan."""
    cnb.project(f'[[metadata.githubassets]]\nrepo = "a/b"\nstrip_components = {number}\n')
    r = cnb.detect()
    assert r.rc == 1, r.all
    assert r.err.splitlines()[0] == (
        f"error: failed to parse project.toml: the integer {number} of "
        "metadata.githubassets[1].strip_components does not fit in 64 bits, as TOML 1.0 "
        "requires; fix the TOML syntax"
    )


def test_malformed_toml_shows_the_line(cnb: CnbDirs) -> None:
    cnb.project('[[metadata.githubassets]]\nrepo = "a/b"\nasset = \n')
    r = cnb.detect()
    assert r.rc == 1
    assert "failed to parse project.toml" in r.err
    assert "line 3" in r.err


def test_detect_does_not_import_the_http_stack(cnb: CnbDirs) -> None:
    """Nor pathlib (urllib.parse, ipaddress) and dataclasses: detect runs for every app on a
    builder, and those would add ~15% to it (callgrind's instruction count)."""
    cnb.project(PROBE)
    code = (
        "import sys, runpy;"
        f"sys.argv=['boot.py','detect','{cnb.platform}','{cnb.plan_path}'];"
        "import atexit;"
        "atexit.register(lambda: print('LOADED', sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('requests','urllib3','http','ssl','elftools','toml',"
        "'pathlib','dataclasses'))));"
        f"runpy.run_path('{ROOT / 'src' / 'boot.py'}', run_name='__main__')"
    )
    p = subprocess.run(  # as bin/detect runs it: no site (whose .pth files import anything)
        [sys.executable, "-E", "-s", "-S", "-c", code],
        cwd=cnb.app,
        capture_output=True,
        text=True,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    assert "LOADED []" in p.stdout
