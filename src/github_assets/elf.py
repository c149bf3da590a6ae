"""Reading installed ELF files: which machine they are built for, which libc they need (and
whether the run image has it), and the Go build info they carry."""

from __future__ import annotations

import functools
import re
import struct
from pathlib import Path
from typing import BinaryIO

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
    """What the build log and the arch check need to know about an ELF file (a Record: the
    import of dataclasses would cost every build ~26M instructions)."""

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


def check(path: Path, target_arch: str, shown_as: str) -> ElfInfo | None:
    """The ELF facts of path (None when it is not ELF); ElfError naming shown_as when it is
    truncated or corrupt, or built for another arch than target_arch."""
    info = read(path, shown_as)
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


def read(path: Path, shown_as: str) -> ElfInfo | None:
    """The ELF facts of path, None when it is not ELF; ElfError naming shown_as when it is
    truncated or corrupt."""
    with path.open("rb") as file:
        if file.read(len(_MAGIC)) != _MAGIC:
            return None
        try:
            return _facts(file)
        except (ValueError, struct.error, OverflowError, OSError) as err:
            if isinstance(err, OSError) and not isinstance(err, _Truncated):
                raise
            raise ElfError(
                f"failed to read ELF file {shown_as}: {err or type(err).__name__}",
                hint="the file is truncated or corrupt",
            ) from err


_CLASS = {1: 32, 2: 64}
_DATA = {1: True, 2: False}  # little-endian?
PN_XNUM = 0xFFFF
"""e_phnum saying: the count is in section 0's sh_info."""
SHN_XINDEX = 0xFFFF
MAX_INTERP = 4096
MAX_SECTIONS = 1 << 16
MAX_NAME = 4096
PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
SHT_NOBITS, SHT_GNU_VERNEED = 8, 0x6FFFFFFE
DT_NULL, DT_NEEDED = 0, 1

# e_machine numbers as the ELF spec (and pyelftools, and error messages) name them.
_MACHINES = {
    0: "EM_NONE", 2: "EM_SPARC", 3: "EM_386", 4: "EM_68K", 8: "EM_MIPS", 18: "EM_SPARC32PLUS",
    20: "EM_PPC", 21: "EM_PPC64", 22: "EM_S390", 40: "EM_ARM", 42: "EM_SH", 43: "EM_SPARCV9",
    50: "EM_IA_64", 62: "EM_X86_64", 183: "EM_AARCH64", 243: "EM_RISCV", 258: "EM_LOONGARCH",
}  # fmt: skip


class _Truncated(OSError):
    """A read past the end of the file: the file is cut short (an ElfError, not an OS one)."""


class _Layout(Record):
    """struct formats of one ELF class and byte order (field order as the spec has it)."""

    ehdr: struct.Struct  # from e_type to e_shstrndx, after e_ident
    phdr: struct.Struct
    shdr: struct.Struct
    dyn: struct.Struct
    verneed: struct.Struct
    vernaux: struct.Struct
    elfclass: int


@functools.cache
def _layout(little: bool, elfclass: int) -> _Layout:
    order = "<" if little else ">"
    if elfclass == 64:
        ehdr, phdr, shdr, dyn = "HHIQQQIHHHHHH", "IIQQQQQQ", "IIQQQQIIQQ", "qQ"
    else:
        ehdr, phdr, shdr, dyn = "HHIIIIIHHHHHH", "IIIIIIII", "IIIIIIIIII", "iI"
    ehdr_s, phdr_s, shdr_s, dyn_s, verneed, vernaux = (
        struct.Struct(order + f) for f in (ehdr, phdr, shdr, dyn, "HHIII", "IHHII")
    )
    return _Layout(ehdr_s, phdr_s, shdr_s, dyn_s, verneed, vernaux, elfclass)


class _Phdr(Record):
    type: int
    flags: int
    offset: int
    vaddr: int
    filesz: int


class _Shdr(Record):
    name_index: int
    type: int
    addr: int
    offset: int
    size: int
    link: int
    info: int
    name: str = ""


def _unpack(file: BinaryIO, layout: struct.Struct, at: int) -> tuple[int, ...]:
    """One record of layout at offset at; _Truncated when the file ends before it does."""
    if at < 0:
        raise ValueError(f"negative offset {at}")
    file.seek(at)
    raw = file.read(layout.size)
    if len(raw) < layout.size:
        raise _Truncated(f"the file ends inside a {layout.size}-byte record at offset {at}")
    return layout.unpack(raw)


def _phdr(file: BinaryIO, layout: _Layout, at: int) -> _Phdr:
    if layout.elfclass == 64:
        p_type, flags, offset, vaddr, _, filesz, _, _ = _unpack(file, layout.phdr, at)
    else:
        p_type, offset, vaddr, _, filesz, _, flags, _ = _unpack(file, layout.phdr, at)
    return _Phdr(p_type, flags, offset, vaddr, filesz)


def _shdr(file: BinaryIO, layout: _Layout, at: int) -> _Shdr:
    name, sh_type, _, addr, offset, size, link, info, _, _ = _unpack(file, layout.shdr, at)
    return _Shdr(name, sh_type, addr, offset, size, link, info)


def _facts(file: BinaryIO) -> ElfInfo:
    """The header and the program headers (and, when readable, the section headers: version
    needs, Go build info), read with struct.

    Not pyelftools: importing even its struct definitions (construct, pprint, dataclasses,
    pdb's modules) costs every build that installs an ELF file ~55M instructions, ~16 ms
    (docs/performance.md), for the few records read here.
    """
    file.seek(4)
    ident = file.read(12)
    if len(ident) < 12 or ident[0] not in _CLASS or ident[1] not in _DATA:
        raise ValueError(f"not a valid ELF class and byte order ({ident[:2].hex() or 'none'})")
    little, elfclass = _DATA[ident[1]], _CLASS[ident[0]]
    layout = _layout(little, elfclass)
    (_, e_machine, _, _, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum, shstrndx) = (
        _unpack(file, layout.ehdr, 16)
    )
    machine = _MACHINES.get(e_machine, str(e_machine))
    arch = _GO_ARCH.get((machine, elfclass, little), machine)
    count = phnum
    if count == PN_XNUM:
        count = _shdr(file, layout, shoff).info
    if count and phentsize < layout.phdr.size:
        raise ValueError(f"too small e_phentsize: {phentsize}")
    interpreter: str | None = None
    needs_libs = False
    loads = []
    for n in range(count):
        segment = _phdr(file, layout, phoff + n * phentsize)
        if segment.type == PT_LOAD:
            loads.append(segment)
        elif segment.type == PT_INTERP:
            file.seek(segment.offset)
            raw = file.read(min(segment.filesz, MAX_INTERP))
            interpreter = raw.split(b"\0", 1)[0].decode("utf-8", "replace")
        elif segment.type == PT_DYNAMIC:
            # The raw entries: a DT_NEEDED counts even when its name cannot be looked up.
            needs_libs = needs_libs or _needs_libs(file, layout, segment)
    glibc, sections = None, []
    # The kernel runs a file by its program headers alone: section headers it cannot read
    # (stripped by sstrip or a packer, or cut short) take away the version needs and the Go
    # build info, never the file.
    try:
        sections = _sections(file, layout, shoff, shnum, shentsize, shstrndx)
        verneed = [s for s in sections if s.type == SHT_GNU_VERNEED]
        if verneed and 0 <= verneed[0].link < len(sections):
            names = _version_needs(file, layout, verneed[0], sections[verneed[0].link])
            glibc = max((_glibc(n) for n in names if _GLIBC.match(n)), default=None)
    except (ValueError, struct.error, OverflowError, _Truncated):
        sections = []
    return ElfInfo(
        machine=arch,
        static=interpreter is None and not needs_libs,
        interpreter=interpreter,
        glibc=glibc,
        go=_go_build(file, sections, loads),
    )


_GLIBC = re.compile(r"^GLIBC_[0-9]+(\.[0-9]+)*$")


def _glibc(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in name.removeprefix("GLIBC_").split("."))


def _sections(
    file: BinaryIO, layout: _Layout, offset: int, count: int, size: int, index: int
) -> list[_Shdr]:
    """The section headers, each with its name (none when the file has no table)."""
    if not offset:
        return []
    first = _shdr(file, layout, offset)
    # Past 0xff00 sections, the counts live in section 0 (e_shnum 0, e_shstrndx SHN_XINDEX).
    count = count or first.size
    index = first.link if index == SHN_XINDEX else index
    if count > MAX_SECTIONS:
        raise ValueError(f"too many sections: {count}")
    if count and size < layout.shdr.size:
        raise ValueError(f"too small e_shentsize: {size}")
    sections = [_shdr(file, layout, offset + n * size) for n in range(count)]
    names = sections[index] if 0 < index < count else None
    if names is None:
        return sections
    return [s._replace(name=_string(file, names, s.name_index)) for s in sections]


def _string(file: BinaryIO, table: _Shdr, index: int) -> str:
    """The NUL-terminated string at index in a string table section."""
    if index >= table.size:
        raise ValueError(f"string index {index} outside its table")
    file.seek(table.offset + index)
    raw = file.read(min(MAX_NAME, table.size - index))
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def _version_needs(file: BinaryIO, layout: _Layout, section: _Shdr, strings: _Shdr) -> list[str]:
    """The version names (GLIBC_2.34, ...) of every library in .gnu.version_r."""
    names = []
    at = section.offset
    end = at + section.size
    for _ in range(section.info):
        if at >= end:
            break
        _, vn_cnt, _, vn_aux, vn_next = _unpack(file, layout.verneed, at)
        aux = at + vn_aux
        for _ in range(vn_cnt):
            _, _, _, vna_name, vna_next = _unpack(file, layout.vernaux, aux)
            names.append(_string(file, strings, vna_name))
            if not vna_next:
                break
            aux += vna_next
        if not vn_next:
            break
        at += vn_next
    return names


def _go_build(file: BinaryIO, sections: list[_Shdr], loads: list[_Phdr]) -> GoBuild | None:
    """The Go build info: in .go.buildinfo, else (no section headers) the first writable
    segment, where Go's debug/buildinfo looks for it."""
    from .gobuildinfo import SEARCH_SIZE, find

    place = [
        (s.addr, s.offset, s.size)
        for s in sections
        if s.name == ".go.buildinfo" and s.type != SHT_NOBITS
    ]
    if not place and not sections:
        place = [(s.vaddr, s.offset, s.filesz) for s in loads if s.flags & 7 == 6][:1]
    if not place:
        return None
    addr, offset, size = place[0]
    file.seek(offset)
    data = file.read(min(size, SEARCH_SIZE))

    def read(vaddr: int, count: int) -> bytes:
        for s in loads:
            if s.vaddr <= vaddr < s.vaddr + s.filesz:
                file.seek(s.offset + vaddr - s.vaddr)
                return file.read(min(count, s.vaddr + s.filesz - vaddr))
        return b""

    return find(data, addr, read)


def _needs_libs(file: BinaryIO, layout: _Layout, segment: _Phdr) -> bool:
    """Whether the dynamic segment has a DT_NEEDED before its DT_NULL."""
    entry = layout.dyn.size
    for n in range(segment.filesz // entry):
        tag, _ = _unpack(file, layout.dyn, segment.offset + n * entry)
        if tag == DT_NULL:
            return False
        if tag == DT_NEEDED:
            return True
    return False
