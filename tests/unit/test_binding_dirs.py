"""bindings.py on real directories: both layouts, Kubernetes' Secret mounts, host matching."""

from __future__ import annotations

from pathlib import Path

import pytest

from github_assets import bindings
from github_assets.errors import ConfigError


def write(root: Path, name: str, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / name / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_both_layouts_and_a_kubernetes_secret_mount(tmp_path: Path) -> None:
    root = tmp_path / "bindings"
    write(root, "spec", {"type": "GitHub\n", "provider": "acme", "token": "t1\n"})
    write(root, "old", {"metadata/kind": "ca-certificates", "secret/corp.pem": "pem"})
    # kubelet: keys are symlinks into a hidden timestamped dir, reached through ..data
    data = root / "k8s" / "..2026_01_01"
    data.mkdir(parents=True)
    (root / "k8s" / "..data").symlink_to(data.name)
    for key, value in {"type": "dependency-mirror", "default": "https://m"}.items():
        (data / key).write_text(value)
        (root / "k8s" / key).symlink_to(f"..data/{key}")
    write(root, "untyped", {"token": "x"})

    found = bindings.read({}, tmp_path.parent / "elsewhere") + bindings.read(
        {"SERVICE_BINDING_ROOT": str(root)}, None
    )
    assert [(b.name, b.type, sorted(b.keys)) for b in found] == [
        ("k8s", "dependency-mirror", ["default"]),
        ("old", "ca-certificates", ["corp.pem"]),
        ("spec", "github", ["token"]),
    ]
    assert found[0].value("default") == "https://m"
    assert found[2].value("token") == "t1"
    assert bindings.ca_files(found) == [
        (
            "binding old (type ca-certificates), key corp.pem",
            str(root / "old" / "secret" / "corp.pem"),
        )
    ]


def test_service_binding_root_wins_over_the_platform_dir(tmp_path: Path) -> None:
    write(tmp_path / "platform" / "bindings", "a", {"type": "github", "token": "p"})
    write(tmp_path / "sbr", "b", {"type": "github", "token": "s"})
    env = {"SERVICE_BINDING_ROOT": str(tmp_path / "sbr")}
    assert [b.name for b in bindings.read(env, tmp_path / "platform")] == ["b"]
    assert [b.name for b in bindings.read({}, tmp_path / "platform")] == ["a"]
    assert bindings.read({}, None) == ()


@pytest.mark.parametrize(
    ("api", "want"),
    [
        ("https://api.github.com", "public"),
        ("https://ghe.example.com/api/v3", "ghe"),
        ("http://127.0.0.1:8080", "loopback"),
        ("http://127.0.0.1:9090", "any"),
        ("http://[::1", "any"),  # malformed: only a binding without host applies
    ],
)
def test_github_token_by_host(tmp_path: Path, api: str, want: str) -> None:
    write(tmp_path, "0-any", {"type": "github", "token": "any"})
    write(tmp_path, "1-public", {"type": "github", "token": "public", "host": "api.github.com"})
    write(tmp_path, "2-ghe", {"type": "github", "token": "ghe", "host": "https://ghe.example.com/"})
    write(tmp_path, "3-loop", {"type": "github", "token": "loopback", "host": "127.0.0.1:8080"})
    found = bindings.read({"SERVICE_BINDING_ROOT": str(tmp_path)}, None)
    assert bindings.github_token(found, api) == want


def test_no_github_binding_no_token_and_one_without_token_is_an_error(tmp_path: Path) -> None:
    assert bindings.github_token((), "https://api.github.com") is None
    write(tmp_path, "gh", {"type": "github", "tokn": "secret-value"})
    found = bindings.read({"SERVICE_BINDING_ROOT": str(tmp_path)}, None)
    with pytest.raises(ConfigError) as e:
        bindings.github_token(found, "https://api.github.com")
    assert str(e.value).startswith("binding gh (type github) has no key 'token'")
    assert "secret-value" not in str(e.value)
