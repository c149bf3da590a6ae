"""bin/detect on a build image without python3 (Paketo base): it decides in POSIX sh."""

from __future__ import annotations

from pathlib import Path

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
    # the second alternative: without cpython, so a group with no CPython provider keeps
    # this buildpack (and its build says what to add) instead of dropping it
    assert plan["or"] == [
        {
            "provides": [{"name": "github-assets"}],
            "requires": [{"name": "github-assets", "metadata": {"config_file": "project.toml"}}],
        }
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
    assert r.err.splitlines() == [
        "error: probe-assets/github-assets: no python3 >= 3.10 on PATH of the build image; add "
        "a CPython buildpack (e.g. paketo-buildpacks/cpython) before this one in the order"
    ]


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


# Every way TOML can spell an asset list: the Python path finds the asset, so the sh path
# must require cpython (it may over-require, never skip).
ENTRY = 'repo = "a/b"\nasset = "x"\n'
INLINE = '{ repo = "a/b", asset = "x" }'
V02 = '[_]\nschema-version = "0.2"\n'
SPELLINGS = {
    "header": "[[metadata.githubassets]]\n" + ENTRY,
    "header-indented-with-comment": "\t[[metadata.githubassets]]  # the probe\n" + ENTRY,
    "header-spaces-around-dots": "[[ metadata . githubassets ]]\n" + ENTRY,
    "header-quoted-keys": '[["metadata"."githubassets"]]\n' + ENTRY,
    "header-quoted-table-key": '[[metadata."githubassets"]]\n' + ENTRY,
    "header-literal-keys": "[['metadata'.'githubassets']]\n" + ENTRY,
    "header-escaped-key": '[[metadata."github\\u0061ssets"]]\n' + ENTRY,
    "header-escaped-key-U": '[[metadata."\\U00000067ithubassets"]]\n' + ENTRY,
    "inline-array-under-metadata": f"[metadata]\ngithubassets = [ {INLINE} ]\n",
    "multi-line-inline-array": f"[metadata]\ngithubassets = [\n  {INLINE},\n]\n",
    "quoted-key-under-metadata": f'[metadata]\n"githubassets" = [{INLINE}]\n',
    "escaped-key-under-metadata": f'[metadata]\n"githubas\\u0073ets" = [{INLINE}]\n',
    "top-level-dotted-key": f"metadata.githubassets = [{INLINE}]\n",
    "quoted-dotted-key": f'"metadata"."githubassets" = [{INLINE}]\n',
    "inline-table": f"metadata = {{ githubassets = [{INLINE}] }}\n",
    "schema-0.2-header": V02 + 'id = "d"\n\n[[_.metadata.githubassets]]\n' + ENTRY,
    "schema-0.2-quoted": V02 + '\n[["_"."metadata"."githubassets"]]\n' + ENTRY,
    "schema-0.2-inline": V02 + f"\n[_.metadata]\ngithubassets = [{INLINE}]\n",
    "schema-0.2-dotted-in-_": V02 + f"metadata.githubassets = [{INLINE}]\n",
    "after-other-tables-and-comments": '[project]\nid = "x"\n# githubassets below\n\n'
    '[[build.env]]\nname = "A"\nvalue = "1"\n\n[[metadata.githubassets]]\n' + ENTRY,
    "crlf": ("[[metadata.githubassets]]\n" + ENTRY).replace("\n", "\r\n"),
    "byte-order-mark": "\ufeff[[metadata.githubassets]]\n" + ENTRY,
}


@pytest.mark.parametrize("text", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_every_spelling_of_the_table_requires_cpython(
    cnb: CnbDirs, no_python_path: str, text: str
) -> None:
    (cnb.app / "project.toml").write_bytes(text.encode())
    r = cnb.detect()
    assert r.rc == 0, r.all
    assert [q["metadata"]["repo"] for q in cnb.plan()["requires"]] == ["a/b"], "python path"
    r = cnb.detect({"PATH": no_python_path})
    assert r.rc == 0, r.all
    assert cnb.plan()["requires"] == [
        {"name": "github-assets", "metadata": {"config_file": "project.toml"}},
        {"name": "cpython", "metadata": {"build": True}},
    ]


NOT_CONFIGURED = {
    "comments-only": '# [[metadata.githubassets]]\n  # githubassets = []\n[project]\nid = "x"\n',
    "other-metadata": '[metadata]\nteam = "core"\n[[build.env]]\nname = "A"\nvalue = "1"\n',
    "empty-file": "",
}


@pytest.mark.parametrize("text", NOT_CONFIGURED.values(), ids=NOT_CONFIGURED.keys())
def test_files_without_the_table_give_provides_only_on_both_paths(
    cnb: CnbDirs, no_python_path: str, text: str
) -> None:
    cnb.project(text)
    for env in ({}, {"PATH": no_python_path}):
        r = cnb.detect(env)
        assert r.rc == 0, r.all
        assert cnb.plan() == {"provides": [{"name": "github-assets"}]}


OVER_REQUIRED = {
    "word-in-a-string": '[project]\ndescription = "uses githubassets"\n',
    "word-in-a-trailing-comment": '[project]\nid = "x" # no githubassets yet\n',
    "unicode-escape-in-a-value": '[project]\nname = "caf\\u00e9"\n',
}


@pytest.mark.parametrize("text", OVER_REQUIRED.values(), ids=OVER_REQUIRED.keys())
def test_a_mention_outside_a_key_over_requires_cpython(
    cnb: CnbDirs, no_python_path: str, text: str
) -> None:
    """The accepted cost of never skipping: cpython is required; build then finds no asset."""
    cnb.project(text)
    r = cnb.detect({"PATH": no_python_path})
    assert r.rc == 0, r.all
    assert {"name": "cpython", "metadata": {"build": True}} in cnb.plan()["requires"]
    cnb.bp_plan_from_detect()
    b = cnb.build()
    assert b.rc == 0, b.all
    assert cnb.files_outside_layers() == []


def test_a_config_name_starting_with_a_dash_is_read_not_taken_for_an_option(
    cnb: CnbDirs, no_python_path: str
) -> None:
    cnb.project("[[metadata.githubassets]]\n" + ENTRY, "-assets.toml")
    r = cnb.detect({"PATH": no_python_path, "GITHUB_ASSETS_PATH": "-assets.toml"})
    assert r.rc == 0, r.all
    assert cnb.plan()["requires"][0] == {
        "name": "github-assets",
        "metadata": {"config_file": "-assets.toml"},
    }


@pytest.mark.parametrize("config", ['[[metadata.githubassets]]\nrepo = "a/b"\n', ""])
def test_a_plan_that_cannot_be_written_is_an_error_on_both_paths(
    cnb: CnbDirs, no_python_path: str, config: str
) -> None:
    """Passing without a plan would drop the assets without a word: exit 1, `error: ` first."""
    cnb.project(config)
    cnb.plan_path = cnb.base / "missing-dir" / "plan.toml"
    for env in ({"PATH": no_python_path}, {}):
        r = cnb.detect(env)
        assert r.rc == 1, (env, r.all)
        assert r.err.startswith("error: "), (env, r.err)
        assert str(cnb.plan_path) in r.err.splitlines()[0]


def _pyenv_python(*versions: str) -> Path | None:
    """A CPython of one of these versions from pyenv, if this machine has one."""
    pyenv = Path.home() / ".pyenv" / "versions"
    return next((p for v in versions for p in sorted(pyenv.glob(f"{v}.*/bin/python3"))), None)


def test_an_old_python3_first_on_path_does_not_hide_a_newer_one(
    cnb: CnbDirs, no_python_path: str, standin: StandIn
) -> None:
    """The shims find a python3 >= 3.10: an older `python3` first on PATH (a stack's own)
    is passed over for the `python3.1x` after it, on the detect and the build path."""
    old, new = _pyenv_python("3.9", "3.8", "3.7"), _pyenv_python("3.10")
    if old is None or new is None:
        pytest.skip("needs a CPython < 3.10 and a CPython 3.10 (pyenv)")
    bindir = Path(no_python_path)
    (bindir / "python3").symlink_to(old)
    (bindir / "python3.10").symlink_to(new)
    standin.add_release("acme/tool", "v1", {"tool-linux-amd64": host_binary()})
    cnb.project(
        '[[metadata.githubassets]]\nrepo = "acme/tool"\nasset = "tool-{os}-{arch}"\ntag = "v1"\n'
    )
    r = cnb.detect({"PATH": no_python_path})
    assert r.rc == 0, r.all
    assert cnb.plan()["requires"] == [
        {
            "name": "github-assets",
            "metadata": {"repo": "acme/tool", "asset": "tool-{os}-{arch}", "tag": "v1"},
        }
    ], "python decided, not the sh path"
    cnb.bp_plan_from_detect()
    r = cnb.build({"PATH": no_python_path, "GITHUB_API_URL": standin.api_url})
    assert r.rc == 0, r.all
    assert (cnb.layers / "acme_tool" / "bin" / "tool").is_file()
