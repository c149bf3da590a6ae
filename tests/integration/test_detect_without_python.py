"""bin/detect on a build image without python3 (Paketo base): it decides in POSIX sh."""

from __future__ import annotations

import pytest
from tools.github_standin import StandIn

from support import CnbDirs, host_binary


def test_no_assets_gives_the_same_plan_as_python(cnb: CnbDirs, no_python_path: str) -> None:
    cnb.project('[project]\nid = "x"\n')
    r = cnb.detect({"PATH": no_python_path})
    assert r.rc == 0, r.all
    assert cnb.plan() == {"provides": [{"name": "github-assets"}]}
    r = cnb.detect()
    assert r.rc == 0, r.all
    assert cnb.plan() == {"provides": [{"name": "github-assets"}]}


@pytest.mark.parametrize("table", ["[[metadata.githubassets]]", "  [[ _.metadata.githubassets ]]"])
def test_assets_require_cpython_at_build_time(
    cnb: CnbDirs, no_python_path: str, table: str
) -> None:
    cnb.project(f'{table}\nrepo = "a/b"\nasset = "x"\n')
    r = cnb.detect({"PATH": no_python_path})
    assert r.rc == 0, r.all
    plan = cnb.plan()
    assert plan["provides"] == [{"name": "github-assets"}]
    assert plan["requires"] == [
        {"name": "github-assets", "metadata": {"config_file": "project.toml"}},
        {"name": "cpython", "metadata": {"build": True}},
    ]
    assert "needs cpython at build time" in r.err


def test_github_assets_path_is_honoured(cnb: CnbDirs, no_python_path: str) -> None:
    (cnb.app / "ci").mkdir()
    cnb.project('[[metadata.githubassets]]\nrepo = "a/b"\nasset = "x"\n', "ci/a b.toml")
    r = cnb.detect({"PATH": no_python_path, "GITHUB_ASSETS_PATH": "ci/a b.toml"})
    assert r.rc == 0, r.all
    assert cnb.plan()["requires"][0]["metadata"] == {"config_file": "ci/a b.toml"}


def test_commented_table_is_not_an_asset(cnb: CnbDirs, no_python_path: str) -> None:
    cnb.project('# [[metadata.githubassets]]\n[project]\nid = "x"\n')
    r = cnb.detect({"PATH": no_python_path})
    assert r.rc == 0, r.all
    assert "requires" not in cnb.plan()


def test_build_without_python_says_what_to_do(cnb: CnbDirs, no_python_path: str) -> None:
    cnb.project('[[metadata.githubassets]]\nrepo = "a/b"\nasset = "x"\n')
    assert cnb.detect({"PATH": no_python_path}).rc == 0
    cnb.bp_plan_from_detect()
    r = cnb.build({"PATH": no_python_path})
    assert r.rc == 1
    assert "no python3 >= 3.10 on PATH" in r.err
    assert "CPython buildpack" in r.err


def test_build_reads_the_config_file_detect_named(
    cnb: CnbDirs, no_python_path: str, standin: StandIn
) -> None:
    """Detect without python, build with python (a CPython buildpack put it on PATH)."""
    standin.add_release("acme/tool", "v1", {"tool-linux-amd64": host_binary()})
    cnb.project(
        '[[metadata.githubassets]]\nrepo = "acme/tool"\nasset = "tool-{os}-{arch}"\ntag = "v1"\n'
    )
    assert cnb.detect({"PATH": no_python_path}).rc == 0
    cnb.bp_plan_from_detect()
    r = cnb.build({"GITHUB_API_URL": standin.api_url})
    assert r.rc == 0, r.all
    assert (cnb.layers / "acme_tool" / "bin" / "tool").is_file()


def test_build_validates_the_config_detect_could_not(cnb: CnbDirs, no_python_path: str) -> None:
    cnb.project(
        '[[metadata.githubassets]]\nrepo = "acme/tool"\nasset = "x"\nstrip_components = -2\n'
    )
    assert cnb.detect({"PATH": no_python_path}).rc == 0
    cnb.bp_plan_from_detect()
    r = cnb.build()
    assert r.rc == 1
    assert r.err.startswith("error: project.toml: [[metadata.githubassets]] #1 (repo acme/tool):")
    assert "'strip_components' must be an integer >= 0, got -2" in r.err
