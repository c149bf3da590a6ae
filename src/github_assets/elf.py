"""Reading installed ELF files: which machine they are built for, and whether they need a libc."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from .errors import ElfError

_MAGIC = b"\x7fELF"

# (e_machine, ELF class, little-endian) -> Go arch name; class and byte order tell apart the
# Go arches that share an e_machine (ppc64/ppc64le, mips*).
_GO_ARCH: dict[tuple[str, int, bool], str] = {
    ("EM_X86_64", 64, True): "amd64",
    ("EM_AARCH64", 64, True): "arm64",
    ("EM_386", 32, True): "386",
    ("EM_ARM", 32, True): "arm",
    ("EM_PPC64", 64, True): "ppc64le",
    ("EM_PPC64", 64, False): "ppc64",
    ("EM_S390", 64, False): "s390x",
    ("EM_RISCV", 64, True): "riscv64",
    ("EM_LOONGARCH", 64, True): "loong64",
    ("EM_MIPS", 32, False): "mips",
    ("EM_MIPS", 32, True): "mipsle",
    ("EM_MIPS", 64, False): "mips64",
    ("EM_MIPS", 64, True): "mips64le",
}
_E_MACHINE = {arch: machine for (machine, _, _), arch in _GO_ARCH.items()}


@dataclass(frozen=True)
class ElfInfo:
    """What the build log and the arch check need to know about an ELF file."""

    machine: str
    """Go arch name ("amd64", "arm64", ...) when known, else the raw e_machine ("EM_...")."""
    static: bool
    """No interpreter and no DT_NEEDED: runs without a libc in the run image."""
    interpreter: str | None
    """The PT_INTERP path, e.g. /lib64/ld-linux-x86-64.so.2."""


def preload() -> None:
    """Import the parts of pyelftools that check() uses."""
    from elftools.common.utils import struct_parse  # noqa: F401
    from elftools.elf.structs import ELFStructs  # noqa: F401


def check(path: Path, target_arch: str, shown_as: str) -> ElfInfo | None:
    """The ELF facts of path (None when it is not ELF); ElfError naming shown_as when it is
    truncated or corrupt, or built for another arch than target_arch."""
    info = _read(path, shown_as)
    if info is None or info.machine == target_arch:
        return info
    machine = _E_MACHINE.get(info.machine)
    built_for = f"{info.machine} ({machine})" if machine else info.machine
    raise ElfError(
        f"{shown_as} is built for {built_for} but the build targets {target_arch}",
        hint=f"pick the asset for {target_arch} (e.g. use {{arch}} in 'asset')",
    )


def _read(path: Path, shown_as: str) -> ElfInfo | None:
    with path.open("rb") as file:
        if file.read(len(_MAGIC)) != _MAGIC:
            return None
        try:
            return _facts(file)
        # pyelftools reports a malformed file with many exception types (its own, struct's,
        # construct's, ValueError, IndexError...), and none of them is a bug of ours.
        except Exception as err:
            raise ElfError(
                f"failed to read ELF file {shown_as}: {err or type(err).__name__}",
                hint="the file is truncated or corrupt",
            ) from err


_CLASS = {1: 32, 2: 64}
_DATA = {1: True, 2: False}  # little-endian?
PN_XNUM = 0xFFFF
"""e_phnum saying: the count is in section 0's sh_info."""
MAX_INTERP = 4096


def _facts(file: BinaryIO) -> ElfInfo:
    """The header and the program headers, read with pyelftools' struct definitions.

    Its ELFFile reads them alike, but importing it imports every part of pyelftools
    (DWARF, ARM unwinding, relocations...): twice the time of what is read here, on the
    critical path of every small asset.
    """
    # Imported here, once an ELF file is seen: an asset without one never needs it.
    from elftools.common.utils import struct_parse
    from elftools.elf.structs import ELFStructs

    file.seek(4)
    ident = file.read(2)
    if len(ident) < 2 or ident[0] not in _CLASS or ident[1] not in _DATA:
        raise ValueError(f"not a valid ELF class and byte order ({ident.hex() or 'none'})")
    structs = ELFStructs(little_endian=_DATA[ident[1]], elfclass=_CLASS[ident[0]])
    structs.create_basic_structs()
    header = struct_parse(structs.Elf_Ehdr, file, stream_pos=0)
    structs.create_advanced_structs(
        header["e_type"], header["e_machine"], header["e_ident"]["EI_OSABI"]
    )
    machine = str(header["e_machine"])
    arch = _GO_ARCH.get((machine, structs.elfclass, structs.little_endian), machine)
    count = header["e_phnum"]
    if count == PN_XNUM:
        count = struct_parse(structs.Elf_Shdr, file, stream_pos=header["e_shoff"])["sh_info"]
    size = header["e_phentsize"]
    if count and size < structs.Elf_Phdr.sizeof():
        raise ValueError(f"too small e_phentsize: {size}")
    interpreter: str | None = None
    needs_libs = False
    for n in range(count):
        segment = struct_parse(structs.Elf_Phdr, file, stream_pos=header["e_phoff"] + n * size)
        if segment["p_type"] == "PT_INTERP":
            file.seek(segment["p_offset"])
            raw = file.read(min(segment["p_filesz"], MAX_INTERP))
            interpreter = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
        elif segment["p_type"] == "PT_DYNAMIC":
            # The raw entries: a DT_NEEDED counts even when its name cannot be looked up.
            needs_libs = needs_libs or _needs_libs(structs, file, segment, struct_parse)
    return ElfInfo(
        machine=arch, static=interpreter is None and not needs_libs, interpreter=interpreter
    )


def _needs_libs(structs: Any, file: BinaryIO, segment: Any, struct_parse: Any) -> bool:
    """Whether the dynamic segment has a DT_NEEDED before its DT_NULL."""
    entry = structs.Elf_Dyn.sizeof()
    for n in range(segment["p_filesz"] // entry):
        tag = struct_parse(structs.Elf_Dyn, file, stream_pos=segment["p_offset"] + n * entry)
        if tag["d_tag"] == "DT_NULL":
            return False
        if tag["d_tag"] == "DT_NEEDED":
            return True
    return False
