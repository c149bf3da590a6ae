"""Targets, templates and the executable-name rule."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from github_assets.platform import (
    Distro,
    Target,
    distro_from_env,
    executable_name,
    render,
    target_from_env,
)


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
        # The contract's rule, literally: only trailing -, _, . go; the v stays
        # (docs/configuration.md says so and what to write instead).
        ("kustomize_v{version}_{os}_{arch}.tar.gz", "kustomize_v"),
    ],
)
def test_executable_name(asset: str, name: str) -> None:
    assert executable_name(asset) == name


def test_target_from_cnb_env(tmp_path: Path) -> None:
    env = {
        "CNB_TARGET_OS": "linux",
        "CNB_TARGET_ARCH": "arm64",
        "CNB_TARGET_DISTRO_NAME": "Ubuntu",
        "CNB_TARGET_DISTRO_VERSION": "22.04",
    }
    assert target_from_env(env, tmp_path / "os-release") == Target(
        "linux", "arm64", Distro("ubuntu", "22.04")
    )


def test_target_falls_back_to_host(tmp_path: Path) -> None:
    host = {"x86_64": "amd64", "aarch64": "arm64"}[platform.machine()]
    assert target_from_env({}, tmp_path / "no-os-release") == Target("linux", host)


def test_distro_falls_back_to_the_build_images_os_release(tmp_path: Path) -> None:
    os_release = tmp_path / "os-release"
    os_release.write_text(
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n'
        'VERSION_ID="12"\nID=debian\n'
    )
    assert distro_from_env({}, os_release) == Distro("debian", "12")
    # The platform's word wins over the build image's file.
    env = {"CNB_TARGET_DISTRO_NAME": "alpine", "CNB_TARGET_DISTRO_VERSION": "3.20"}
    assert distro_from_env(env, os_release) == Distro("alpine", "3.20")


def test_a_distro_variable_not_set_falls_back_to_the_os_release(tmp_path: Path) -> None:
    os_release = tmp_path / "os-release"
    os_release.write_text('ID=ubuntu\nVERSION_ID="22.04"\n')
    assert distro_from_env({"CNB_TARGET_DISTRO_NAME": "ubuntu"}, os_release) == Distro(
        "ubuntu", "22.04"
    )
    assert distro_from_env({"CNB_TARGET_DISTRO_VERSION": "24.04"}, os_release) == Distro(
        "ubuntu", "24.04"
    )
    # Another distro's name: the host's version says nothing of it.
    assert distro_from_env({"CNB_TARGET_DISTRO_NAME": "debian"}, os_release) == Distro("debian", "")
    assert distro_from_env({"CNB_TARGET_DISTRO_VERSION": "12"}, tmp_path / "none") is None


def test_this_machines_os_release_is_read() -> None:
    if not Path("/etc/os-release").is_file():
        pytest.skip("this machine has no /etc/os-release")
    fields = dict(
        line.split("=", 1)
        for line in Path("/etc/os-release").read_text().splitlines()
        if "=" in line
    )
    distro = target_from_env({}).distro
    assert distro is not None
    assert distro.name == fields["ID"].strip('"').lower()


@pytest.mark.parametrize(
    ("distro", "glibc", "musl"),
    [
        (Distro("ubuntu", "20.04"), (2, 31), False),
        (Distro("ubuntu", "22.04"), (2, 35), False),
        (Distro("ubuntu", "24.04"), (2, 39), False),
        (Distro("debian", "11"), (2, 31), False),
        (Distro("debian", "12.5"), (2, 36), False),
        (Distro("debian", "13"), (2, 41), False),
        (Distro("alpine", "3.20"), None, True),
        (Distro("ubuntu", "26.04"), None, False),
        (Distro("fedora", "40"), None, False),
    ],
)
def test_distro_libc(distro: Distro, glibc: tuple[int, int] | None, musl: bool) -> None:
    assert (distro.glibc, distro.musl) == (glibc, musl)
