"""Reading installed ELF files: which machine they are built for, which libc they need (and
whether the run image has it), and the Go build info they carry."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, BinaryIO

from .errors import ElfError
from .gobuildinfo import GoBuild
from .platform import Distro
from .record import Record

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


class ElfInfo(Record):
    """What the build log and the arch check need to know about an ELF file (a NamedTuple:
    the import of dataclasses would cost every build ~26M instructions)."""

    machine: str
    """Go arch name ("amd64", "arm64", ...) when known, else the raw e_machine ("EM_...")."""
    static: bool
    """No interpreter and no DT_NEEDED: runs without a libc in the run image."""
    interpreter: str | None
    """The PT_INTERP path, e.g. /lib64/ld-linux-x86-64.so.2."""
    glibc: tuple[int, ...] | None = None
    """The highest GLIBC_x.y its .gnu.version_r needs; None when it needs none."""
    go: GoBuild | None = None
    """Its Go build info, when it is a Go executable."""

    @property
    def libc(self) -> str | None:
        """ "glibc" or "musl" when it is linked against one, by its interpreter or needs."""
        name = (self.interpreter or "").rpartition("/")[2]
        if name.startswith("ld-musl-"):
            return "musl"
        if name.startswith(("ld-linux", "ld64.so")) or self.glibc is not None:
            return "glibc"
        return None

    @property
    def linkage(self) -> str:
        """How the build log says it links: "static", or "dynamic" and its interpreter (a
        shared library has none; "interpreter None" says nothing)."""
        if self.static:
            return "static"
        return (
            f"dynamic, interpreter {self.interpreter}"
            if self.interpreter
            else "dynamic, no interpreter"
        )

    def record(self) -> tuple[str, str]:
        """(interpreter, highest glibc) as a layer toml records them for a later reuse."""
        return self.interpreter or "", ".".join(map(str, self.glibc or ()))

    @classmethod
    def recorded(cls, interpreter: str, glibc: str) -> ElfInfo:
        """A dynamic file's libc facts as record() gave them (enough for check_abi)."""
        version = tuple(int(p) for p in glibc.split(".")) if glibc else None
        return cls("", static=False, interpreter=interpreter or None, glibc=version)

    @property
    def needs(self) -> str:
        """What it needs of the run image, in words."""
        if self.libc == "musl":
            return f"musl (interpreter {self.interpreter})"
        if self.glibc is not None:
            version = ".".join(map(str, self.glibc))
            return f"glibc {version} (GLIBC_{version})"
        if self.libc == "glibc":
            return f"glibc (interpreter {self.interpreter})"
        return f"the interpreter {self.interpreter}" if self.interpreter else "shared libraries"


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


def check_abi(info: ElfInfo, distro: Distro | None, shown_as: str, *, enforce: bool) -> str:
    """Whether the file can run on the run image's distro: "" when it can (a static file
    always can), a warning when that is not known (or `enforce` is off); ElfError naming
    shown_as, what it needs and what the distro has, when it cannot."""
    if info.static or info.libc is None:
        return ""
    if distro is None or (not distro.musl and distro.glibc is None):
        return (
            f"{shown_as} needs {info.needs}; the run image's distro "
            f"({distro or 'unknown'}) is not one whose libc is known, so it was not checked"
        )
    if info.libc == "musl" and not distro.musl and distro.glibc is not None:
        has = ".".join(map(str, distro.glibc))
        problem = f"{shown_as} needs {info.needs} but {distro} has glibc {has}"
        other = "its gnu (glibc) asset"
    elif info.libc == "glibc" and distro.musl:
        problem, other = f"{shown_as} needs {info.needs} but {distro} has musl", "its musl asset"
    elif info.libc == "glibc" and distro.glibc is not None and (info.glibc or ()) > distro.glibc:
        has = ".".join(map(str, distro.glibc))
        problem = f"{shown_as} needs {info.needs} but {distro} has glibc {has}"
        other = f"one built against glibc {has} or older"
    else:
        return ""
    if not enforce:
        return f"{problem} (not enforced: abi_check = false)"
    raise ElfError(
        problem,
        hint=f"use the release's static asset or {other}, "
        "or set 'abi_check = false' on the entry to build anyway",
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

    file.seek(4)
    ident = file.read(2)
    if len(ident) < 2 or ident[0] not in _CLASS or ident[1] not in _DATA:
        raise ValueError(f"not a valid ELF class and byte order ({ident.hex() or 'none'})")
    little, elfclass = _DATA[ident[1]], _CLASS[ident[0]]
    header = struct_parse(_structs(little, elfclass).Elf_Ehdr, file, stream_pos=0)
    structs = _structs(
        little, elfclass, (header["e_type"], header["e_machine"], header["e_ident"]["EI_OSABI"])
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
    loads = []
    for n in range(count):
        segment = struct_parse(structs.Elf_Phdr, file, stream_pos=header["e_phoff"] + n * size)
        if segment["p_type"] == "PT_LOAD":
            loads.append(segment)
        elif segment["p_type"] == "PT_INTERP":
            file.seek(segment["p_offset"])
            raw = file.read(min(segment["p_filesz"], MAX_INTERP))
            interpreter = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
        elif segment["p_type"] == "PT_DYNAMIC":
            # The raw entries: a DT_NEEDED counts even when its name cannot be looked up.
            needs_libs = needs_libs or _needs_libs(structs, file, segment, struct_parse)
    glibc, sections = None, []
    # The kernel runs a file by its program headers alone: section headers it cannot read
    # (stripped by sstrip or a packer, or cut short) take away the version needs and the Go
    # build info, never the file.
    try:
        sections = _sections(structs, header, file, struct_parse)
        verneed = [s for s in sections if s["sh_type"] == "SHT_GNU_verneed"]
        if verneed and 0 <= verneed[0]["sh_link"] < len(sections):
            names = _version_needs(structs, file, verneed[0], sections[verneed[0]["sh_link"]])
            glibc = max((_glibc(n) for n in names if _GLIBC.match(n)), default=None)
    except Exception:  # pyelftools reports a malformed table with many exception types
        sections = []
    return ElfInfo(
        machine=arch,
        static=interpreter is None and not needs_libs,
        interpreter=interpreter,
        glibc=glibc,
        go=_go_build(file, sections, loads),
    )


@functools.cache
def _structs(little: bool, elfclass: int, kind: tuple[Any, ...] | None = None) -> Any:
    """pyelftools' struct definitions for this class, byte order and (e_type, e_machine,
    osabi): building them costs more than reading a file's headers with them, and every
    ELF file of an archive shares them. Parsing keeps no state in them."""
    from elftools.elf.structs import ELFStructs

    structs = ELFStructs(little_endian=little, elfclass=elfclass)
    structs.create_basic_structs()
    if kind is not None:
        structs.create_advanced_structs(*kind)
    return structs


_GLIBC = re.compile(r"^GLIBC_[0-9]+(\.[0-9]+)*$")
MAX_SECTIONS = 1 << 16
MAX_NAME = 4096


def _glibc(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in name.removeprefix("GLIBC_").split("."))


def _sections(structs: Any, header: Any, file: BinaryIO, struct_parse: Any) -> list[Any]:
    """The section headers, each with its name as "name" (none when the file has no table)."""
    offset, count = header["e_shoff"], header["e_shnum"]
    if not offset:
        return []
    first = struct_parse(structs.Elf_Shdr, file, stream_pos=offset)
    # Past 0xff00 sections, the counts live in section 0 (e_shnum 0, e_shstrndx SHN_XINDEX).
    count = count or first["sh_size"]
    index = header["e_shstrndx"]
    index = first["sh_link"] if index == "SHN_XINDEX" or index == 0xFFFF else index
    if count > MAX_SECTIONS:
        raise ValueError(f"too many sections: {count}")
    size = header["e_shentsize"]
    if count and size < structs.Elf_Shdr.sizeof():
        raise ValueError(f"too small e_shentsize: {size}")
    sections = [
        struct_parse(structs.Elf_Shdr, file, stream_pos=offset + n * size) for n in range(count)
    ]
    names = sections[index] if isinstance(index, int) and 0 < index < count else None
    for section in sections:
        section["name"] = _string(file, names, section["sh_name"]) if names else ""
    return sections


def _string(file: BinaryIO, table: Any, index: int) -> str:
    """The NUL-terminated string at index in a string table section."""
    if index >= table["sh_size"]:
        raise ValueError(f"string index {index} outside its table")
    file.seek(table["sh_offset"] + index)
    raw = file.read(min(MAX_NAME, table["sh_size"] - index))
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _version_needs(structs: Any, file: BinaryIO, section: Any, strings: Any) -> list[str]:
    """The version names (GLIBC_2.34, ...) of every library in .gnu.version_r."""
    from elftools.common.utils import struct_parse

    names = []
    at = section["sh_offset"]
    end = at + section["sh_size"]
    for _ in range(section["sh_info"]):
        if at >= end:
            break
        need = struct_parse(structs.Elf_Verneed, file, stream_pos=at)
        aux = at + need["vn_aux"]
        for _ in range(need["vn_cnt"]):
            entry = struct_parse(structs.Elf_Vernaux, file, stream_pos=aux)
            names.append(_string(file, strings, entry["vna_name"]))
            if not entry["vna_next"]:
                break
            aux += entry["vna_next"]
        if not need["vn_next"]:
            break
        at += need["vn_next"]
    return names


def _go_build(file: BinaryIO, sections: list[Any], loads: list[Any]) -> GoBuild | None:
    """The Go build info: in .go.buildinfo, else (no section headers) the first writable
    segment, where Go's debug/buildinfo looks for it."""
    from .gobuildinfo import SEARCH_SIZE, find

    place = [
        (s["sh_addr"], s["sh_offset"], s["sh_size"])
        for s in sections
        if s["name"] == ".go.buildinfo" and s["sh_type"] != "SHT_NOBITS"
    ]
    if not place and not sections:
        place = [
            (s["p_vaddr"], s["p_offset"], s["p_filesz"]) for s in loads if s["p_flags"] & 7 == 6
        ][:1]
    if not place:
        return None
    addr, offset, size = place[0]
    file.seek(offset)
    data = file.read(min(size, SEARCH_SIZE))

    def read(vaddr: int, count: int) -> bytes:
        for s in loads:
            if s["p_vaddr"] <= vaddr < s["p_vaddr"] + s["p_filesz"]:
                file.seek(s["p_offset"] + vaddr - s["p_vaddr"])
                return file.read(min(count, s["p_vaddr"] + s["p_filesz"] - vaddr))
        return b""

    return find(data, addr, read)


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
