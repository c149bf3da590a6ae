"""What the docs show is what the code does: snippets parse, the cookbook is the built one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from tools.releases import catalogue

from github_assets.config import FIELDS, parse_project
from github_assets.tomlfile import loads

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```(toml|yaml|yml)\n(.*?)^```", re.M | re.S)


def blocks(path: Path, lang: str) -> list[str]:
    return [body for kind, body in BLOCK.findall(path.read_text()) if kind.startswith(lang[:3])]


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_every_yaml_snippet_parses(path: Path) -> None:
    for body in blocks(path, "yaml"):
        docs = list(yaml.safe_load_all(body))
        assert docs and all(isinstance(d, dict | list) for d in docs), body[:80]


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_every_toml_snippet_parses_and_every_asset_table_validates(path: Path) -> None:
    for body in blocks(path, "toml"):
        data = loads(body, f"a TOML snippet of {path.name}")
        if "metadata" in data or "_" in data:
            parse_project(data, f"a snippet of {path.name}")


def test_the_cookbook_is_the_configs_the_release_copies_build() -> None:
    text = (ROOT / "docs" / "cookbook.md").read_text()
    sections = re.findall(r"^## (\S+)\n.*?^```toml\n(.*?)^```", text, re.M | re.S)
    copies = catalogue()
    assert len(sections) >= 10
    for key, body in sections:
        assert body == copies[key].toml, key


def test_project_toml_example_shows_every_key() -> None:
    text = (ROOT / "project.toml.example").read_text()
    data = loads(text, "project.toml.example")
    specs = parse_project(data, "project.toml.example")
    assert specs[0].repo == "grpc-ecosystem/grpc-health-probe"
    for field in FIELDS:
        assert re.search(rf"^#? ?{field.name} = ", text, re.M), f"{field.name} is not shown"


def test_the_readme_is_a_front_door() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    assert text.startswith("# ") and "\nmake demo\n" in text and "\nmake test\n" in text
    for linked in re.findall(r"\]\(((?:docs/)?[\w.-]+\.md|project\.toml\.example|LICENSE)\)", text):
        assert (ROOT / linked).is_file(), linked
