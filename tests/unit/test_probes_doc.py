"""docs/probes.md says what the build does: its recommended path is the link path the
example app (built and probed by tests/e2e/test_lifecycle.py) gets, and every probe it shows
fits grpc_health_probe's own timeouts into the kubelet's timeoutSeconds."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from github_assets.config import load_config_file
from github_assets.probes import APP_AT_LAUNCH, LAYERS_AT_LAUNCH
from github_assets.tomlfile import loads

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "probes.md"
BLOCK = re.compile(r"^```(toml|yaml)\n(.*?)^```", re.M | re.S)
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
KUBELET_DEFAULT_TIMEOUT = 1.0
PROBE_DEFAULT_TIMEOUTS = {"-connect-timeout": 1.0, "-rpc-timeout": 1.0}
"""grpc_health_probe's flag defaults (its -h says so; the e2e suite runs the real binary)."""


def blocks(lang: str) -> list[str]:
    return [body for kind, body in BLOCK.findall(PAGE.read_text()) if kind == lang]


def probes(node: Any) -> Iterator[dict[str, Any]]:
    """Every startup/readiness/liveness probe in a parsed YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in PROBES:
                yield value
            else:
                yield from probes(value)
    elif isinstance(node, list):
        for item in node:
            yield from probes(item)


def all_probes() -> list[dict[str, Any]]:
    return [p for body in blocks("yaml") for doc in yaml.safe_load_all(body) for p in probes(doc)]


def recommended() -> str:
    m = re.search(r"\*\*Recommended path: `([^`]+)`\*\*", PAGE.read_text())
    assert m, "docs/probes.md names no recommended path"
    return m.group(1)


def test_the_recommended_path_is_the_example_apps_link_the_e2e_test_calls() -> None:
    [example] = load_config_file(ROOT / "examples" / "grpc-app", "project.toml")
    assert example.link is not None
    assert recommended() == str(APP_AT_LAUNCH / example.link)
    # The page's own config makes the same path.
    [toml_block] = blocks("toml")
    [entry] = loads(toml_block, "docs/probes.md")["metadata"]["githubassets"]
    assert str(APP_AT_LAUNCH / entry["link"]) == recommended()


def test_every_exec_probe_calls_the_recommended_path_or_the_process() -> None:
    commands = [p["exec"]["command"][0] for p in all_probes() if "exec" in p]
    assert len(commands) >= 8
    assert set(commands) == {recommended(), "/cnb/process/health"}


def seconds(value: str) -> float:
    m = re.fullmatch(r"([0-9.]+)(ms|s)", value)
    assert m, value
    return float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)


@pytest.mark.parametrize("index", range(len(all_probes())))
def test_the_probes_timeouts_fit_in_timeout_seconds(index: int) -> None:
    probe = all_probes()[index]
    if "exec" not in probe or probe["exec"]["command"][0] != recommended():
        return
    flags = dict(PROBE_DEFAULT_TIMEOUTS)
    for arg in probe["exec"]["command"][1:]:
        name, _, value = arg.partition("=")
        if name in flags:
            flags[name] = seconds(value)
    assert sum(flags.values()) <= probe.get("timeoutSeconds", KUBELET_DEFAULT_TIMEOUT), probe


def test_the_table_and_label_name_the_paths_the_build_makes() -> None:
    text = PAGE.read_text()
    layer = LAYERS_AT_LAUNCH / "grpc-ecosystem_grpc-health-probe" / "bin" / "grpc_health_probe"
    assert f"`{layer}`" in text
    assert '.config.Labels["probe-assets.github-assets.path.grpc_health_probe"]' in text


def test_the_readme_links_the_page() -> None:
    assert "](docs/probes.md)" in (ROOT / "README.md").read_text()
