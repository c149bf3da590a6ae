"""docs/cli.md's Renovate configuration finds every cookbook entry's repo and tag."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tools.releases import catalogue

ROOT = Path(__file__).resolve().parents[2]


def renovate() -> dict[str, object]:
    text = (ROOT / "docs" / "cli.md").read_text()
    blocks = re.findall(r"^```json\n(.*?)^```", text, re.M | re.S)
    [config] = [json.loads(b) for b in blocks if '"customManagers"' in b]
    return config  # type: ignore[no-any-return]


def test_renovate_finds_every_repo_and_tag_of_the_cookbook() -> None:
    config = renovate()
    [manager] = config["customManagers"]  # type: ignore[index]
    [pattern] = manager["matchStrings"]
    # JavaScript's named groups, in Python's spelling.
    rx = re.compile(pattern.replace("(?<", "(?P<"))
    files = re.compile(manager["managerFilePatterns"][0].strip("/"))
    assert files.search("project.toml") and files.search("ci/project.toml")
    seen = 0
    for copy in catalogue().values():
        found = [(m["depName"], m["currentValue"]) for m in rx.finditer(copy.toml)]
        assert found == [(e.config["repo"], e.config["tag"]) for e in copy.entries], copy.key
        seen += len(found)
    assert seen >= 50


def test_renovate_hands_the_move_to_upgrade() -> None:
    tasks = renovate()["postUpgradeTasks"]
    assert tasks["commands"][-1] == "github-assets upgrade {{{depName}}}"  # type: ignore[index]
    assert set(tasks["fileFilters"]) == {"project.toml", "github-assets.lock"}  # type: ignore[index]
