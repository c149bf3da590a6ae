"""The config file itself, through bin/detect (and bin/build) as subprocesses.

- TOML 1.0 as pack reads it, under tomllib (python3 >= 3.11) and the vendored tomli (3.10),
  including what toml 0.10 refused or misread;
- a UTF-8 byte-order mark, which pack's parser skips.
"""

from __future__ import annotations

import pytest

from support import CnbDirs

ASSET = '[[metadata.githubassets]]\nrepo = "a/b"\nasset = "x"\n'


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
