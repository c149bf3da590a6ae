"""ELF checks on minimal ELF files built here, and on this machine's /bin/ls."""

from __future__ import annotations

import platform
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from github_assets.elf import ElfInfo, check
from github_assets.errors import ElfError

EM_386, EM_PPC64, EM_S390, EM_SPARCV9 = 3, 21, 22, 43
EM_X86_64, EM_AARCH64, EM_RISCV = 62, 183, 243
PT_DYNAMIC, PT_INTERP = 2, 3
DT_NULL, DT_NEEDED = 0, 1
LD_X86_64 = b"/lib64/ld-linux-x86-64.so.2"
EHDR, PHDR = 64, 56

Write = Callable[[str, bytes], Path]


def elf64(
    machine: int, *, interp: bytes | None = None, needed: bool = False, little: bool = True
) -> bytes:
    """An ELF64 executable header, plus PT_INTERP and/or PT_DYNAMIC (one DT_NEEDED) segments."""
    order = "<" if little else ">"
    segments: list[tuple[int, bytes]] = []
    if interp is not None:
        segments.append((PT_INTERP, interp + b"\0"))
    if needed:
        segments.append((PT_DYNAMIC, struct.pack(f"{order}qQqQ", DT_NEEDED, 1, DT_NULL, 0)))
    ident = b"\x7fELF" + bytes([2, 1 if little else 2, 1, 0]) + bytes(8)
    header = ident + struct.pack(
        f"{order}HHIQQQIHHHHHH",
        2,  # ET_EXEC
        machine,
        1,
        0x401000,
        EHDR if segments else 0,
        0,
        0,
        EHDR,
        PHDR,
        len(segments),
        64,
        0,
        0,
    )
    table, data = b"", b""
    offset = EHDR + PHDR * len(segments)
    for kind, content in segments:
        table += struct.pack(
            f"{order}IIQQQQQQ", kind, 4, offset + len(data), 0, 0, len(content), len(content), 1
        )
        data += content
    return header + table + data


@pytest.fixture
def write(tmp_path: Path) -> Write:
    def write(name: str, data: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(elf64(EM_X86_64), ElfInfo("amd64", True, None), id="static-amd64"),
        pytest.param(elf64(EM_AARCH64), ElfInfo("arm64", True, None), id="static-arm64"),
        pytest.param(
            elf64(EM_X86_64, interp=LD_X86_64, needed=True),
            ElfInfo("amd64", False, LD_X86_64.decode()),
            id="dynamic-amd64",
        ),
        pytest.param(
            elf64(EM_AARCH64, interp=b"/lib/ld-linux-aarch64.so.1"),
            ElfInfo("arm64", False, "/lib/ld-linux-aarch64.so.1"),
            id="interp-only-arm64",
        ),
        pytest.param(
            elf64(EM_X86_64, needed=True), ElfInfo("amd64", False, None), id="needed-only"
        ),
        pytest.param(elf64(EM_PPC64), ElfInfo("ppc64le", True, None), id="ppc64le"),
        pytest.param(elf64(EM_S390, little=False), ElfInfo("s390x", True, None), id="s390x"),
        pytest.param(elf64(EM_RISCV), ElfInfo("riscv64", True, None), id="riscv64"),
        pytest.param(elf64(EM_SPARCV9), ElfInfo("EM_SPARCV9", True, None), id="unmapped"),
    ],
)
def test_check_reads_machine_and_linkage(write: Write, data: bytes, expected: ElfInfo) -> None:
    path = write("tool", data)
    assert check(path, expected.machine, "bin/tool") == expected


def test_this_machines_ls_is_a_dynamic_native_binary() -> None:
    native = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine())
    ls = Path("/bin/ls")
    if native is None or not ls.is_file() or ls.read_bytes()[:4] != b"\x7fELF":
        pytest.skip("needs an ELF /bin/ls on x86_64 or aarch64")
    info = check(ls, native, "ls")
    assert info is not None
    assert info.machine == native
    assert not info.static
    assert info.interpreter is not None
    assert info.interpreter.startswith("/lib")


@pytest.mark.parametrize("data", [b"#!/bin/sh\necho hi\n", b"", b"\x7fEL", b"PK\x03\x04"])
def test_non_elf_is_none(write: Write, data: bytes) -> None:
    path = write("script", data)
    assert check(path, "arm64", "bin/script") is None


def test_wrong_arch_fails_naming_file_arch_and_target(write: Write) -> None:
    path = write("grpc_health_probe", elf64(EM_X86_64))
    with pytest.raises(ElfError) as caught:
        check(path, "arm64", "grpc_health_probe")
    assert str(caught.value) == (
        "grpc_health_probe is built for amd64 (EM_X86_64) but the build targets arm64; "
        "pick the asset for arm64 (e.g. use {arch} in 'asset')"
    )


def test_unmapped_machine_is_shown_raw(write: Write) -> None:
    path = write("tool", elf64(EM_SPARCV9))
    with pytest.raises(ElfError) as caught:
        check(path, "amd64", "bin/tool")
    assert caught.value.message == "bin/tool is built for EM_SPARCV9 but the build targets amd64"


def test_matching_arch_returns_the_info(write: Write) -> None:
    path = write("tool", elf64(EM_AARCH64))
    assert check(path, "arm64", "bin/tool") == ElfInfo("arm64", True, None)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(elf64(EM_X86_64)[:30], id="header"),
        pytest.param(elf64(EM_X86_64, interp=LD_X86_64)[: EHDR + 10], id="program-headers"),
    ],
)
def test_truncated_elf_is_an_error_naming_the_file(write: Write, data: bytes) -> None:
    path = write("broken", data)
    with pytest.raises(ElfError) as caught:
        check(path, "amd64", str(path))
    assert str(caught.value).startswith(f"failed to read ELF file {path}: ")
    with pytest.raises(ElfError) as caught:
        check(path, "amd64", "bin/broken")
    assert str(caught.value).startswith("failed to read ELF file bin/broken: ")
