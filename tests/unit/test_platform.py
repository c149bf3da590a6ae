"""Targets, templates and the executable-name rule."""

from __future__ import annotations

import platform

import pytest

from github_assets.platform import Target, executable_name, render, target_from_env


@pytest.mark.parametrize(
    ("template", "target", "tag", "repl", "expected"),
    [
        (
            "grpc_health_probe-{os}-{arch}",
            Target("linux", "amd64"),
            "v0.4.40",
            {},
            "grpc_health_probe-linux-amd64",
        ),
        (
            "grpc_health_probe-{os}-{arch}",
            Target("linux", "arm64"),
            "v0.4.40",
            {},
            "grpc_health_probe-linux-arm64",
        ),
        (
            "tool_{version}_{os}_{arch}.tar.gz",
            Target("linux", "amd64"),
            "v1.2.3",
            {"amd64": "x86_64", "linux": "Linux"},
            "tool_1.2.3_Linux_x86_64.tar.gz",
        ),
        (
            "tool-{tag}-{arch}",
            Target("linux", "arm64"),
            "v2.0.0",
            {"arm64": "aarch64"},
            "tool-v2.0.0-aarch64",
        ),
        ("jq-{version}", Target("linux", "amd64"), "jq-1.7.1", {}, "jq-jq-1.7.1"),
        ("plain", Target("linux", "amd64"), "v1", {}, "plain"),
    ],
)
def test_render(
    template: str, target: Target, tag: str, repl: dict[str, str], expected: str
) -> None:
    assert render(template, target, tag, repl) == expected


@pytest.mark.parametrize(
    ("asset", "name"),
    [
        ("grpc_health_probe-{os}-{arch}", "grpc_health_probe"),
        ("tool_{version}_{os}_{arch}.tar.gz", "tool"),
        ("jq-linux64", "jq-linux64"),
        ("grpc_health_probe-linux-amd64", "grpc_health_probe-linux-amd64"),
        ("tool.gz", "tool"),
        ("{os}-tool", "tool"),
    ],
)
def test_executable_name(asset: str, name: str) -> None:
    assert executable_name(asset) == name


def test_target_from_cnb_env() -> None:
    assert target_from_env({"CNB_TARGET_OS": "linux", "CNB_TARGET_ARCH": "arm64"}) == Target(
        "linux", "arm64"
    )


def test_target_falls_back_to_host() -> None:
    host = {"x86_64": "amd64", "aarch64": "arm64"}[platform.machine()]
    assert target_from_env({}) == Target("linux", host)
