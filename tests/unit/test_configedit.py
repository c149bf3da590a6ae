"""Editing the config's text: only the value changes, every other byte stays."""

from __future__ import annotations

import pytest

from github_assets.config import parse_project
from github_assets.configedit import append_entry, drop_key, headers, set_value
from github_assets.errors import ConfigError
from github_assets.tomlfile import loads

FILE = """# tools for the image
[_]
schema-version = "0.2"

[[_.metadata.githubassets]]   # the probe
repo = "grpc-ecosystem/grpc-health-probe"
tag = 'v0.4.39'  # bumped by renovate
sha256 = { amd64 = "AMD", arm64 = "ARM" }

[[ _.metadata.githubassets ]]
repo = "hadolint/hadolint"
tag = "v2.12.0"
[_.metadata.other]
x = 1
""".replace("AMD", "a" * 64).replace("ARM", "b" * 64)


def specs(text: str) -> list[object]:
    return list(parse_project(loads(text, "t"), "t"))


def test_headers_in_both_spellings() -> None:
    assert len(headers(FILE)) == 2


def test_set_value_changes_only_the_value() -> None:
    out = set_value(FILE, 0, "tag", "v0.4.40")
    assert out == FILE.replace("tag = 'v0.4.39'  #", 'tag = "v0.4.40"  #')
    out = set_value(FILE, 1, "tag", "v2.13.0")
    assert out == FILE.replace('tag = "v2.12.0"', 'tag = "v2.13.0"')
    pins = {"amd64": "c" * 64, "arm64": "d" * 64}
    out = set_value(FILE, 0, "sha256", pins)
    assert out == FILE.replace("a" * 64, "c" * 64).replace("b" * 64, "d" * 64)
    assert len(specs(out)) == 2


def test_set_value_adds_a_missing_key_inside_its_entry() -> None:
    out = set_value(FILE, 1, "link", "hadolint")
    assert 'tag = "v2.12.0"\nlink = "hadolint"\n[_.metadata.other]' in out
    assert len(specs(out)) == 2


def test_drop_key() -> None:
    out = drop_key(FILE, 0, "sha256")
    assert "sha256" not in out and out.count("\n") == FILE.count("\n") - 1


def test_append_uses_the_files_spelling_and_keeps_the_rest() -> None:
    out = append_entry(FILE, {"repo": "a/b", "tag": "v1", "args": ["-x", "y z"]})
    assert out.startswith(FILE)
    assert out[len(FILE) :] == (
        '\n[[_.metadata.githubassets]]\nrepo = "a/b"\ntag = "v1"\nargs = ["-x", "y z"]\n'
    )
    assert append_entry("", {"repo": "a/b"}) == '[[metadata.githubassets]]\nrepo = "a/b"\n'
    assert append_entry("x = 1", {"repo": "a/b"}).startswith("x = 1\n\n[[metadata")


def test_an_entry_that_is_not_a_table_header_is_named() -> None:
    with pytest.raises(ConfigError, match="cannot edit entry #3"):
        set_value(FILE, 2, "tag", "v1")
