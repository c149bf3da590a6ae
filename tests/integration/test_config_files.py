"""The config file itself, through bin/detect (and bin/build) as subprocesses.

- TOML 1.0 as pack reads it, under tomllib (python3 >= 3.11) and the vendored tomli (3.10),
  including what toml 0.10 refused or misread;
- a UTF-8 byte-order mark, which pack's parser skips;
- GITHUB_ASSETS_PATH and symlinks: only files inside the app dir are read, and the Python
  and the sh path (no python3) answer alike, at detect.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from support import CnbDirs

ASSET = '[[metadata.githubassets]]\nrepo = "a/b"\nasset = "x"\n'
PROVIDES_ONLY = {"provides": [{"name": "github-assets"}]}
PASSWD = "/etc/passwd"
# Builds here must fail before any request; should one be made, it goes nowhere.
NO_API = {"GITHUB_API_URL": "http://127.0.0.1:9"}


def required_repos(cnb: CnbDirs) -> list[str]:
    return [r["metadata"]["repo"] for r in cnb.plan().get("requires", [])]


# TOML 1.0 documents toml 0.10 (TOML 0.5) fails on, or reads wrong without a word.
TOML_1_0 = {
    # "Not a homogeneous array": a mixed-type array anywhere failed detect, even in a table
    # this buildpack never reads, and even with no asset configured.
    "mixed-array-elsewhere": ('[tool.lint]\nlevels = [1, "warn"]\n', []),
    "mixed-array-with-assets": (
        '[tool.lint]\nlevels = [1, "warn", 2.5]\n\n' + ASSET,
        ["a/b"],
    ),
    "array-of-arrays-and-strings": ('[tool.x]\nv = [["a"], "b"]\n\n' + ASSET, ["a/b"]),
    # "Unterminated string": quotes right before the closing delimiter.
    "literal-ending-in-quotes": ("[tool.x]\nv = '''it's ''''\n\n" + ASSET, ["a/b"]),
    # Read wrong, silently: the key became 'metadata ' and the asset was skipped.
    "spaces-around-dots": (
        'metadata . githubassets = [ { repo = "a/b", asset = "x" } ]\n',
        ["a/b"],
    ),
}


@pytest.mark.parametrize(("text", "repos"), TOML_1_0.values(), ids=TOML_1_0.keys())
def test_toml_1_0_documents_detect(
    cnb: CnbDirs, parser: dict[str, str], text: str, repos: list[str]
) -> None:
    cnb.project(text)
    r = cnb.detect(parser)
    assert r.rc == 0, r.all
    assert required_repos(cnb) == repos


# TOML 1.1 (tomli >= 2.4, Python 3.15's tomllib) is not what pack or tomllib 3.11-3.14 read:
# the same file must not pass on 3.10 and fail on 3.11.
TOML_1_1_ONLY = {
    "multi-line-inline-table": "x = { a = 1,\n  b = 2 }\n\n" + ASSET,
    "trailing-comma-inline-table": "x = { a = 1, }\n\n" + ASSET,
    "escape-e": 'x = "\\e[0m"\n\n' + ASSET,
    "time-without-seconds": "x = 07:32\n\n" + ASSET,
}


@pytest.mark.parametrize("text", TOML_1_1_ONLY.values(), ids=TOML_1_1_ONLY.keys())
def test_toml_1_1_only_syntax_is_refused_on_every_python(
    cnb: CnbDirs, parser: dict[str, str], text: str
) -> None:
    cnb.project(text)
    r = cnb.detect(parser)
    assert r.rc == 1, r.all
    first = r.err.splitlines()[0]
    assert first.startswith("error: failed to parse project.toml: ")
    assert first.endswith("; fix the TOML syntax") and "(line 1, column " in first


SYNTAX_ERRORS = {
    "missing-value": (ASSET + "tag = \n", "Invalid value (line 4, column 7)"),
    "unterminated-at-end": (ASSET + 'tag = "v1', "Unterminated string (line 4, column 10)"),
    "duplicate-key": (ASSET + 'repo = "c/d"\n', "Cannot overwrite a value (line 4, column 13)"),
    "bare-dot-key": (".=\n", "Invalid statement (line 1, column 1)"),
}


@pytest.mark.parametrize(("text", "reason"), SYNTAX_ERRORS.values(), ids=SYNTAX_ERRORS.keys())
def test_syntax_error_names_file_line_and_column(
    cnb: CnbDirs, parser: dict[str, str], text: str, reason: str
) -> None:
    (cnb.app / "ci").mkdir()
    cnb.project(text, "ci/assets.toml")
    r = cnb.detect({**parser, "GITHUB_ASSETS_PATH": "ci/assets.toml"})
    assert r.rc == 1, r.all
    assert r.err.splitlines() == [
        f"error: failed to parse ci/assets.toml: {reason}; fix the TOML syntax"
    ]
    assert not cnb.plan_path.exists()


def test_nesting_too_deep_is_one_line(cnb: CnbDirs, parser: dict[str, str]) -> None:
    cnb.project("x = " + "[" * 5000 + "]" * 5000 + "\n")
    r = cnb.detect(parser)
    assert r.rc == 1, r.all
    assert r.err.splitlines() == [
        "error: failed to parse project.toml: arrays or inline tables nested too deeply; "
        "fix the TOML syntax"
    ]


def test_integer_too_long_to_convert_is_one_line(cnb: CnbDirs, parser: dict[str, str]) -> None:
    cnb.project("x = " + "1" * 5000 + "\n")
    r = cnb.detect(parser)
    assert r.rc == 1, r.all
    assert len(r.err.splitlines()) == 1
    assert r.err.startswith("error: failed to parse project.toml: Exceeds the limit (4300")
    assert "Traceback" not in r.err


BOM = "\ufeff"


def test_utf8_byte_order_mark_is_skipped(cnb: CnbDirs, parser: dict[str, str]) -> None:
    """pack's parser (BurntSushi/toml >= 1.3) skips it, so Notepad's project.toml works."""
    cnb.project(BOM + ASSET)
    r = cnb.detect(parser)
    assert r.rc == 0, r.all
    assert required_repos(cnb) == ["a/b"]


def test_byte_order_mark_then_syntax_error_counts_columns_without_it(
    cnb: CnbDirs, parser: dict[str, str]
) -> None:
    cnb.project(BOM + "x = \n")
    r = cnb.detect(parser)
    assert r.rc == 1
    assert "Invalid value (line 1, column 5)" in r.err


def test_byte_order_mark_without_python(cnb: CnbDirs, no_python_path: str) -> None:
    cnb.project(BOM + ASSET)
    r = cnb.detect({"PATH": no_python_path})
    assert r.rc == 0, r.all
    assert {"name": "cpython", "metadata": {"build": True}} in cnb.plan()["requires"]


# GITHUB_ASSETS_PATH and symlinks: the same exact line from the Python and the sh path.
SET_PATH = (
    "set GITHUB_ASSETS_PATH to the config file's path relative to the app dir (e.g. ci/assets.toml)"
)
OUTSIDE = "put the file itself in the app dir (nothing outside it is read)"


def outside_config(cnb: CnbDirs) -> Path:
    """A valid config file next to the app dir, not in it."""
    path = cnb.base / "outside.toml"
    path.write_text(ASSET)
    return path


def stage_absolute(cnb: CnbDirs) -> dict[str, str]:
    return {"GITHUB_ASSETS_PATH": PASSWD}


def stage_absolute_valid(cnb: CnbDirs) -> dict[str, str]:
    return {"GITHUB_ASSETS_PATH": str(outside_config(cnb))}


def stage_dotdot(cnb: CnbDirs) -> dict[str, str]:
    outside_config(cnb)
    return {"GITHUB_ASSETS_PATH": "../outside.toml"}


def stage_dotdot_to_passwd(cnb: CnbDirs) -> dict[str, str]:
    depth = len(cnb.app.parts) - 1
    return {"GITHUB_ASSETS_PATH": "/".join([".."] * depth) + PASSWD}


def stage_missing(cnb: CnbDirs) -> dict[str, str]:
    cnb.project(ASSET)  # project.toml is there; the named file is not
    return {"GITHUB_ASSETS_PATH": "ci/assets.toml"}


def stage_directory(cnb: CnbDirs) -> dict[str, str]:
    (cnb.app / "ci").mkdir()
    return {"GITHUB_ASSETS_PATH": "ci"}


def stage_symlink_out(cnb: CnbDirs) -> dict[str, str]:
    (cnb.app / "assets.toml").symlink_to(outside_config(cnb))
    return {"GITHUB_ASSETS_PATH": "assets.toml"}


def stage_symlink_to_passwd(cnb: CnbDirs) -> dict[str, str]:
    (cnb.app / "assets.toml").symlink_to(PASSWD)
    return {"GITHUB_ASSETS_PATH": "assets.toml"}


def stage_dir_symlink_out(cnb: CnbDirs) -> dict[str, str]:
    outside_config(cnb)
    (cnb.app / "ci").symlink_to(cnb.base)
    return {"GITHUB_ASSETS_PATH": "ci/outside.toml"}


def stage_project_toml_symlink_out(cnb: CnbDirs) -> dict[str, str]:
    (cnb.app / "project.toml").symlink_to(outside_config(cnb))
    return {}


def stage_control_character(cnb: CnbDirs) -> dict[str, str]:
    (cnb.app / "ci").mkdir()
    cnb.project(ASSET, "ci/a\nb.toml")  # a name no TOML basic string takes as it is
    return {"GITHUB_ASSETS_PATH": "ci/a\nb.toml"}


PATH_CASES = {
    "control-character": (
        stage_control_character,
        "error: GITHUB_ASSETS_PATH holds a control character (a line break, a tab, ...); "
        + SET_PATH,
    ),
    "absolute": (
        stage_absolute,
        f"error: GITHUB_ASSETS_PATH is '{PASSWD}', an absolute path; {SET_PATH}",
    ),
    "absolute-valid-config": (
        stage_absolute_valid,
        "error: GITHUB_ASSETS_PATH is '{base}/outside.toml', an absolute path; " + SET_PATH,
    ),
    "dotdot": (
        stage_dotdot,
        "error: GITHUB_ASSETS_PATH is '../outside.toml', which leaves the app dir ('..'); "
        + SET_PATH,
    ),
    "dotdot-to-passwd": (
        stage_dotdot_to_passwd,
        "error: GITHUB_ASSETS_PATH is '{value}', which leaves the app dir ('..'); " + SET_PATH,
    ),
    "missing": (
        stage_missing,
        "error: GITHUB_ASSETS_PATH is 'ci/assets.toml', which is not a file in the app dir; "
        f"{SET_PATH}, or unset it to read project.toml",
    ),
    "directory": (
        stage_directory,
        "error: GITHUB_ASSETS_PATH is 'ci', which is not a file in the app dir; "
        f"{SET_PATH}, or unset it to read project.toml",
    ),
    "symlink-out": (
        stage_symlink_out,
        "error: GITHUB_ASSETS_PATH is 'assets.toml', a symlink that leads outside the app dir; "
        + OUTSIDE,
    ),
    "symlink-to-passwd": (
        stage_symlink_to_passwd,
        "error: GITHUB_ASSETS_PATH is 'assets.toml', a symlink that leads outside the app dir; "
        + OUTSIDE,
    ),
    "dir-symlink-out": (
        stage_dir_symlink_out,
        "error: GITHUB_ASSETS_PATH is 'ci/outside.toml', a symlink that leads outside the app "
        "dir; " + OUTSIDE,
    ),
    "project-toml-symlink-out": (
        stage_project_toml_symlink_out,
        "error: project.toml is a symlink that leads outside the app dir; " + OUTSIDE,
    ),
}


@pytest.mark.parametrize("python", [True, False], ids=["python", "sh"])
@pytest.mark.parametrize(("stage", "message"), PATH_CASES.values(), ids=PATH_CASES.keys())
def test_config_file_outside_the_app_dir_fails_detect(
    cnb: CnbDirs, no_python_path: str, python: bool, stage: object, message: str
) -> None:
    env = stage(cnb)  # type: ignore[operator]
    if not python:
        env["PATH"] = no_python_path
    r = cnb.detect(env)
    assert r.rc == 1, r.all
    expected = message.format(base=cnb.base, value=env.get("GITHUB_ASSETS_PATH", ""))
    assert r.err.splitlines() == [expected]
    assert not cnb.plan_path.exists()
    assert "root:" not in r.all


@pytest.mark.parametrize("python", [True, False], ids=["python", "sh"])
def test_symlinks_inside_the_app_dir_are_fine(
    cnb: CnbDirs, no_python_path: str, python: bool
) -> None:
    (cnb.app / "config").mkdir()
    cnb.project(ASSET, "config/assets.toml")
    (cnb.app / "ci").symlink_to("config")
    (cnb.app / "project.toml").symlink_to("config/assets.toml")
    for env in ({"GITHUB_ASSETS_PATH": "ci/assets.toml"}, {}):
        if not python:
            env["PATH"] = no_python_path
        r = cnb.detect(env)
        assert r.rc == 0, r.all
        assert len(cnb.plan()["requires"]) == (1 if python else 2)


@pytest.mark.parametrize("python", [True, False], ids=["python", "sh"])
def test_dangling_project_toml_is_no_config(
    cnb: CnbDirs, no_python_path: str, python: bool
) -> None:
    (cnb.app / "project.toml").symlink_to("gone.toml")
    r = cnb.detect({} if python else {"PATH": no_python_path})
    assert r.rc == 0, r.all
    assert cnb.plan() == PROVIDES_ONLY


def test_build_reads_no_config_file_outside_the_app_dir(cnb: CnbDirs) -> None:
    """A plan entry naming the config file (bin/detect's sh path) gets the same check."""
    (cnb.app / "assets.toml").symlink_to(outside_config(cnb))
    cnb.bp_plan_path.write_text(
        '[[entries]]\nname = "github-assets"\n[entries.metadata]\nconfig_file = "assets.toml"\n'
    )
    r = cnb.build(NO_API)
    assert r.rc == 1, r.all
    assert r.err.splitlines()[0] == (
        "error: assets.toml is a symlink that leads outside the app dir (named by detect); "
        + OUTSIDE
    )


def test_sh_path_without_realpath_leaves_the_symlink_check_to_build(
    cnb: CnbDirs, tmp_path: Path
) -> None:
    """A build image with neither realpath nor readlink: detect cannot resolve the link, so
    it hands the file to build, which refuses it before reading; never silently read."""
    bare = tmp_path / "bare"
    bare.mkdir()
    for tool in ("sh", "dirname", "grep", "sed", "cat"):
        found = shutil.which(tool, path="/usr/bin:/bin")
        assert found, tool
        (bare / tool).symlink_to(found)
    (cnb.app / "project.toml").symlink_to(outside_config(cnb))
    d = cnb.detect({"PATH": str(bare)})
    assert d.rc == 0, d.all
    cnb.bp_plan_from_detect()
    r = cnb.build(NO_API)
    assert r.rc == 1
    assert r.err.startswith(
        "error: project.toml is a symlink that leads outside the app dir (named by detect)"
    )
