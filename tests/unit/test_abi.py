"""The run-image ABI check on ELF files made here (version needs, interpreters), on this
machine's own binaries, and on the real grpc_health_probe (static: runs everywhere)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from tools.cnb_lifecycle import tools_bin
from tools.elf import EM_AARCH64, EM_X86_64, elf_bytes

from github_assets.elf import ElfInfo, check, check_abi
from github_assets.errors import ElfError
from github_assets.platform import Distro

LD_GLIBC = "/lib64/ld-linux-x86-64.so.2"
LD_MUSL = "/lib/ld-musl-x86_64.so.1"
UBUNTU_2204 = Distro("ubuntu", "22.04")
ALPINE = Distro("alpine", "3.20")


def glibc_tool(*needs: str, machine: int = EM_X86_64, interp: str | None = LD_GLIBC) -> bytes:
    """A dynamic executable needing these GLIBC_x.y versions of libc.so.6 (and libm)."""
    return elf_bytes(
        machine,
        interp=interp,
        version_needs={"libc.so.6": list(needs), "libm.so.6": ["GLIBC_2.2.5"]},
    )


def info_of(tmp_path: Path, data: bytes, arch: str = "amd64") -> ElfInfo:
    path = tmp_path / "tool"
    path.write_bytes(data)
    info = check(path, arch, "bin/tool")
    assert info is not None
    return info


def test_the_highest_glibc_version_needed_is_read(tmp_path: Path) -> None:
    info = info_of(tmp_path, glibc_tool("GLIBC_2.2.5", "GLIBC_2.38", "GLIBC_2.17", "GLIBC_2.4"))
    assert (info.static, info.libc, info.glibc) == (False, "glibc", (2, 38))
    arm = info_of(
        tmp_path,
        glibc_tool("GLIBC_2.17", machine=EM_AARCH64, interp="/lib/ld-linux-aarch64.so.1"),
        "arm64",
    )
    assert (arm.libc, arm.glibc) == ("glibc", (2, 17))


def test_a_shared_library_is_glibc_by_its_version_needs(tmp_path: Path) -> None:
    info = info_of(tmp_path, glibc_tool("GLIBC_2.34", interp=None))
    assert (info.static, info.interpreter, info.libc, info.glibc) == (False, None, "glibc", (2, 34))


@pytest.mark.parametrize(
    ("data", "distro"),
    [
        pytest.param(glibc_tool("GLIBC_2.35"), UBUNTU_2204, id="glibc-equal"),
        pytest.param(glibc_tool("GLIBC_2.31"), Distro("ubuntu", "20.04"), id="glibc-2.31-focal"),
        pytest.param(glibc_tool("GLIBC_2.38"), Distro("ubuntu", "24.04"), id="glibc-older"),
        pytest.param(glibc_tool("GLIBC_2.41"), Distro("debian", "13"), id="glibc-trixie"),
        pytest.param(elf_bytes(interp=LD_MUSL), ALPINE, id="musl-on-alpine"),
        pytest.param(elf_bytes(), ALPINE, id="static-on-alpine"),
        pytest.param(elf_bytes(), UBUNTU_2204, id="static-on-ubuntu"),
        pytest.param(elf_bytes(), None, id="static-anywhere"),
    ],
)
def test_runs_on_the_run_image(tmp_path: Path, data: bytes, distro: Distro | None) -> None:
    assert check_abi(info_of(tmp_path, data), distro, "probe: bin/tool", enforce=True) == ""


@pytest.mark.parametrize(
    ("data", "distro", "problem", "matching"),
    [
        pytest.param(
            glibc_tool("GLIBC_2.2.5", "GLIBC_2.38"),
            UBUNTU_2204,
            "needs glibc 2.38 (GLIBC_2.38) but ubuntu 22.04 has glibc 2.35",
            "one built against glibc 2.35 or older",
            id="glibc-too-new",
        ),
        pytest.param(
            glibc_tool("GLIBC_2.36"),
            Distro("debian", "11"),
            "needs glibc 2.36 (GLIBC_2.36) but debian 11 has glibc 2.31",
            "one built against glibc 2.31 or older",
            id="glibc-too-new-debian",
        ),
        pytest.param(
            elf_bytes(interp=LD_MUSL),
            UBUNTU_2204,
            f"needs musl (interpreter {LD_MUSL}) but ubuntu 22.04 has glibc 2.35",
            "its gnu (glibc) asset",
            id="musl-on-glibc",
        ),
        pytest.param(
            glibc_tool("GLIBC_2.17"),
            ALPINE,
            "needs glibc 2.17 (GLIBC_2.17) but alpine 3.20 has musl",
            "its musl asset",
            id="glibc-on-musl",
        ),
    ],
)
def test_cannot_run_is_an_error_naming_file_needs_and_distro(
    tmp_path: Path, data: bytes, distro: Distro, problem: str, matching: str
) -> None:
    info = info_of(tmp_path, data)
    with pytest.raises(ElfError) as caught:
        check_abi(info, distro, "probe-linux-amd64: bin/tool", enforce=True)
    assert caught.value.message == f"probe-linux-amd64: bin/tool {problem}"
    assert caught.value.hint == (
        f"use the release's static asset or {matching}, "
        "or set 'abi_check = false' on the entry to build anyway"
    )
    # abi_check = false: the same words, as a warning.
    warning = check_abi(info, distro, "probe-linux-amd64: bin/tool", enforce=False)
    assert warning == f"probe-linux-amd64: bin/tool {problem} (not enforced: abi_check = false)"


@pytest.mark.parametrize(
    ("data", "distro", "needs"),
    [
        (glibc_tool("GLIBC_2.38"), None, "glibc 2.38 (GLIBC_2.38)"),
        (glibc_tool("GLIBC_2.38"), Distro("fedora", "40"), "glibc 2.38 (GLIBC_2.38)"),
        (glibc_tool("GLIBC_2.38"), Distro("ubuntu", "26.04"), "glibc 2.38 (GLIBC_2.38)"),
        (elf_bytes(interp=LD_MUSL), Distro("wolfi", ""), f"musl (interpreter {LD_MUSL})"),
    ],
)
def test_an_unknown_distro_is_a_warning_naming_the_need(
    tmp_path: Path, data: bytes, distro: Distro | None, needs: str
) -> None:
    warning = check_abi(info_of(tmp_path, data), distro, "probe: bin/tool", enforce=True)
    assert warning == (
        f"probe: bin/tool needs {needs}; the run image's distro ({distro or 'unknown'}) "
        "is not one whose libc is known, so it was not checked"
    )


def test_this_machines_true_runs_here() -> None:
    """A real glibc binary against this machine's own distro, read from its os-release."""
    from github_assets.platform import distro_from_env

    true = Path(shutil.which("true") or "/bin/true")
    distro = distro_from_env({})
    info = check(true, {"x86_64": "amd64", "aarch64": "arm64"}[_machine()], "true")
    if distro is None or distro.glibc is None or info is None or info.libc != "glibc":
        pytest.skip(f"needs a glibc distro of the table and a glibc /bin/true (here: {distro})")
    assert info.glibc is not None
    assert info.glibc <= distro.glibc
    assert check_abi(info, distro, "true", enforce=True) == ""
    # The same file on alpine cannot run.
    with pytest.raises(ElfError, match="has musl"):
        check_abi(info, ALPINE, "true", enforce=True)


def test_this_machines_libc_needs_agree_with_objdump() -> None:
    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.skip("objdump is not installed")
    true = Path(shutil.which("true") or "/bin/true")
    out = subprocess.run([objdump, "-p", str(true)], capture_output=True, text=True).stdout
    versions = [
        tuple(int(p) for p in word.removeprefix("GLIBC_").split("."))
        for word in out.split()
        if word.startswith("GLIBC_") and word[6:7].isdigit()
    ]
    info = check(true, {"x86_64": "amd64", "aarch64": "arm64"}[_machine()], "true")
    assert info is not None
    assert info.glibc == max(versions)


@pytest.mark.parametrize("name", ["grpc_health_probe", "grpc_health_probe-linux-arm64"])
def test_the_real_grpc_health_probe_is_static_and_runs_everywhere(name: str) -> None:
    probe = tools_bin() / name
    if not probe.is_file():
        pytest.skip(f"{probe} is missing: run `make tools` (scripts/install-tools.sh)")
    arch = "arm64" if name.endswith("arm64") else "amd64"
    info = check(probe, arch, name)
    assert info is not None
    assert (info.static, info.libc, info.glibc) == (True, None, None)
    for distro in (None, ALPINE, Distro("ubuntu", "20.04"), Distro("debian", "13")):
        assert check_abi(info, distro, name, enforce=True) == ""


def _machine() -> str:
    import platform

    return platform.machine()


def test_an_unreadable_section_table_leaves_the_file_runnable(tmp_path: Path) -> None:
    """The kernel needs only the program headers: a cut section table is no build error."""
    import struct

    data = bytearray(glibc_tool("GLIBC_2.38"))
    struct.pack_into("<Q", data, 40, len(data) + 4096)  # e_shoff past the end of the file
    info = info_of(tmp_path, bytes(data))
    assert (info.static, info.interpreter, info.libc, info.glibc) == (
        False,
        LD_GLIBC,
        "glibc",
        None,
    )
    assert check_abi(info, UBUNTU_2204, "bin/tool", enforce=True) == ""
