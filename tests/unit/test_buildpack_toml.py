"""buildpack.toml declares every knob the code reads, with the code's own defaults."""

from __future__ import annotations

import re
from pathlib import Path

import toml

from github_assets.settings import Settings
from github_assets.sources import DEFAULT_API

ROOT = Path(__file__).resolve().parents[2]


def configurations() -> dict[str, dict[str, object]]:
    data = toml.loads((ROOT / "buildpack.toml").read_text())
    return {c["name"]: c for c in data["metadata"]["configurations"]}


def test_every_variable_the_code_reads_is_declared_and_nothing_else() -> None:
    read = set()
    for path in (ROOT / "src").rglob("*.py"):
        text = path.read_text()
        read |= set(re.findall(r'"((?:BP|GITHUB|SSL|SERVICE)_[A-Z_]+)"', text))
        read |= {"SSL_CERT_FILE", "SSL_CERT_DIR"} & set(re.findall(r"SSL_CERT_\w+", text))
        if "get_environ_proxies" in text:  # requests reads the proxy variables for us
            read |= {"HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"}
    read = {f"{n}<HOST>" if n.endswith("_") else n for n in read}
    declared = configurations()
    assert set(declared) == read
    for name, conf in declared.items():
        assert conf["description"] and conf["build"] is True, name
        docs = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
        assert any(name in p.read_text() for p in docs), f"{name} is in no doc"
        reference = (ROOT / "docs" / "configuration.md").read_text() + (
            ROOT / "README.md"
        ).read_text()
        assert name in reference, f"{name} is not in the configuration reference"


def test_declared_defaults_are_the_code_defaults() -> None:
    s = Settings()
    conf = configurations()
    assert {name: conf[name]["default"] for name in conf} == {
        "GITHUB_TOKEN": "",
        "GITHUB_API_URL": DEFAULT_API,
        "GITHUB_ASSETS_PATH": "project.toml",
        "BP_LOG_LEVEL": "INFO",
        "BP_GITHUB_ASSETS_PARALLEL": str(s.parallel),
        "BP_GITHUB_ASSETS_TIMEOUT": f"{s.retry.timeout:g}",
        "BP_GITHUB_ASSETS_BACKOFF": f"{s.retry.backoff:g}",
        "BP_GITHUB_ASSETS_MAX_BYTES": str(s.limits.max_bytes),
        "BP_GITHUB_ASSETS_MAX_ENTRIES": str(s.limits.max_entries),
        "BP_GITHUB_ASSETS_REQUIRE_CHECKSUM": str(s.require_checksum).lower(),
        "BP_GITHUB_ASSETS_REQUIRE_PROVENANCE": str(s.require_provenance).lower(),
        "GITHUB_SERVER_URL": "",
        "BP_DEPENDENCY_MIRROR": "",
        "BP_DEPENDENCY_MIRROR_<HOST>": "",
        "SERVICE_BINDING_ROOT": "<platform>/bindings",
        "SSL_CERT_FILE": "",
        "SSL_CERT_DIR": "",
        "HTTPS_PROXY": "",
        "HTTP_PROXY": "",
        "NO_PROXY": "",
    }
