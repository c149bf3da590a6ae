"""elf.check against pyelftools (the reference ELF reader, a test tool here) on real files
of this machine and the real grpc_health_probe (amd64 and arm64), whole and mutated: the
same machine, interpreter, libc needs and Go build info; a mutated file is read alike or
refused as truncated or corrupt (an ElfError), never with another exception."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

import pytest
from elftools.common.exceptions import ELFError as RefError
from elftools.elf.dynamic import DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

from github_assets.elf import read
from github_assets.errors import ElfError

GO_ARCH = {
    ("EM_X86_64", 64): "amd64",
    ("EM_AARCH64", 64): "arm64",
    ("EM_386", 32): "386",
    ("EM_ARM", 32): "arm",
}


def _tools_dir() -> Path:
    return Path(
        os.environ.get("GITHUB_ASSETS_TOOLS")
        or Path.home() / ".cache" / "github-assets-buildpack" / "tools"
    )


def real_files() -> list[Path]:
    """ELF files of this machine (dynamic executables, shared libraries) and the probe."""
    found = [
        Path(p)
        for p in (
            "/bin/true",
            "/usr/bin/python3",
            shutil.which("ls") or "/bin/ls",
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/lib/x86_64-linux-gnu/libm.so.6",
            "/lib64/ld-linux-x86-64.so.2",
        )
        if Path(p).is_file()
    ]
    tools = _tools_dir() / "bin"
    found += [tools / n for n in ("grpc_health_probe", "grpc_health_probe-linux-arm64", "crane")]
    return [p for p in found if p.is_file()]


def reference(path: Path) -> dict[str, Any]:
    """What pyelftools reads of path, in ElfInfo's terms."""
    with path.open("rb") as f:
        elf = ELFFile(f)
        machine = elf["e_machine"]
        interpreter = None
        needed = False
        for segment in elf.iter_segments():
            if segment["p_type"] == "PT_INTERP":
                interpreter = segment.get_interp_name()
            if isinstance(segment, DynamicSegment):
                needed = needed or any(t.entry.d_tag == "DT_NEEDED" for t in segment.iter_tags())
        glibc = None
        for section in elf.iter_sections():
            if isinstance(section, GNUVerNeedSection):
                names = [aux.name for _, auxes in section.iter_versions() for aux in auxes]
                versions = [
                    tuple(int(p) for p in n.removeprefix("GLIBC_").split("."))
                    for n in names
                    if n.startswith("GLIBC_") and n[6:].replace(".", "").isdigit()
                ]
                glibc = max(versions, default=None)
        go = elf.get_section_by_name(".go.buildinfo") is not None
        return {
            "machine": GO_ARCH.get((machine, elf.elfclass), machine),
            "static": interpreter is None and not needed,
            "interpreter": interpreter,
            "glibc": glibc,
            "go": go,
        }


def ours(path: Path) -> dict[str, Any]:
    """What elf.read (the facts elf.check judges) reads of path."""
    info = read(path, "tool")
    if info is None:
        raise AssertionError(f"{path} is not read as ELF")
    return {
        "machine": info.machine,
        "static": info.static,
        "interpreter": info.interpreter,
        "glibc": info.glibc,
        "go": info.go is not None,
    }


def test_there_are_real_files_to_compare() -> None:
    names = [p.name for p in real_files()]
    assert "true" in names and "python3" in names, names


@pytest.mark.parametrize("path", real_files(), ids=lambda p: p.name)
def test_real_files_read_as_pyelftools_reads_them(path: Path) -> None:
    assert ours(path) == reference(path)


@pytest.mark.parametrize("seed", range(60))
def test_mutated_files_are_read_alike_or_refused(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    source = rng.choice(real_files())
    data = bytearray(source.read_bytes()[: 1 << 20] if rng.random() < 0.3 else source.read_bytes())
    for _ in range(rng.randrange(1, 8)):
        # bytes in the headers and tables, where a reader can go wrong
        at = rng.randrange(min(len(data), 4096 if rng.random() < 0.7 else len(data)))
        data[at] = rng.randrange(256)
    data[:4] = b"\x7fELF"
    path = tmp_path / "mutated"
    path.write_bytes(bytes(data))
    try:
        got = ours(path)
    except ElfError as e:
        assert "failed to read ELF file tool" in e.message
        return
    try:
        want = reference(path)
    except (RefError, Exception):  # pyelftools refuses it with many kinds of exception
        return  # we read past what it could not: nothing to compare
    # The program headers decide machine, interpreter and linkage for both readers.
    assert (got["machine"], got["interpreter"]) == (want["machine"], want["interpreter"])
