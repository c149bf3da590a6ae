"""Go build info read in pure Python, against what `go version -m` prints for the same file:
ELF files made here (both formats Go's linker has written) and the real grpc_health_probe."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tools.cnb_lifecycle import tools_bin
from tools.elf import elf_bytes, go_buildinfo, go_modinfo

from github_assets.elf import check
from github_assets.gobuildinfo import GoBuild, Module
from support import go_version_m

DEPS = [
    ("golang.org/x/net", "v0.25.0"),
    ("google.golang.org/grpc", "v1.64.0"),
    ("example.com/old", "v1.0.0", "example.com/fork", "v1.0.1"),
    ("github.com/x/y", "v0.0.0-20240101000000-abcdefabcdef+incompatible"),
]


def read(path: Path, arch: str = "amd64") -> GoBuild | None:
    info = check(path, arch, path.name)
    assert info is not None
    return info.go


@pytest.mark.parametrize("inline", [True, False], ids=["go1.18+-inline", "older-pointers"])
def test_build_info_equals_go_version_m(tmp_path: Path, inline: bool) -> None:
    version = "go1.22.4" if inline else "go1.17.13"
    modinfo = go_modinfo("example.com/tool/cmd/tool", ("example.com/tool", "v1.2.3"), DEPS)
    path = tmp_path / "tool"
    path.write_bytes(elf_bytes(go=go_buildinfo(version, modinfo, inline=inline)))
    build = read(path)
    assert build is not None
    assert build == GoBuild(
        version,
        "example.com/tool/cmd/tool",
        Module("example.com/tool", "v1.2.3"),
        (
            Module("golang.org/x/net", "v0.25.0", "h1:x="),
            Module("google.golang.org/grpc", "v1.64.0", "h1:x="),
            Module("example.com/fork", "v1.0.1", "h1:y="),
            Module(DEPS[3][0], DEPS[3][1], "h1:x="),
        ),
    )
    assert go_version_m(path) == (
        build.go_version,
        build.path,
        tuple(build.main[:2]) if build.main else ("", ""),
        [(d.path, d.version) for d in build.deps],
    )


def test_a_binary_without_modules_has_only_its_go_version(tmp_path: Path) -> None:
    path = tmp_path / "tool"
    path.write_bytes(elf_bytes(go=go_buildinfo("go1.21.0", b"")))
    assert read(path) == GoBuild("go1.21.0", "", None, ())


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(go_buildinfo("go1.22.4", go_modinfo("a", ("a", "v1"), DEPS))[:40], id="cut"),
        pytest.param(b"\xff Go buildinf:\x08\x02" + bytes(16) + b"\xff" * 12, id="bad-varint"),
        pytest.param(b"\xff Go buildinf:\x08\x00" + b"\xff" * 32, id="pointer-nowhere"),
        pytest.param(b"\xff Go buildinf:\x03\x00" + bytes(32), id="pointer-size-3"),
        pytest.param(b"no magic here" * 8, id="no-magic"),
    ],
)
def test_malformed_build_info_is_none_never_an_error(tmp_path: Path, content: bytes) -> None:
    """Build info describes the binary for scanners; it is never a reason to fail a build."""
    path = tmp_path / "tool"
    path.write_bytes(elf_bytes(go=content))
    assert read(path) is None


def test_a_c_program_has_none() -> None:
    true = Path(shutil.which("true") or "/bin/true")
    info = check(true, "amd64" if _x86() else "arm64", "true")
    assert info is not None
    assert info.go is None


@pytest.mark.parametrize("name", ["grpc_health_probe", "grpc_health_probe-linux-arm64"])
def test_the_real_grpc_health_probe(name: str) -> None:
    probe = tools_bin() / name
    if not probe.is_file():
        pytest.skip(f"{probe} is missing: run `make tools` (scripts/install-tools.sh)")
    build = read(probe, "arm64" if name.endswith("arm64") else "amd64")
    assert build is not None
    version, path, main, deps = go_version_m(probe)
    assert build.go_version == version
    assert build.path == path == "github.com/grpc-ecosystem/grpc-health-probe"
    assert build.main is not None
    assert (build.main.path, build.main.version) == main
    assert [(d.path, d.version) for d in build.deps] == deps
    assert "google.golang.org/grpc" in {d.path for d in build.deps}


def _x86() -> bool:
    import platform

    return platform.machine() == "x86_64"
