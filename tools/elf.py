"""Small, well-formed ELF64 executables for tests and release copies.

Only the headers matter to the buildpack (pyelftools reads the machine, the
type and PT_INTERP); the rest is padding. ``note`` lets callers make two
files of the same machine differ, so that their hashes differ too.

For the run-image ABI check and the SBOM, a file may also carry what a linker
writes for them: glibc version needs (.gnu.version_r over .dynstr, with a
PT_DYNAMIC naming the libraries) and Go build info (.go.buildinfo, in either
of the two formats Go's linker has written).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

__all__ = [
    "EM_AARCH64",
    "EM_X86_64",
    "GO_BUILDINFO_ADDR",
    "MACHINES",
    "elf_bytes",
    "elf_interp",
    "elf_machine",
    "go_buildinfo",
    "go_modinfo",
]

EM_X86_64 = 62
EM_AARCH64 = 183

# Go's GOARCH names (CNB_TARGET_ARCH) -> ELF e_machine.
MACHINES = {"amd64": EM_X86_64, "arm64": EM_AARCH64}

_EHDR = "<4sBBBBB7xHHIQQQIHHHHHH"
_PHDR = "<IIQQQQQQ"
_EHDR_SIZE = struct.calcsize(_EHDR)  # 64
_PHDR_SIZE = struct.calcsize(_PHDR)  # 56
PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
SHT_PROGBITS, SHT_STRTAB, SHT_GNU_VERNEED = 1, 3, 0x6FFFFFFE
DT_NULL, DT_NEEDED = 0, 1
_SHDR = "<IIQQQQIIQQ"
_BASE = 0x400000
_DATA = 0x1000
"""Where the section contents start in the file (and, plus _BASE, in memory)."""
GO_BUILDINFO_ADDR = _BASE + _DATA
"""The address of .go.buildinfo (it comes first), for pointer-format build info."""

_GO_MAGIC = b"\xff Go buildinf:"
# cmd/go's modload framing of the module info (infoStart, infoEnd).
_INFO_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
_INFO_END = bytes.fromhex("f932433186182072008242104116d8f2")


def go_modinfo(path: str, main: tuple[str, str], deps: Sequence[tuple[str, ...]]) -> bytes:
    """The framed module info Go embeds: path, mod and dep lines; a dep given as
    (path, version, replacement path, replacement version) adds a `=>` line."""
    lines = [f"path\t{path}", f"mod\t{main[0]}\t{main[1]}\t"]
    for dep in deps:
        lines.append(f"dep\t{dep[0]}\t{dep[1]}\th1:x=")
        if len(dep) == 4:
            lines.append(f"=>\t{dep[2]}\t{dep[3]}\th1:y=")
    return _INFO_START + ("\n".join(lines) + "\n").encode() + _INFO_END


def _varint(n: int) -> bytes:
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])


def go_buildinfo(version: str, modinfo: bytes, *, inline: bool = True) -> bytes:
    """.go.buildinfo contents: Go >= 1.18's inline strings, or the older pointers to string
    headers (valid at GO_BUILDINFO_ADDR)."""
    if inline:
        header = _GO_MAGIC + bytes([8, 2]) + bytes(16)
        return header + _varint(len(version)) + version.encode() + _varint(len(modinfo)) + modinfo
    # header (32) | string header of version (16) | of modinfo (16) | version | modinfo
    strings = GO_BUILDINFO_ADDR + 64
    header = (
        _GO_MAGIC
        + bytes([8, 0])
        + struct.pack("<QQ", GO_BUILDINFO_ADDR + 32, GO_BUILDINFO_ADDR + 48)
    )
    header += bytes(32 - len(header))
    heads = struct.pack("<QQQQ", strings, len(version), strings + len(version), len(modinfo))
    return header + heads + version.encode() + modinfo


def elf_bytes(
    machine: int = EM_X86_64,
    *,
    interp: str | None = None,
    size: int = 4096,
    note: bytes = b"",
    version_needs: Mapping[str, Sequence[str]] | None = None,
    go: bytes | None = None,
) -> bytes:
    """A minimal but well-formed ELF64 little-endian executable header.

    ``interp`` adds a PT_INTERP program header (a dynamic executable, e.g.
    ``/lib64/ld-linux-x86-64.so.2``); without it the file reads as static.
    ``note`` is placed right after the headers; zero padding fills up to ``size``.
    ``version_needs`` (library -> version names, e.g. ``{"libc.so.6": ["GLIBC_2.34"]}``)
    adds .dynstr, .gnu.version_r and a PT_DYNAMIC needing those libraries; ``go`` adds a
    .go.buildinfo section with those contents (see go_buildinfo).
    """
    if version_needs is not None or go is not None:
        return _with_sections(machine, interp, size, note, version_needs or {}, go)
    phnum = 1 if interp else 0
    ehdr = struct.pack(
        _EHDR,
        b"\x7fELF",
        2,  # ELFCLASS64
        1,  # ELFDATA2LSB
        1,  # EV_CURRENT
        0,  # ELFOSABI_NONE
        0,  # ABI version
        2,  # ET_EXEC
        machine,
        1,  # EV_CURRENT
        0x400000,  # entry
        _EHDR_SIZE if phnum else 0,  # phoff
        0,  # shoff
        0,  # flags
        _EHDR_SIZE,
        _PHDR_SIZE,
        phnum,
        64,  # shentsize
        0,  # shnum
        0,  # shstrndx
    )
    body = ehdr
    if interp:
        data = interp.encode() + b"\0"
        off = _EHDR_SIZE + _PHDR_SIZE
        body += struct.pack(_PHDR, PT_INTERP, 4, off, 0, 0, len(data), len(data), 1) + data
    body += note
    return body + b"\0" * max(0, size - len(body))


def _with_sections(
    machine: int,
    interp: str | None,
    size: int,
    note: bytes,
    needs: Mapping[str, Sequence[str]],
    go: bytes | None,
) -> bytes:
    """The file laid out as a linker would: one PT_LOAD mapping all of it at _BASE, section
    contents from _DATA on, the section header table at the end."""
    sections: list[tuple[str, int, bytes, int, int]] = []  # name, type, data, link, info
    if go is not None:
        sections.append((".go.buildinfo", SHT_PROGBITS, go, 0, 0))
    dynamic = b""
    if needs:
        dynstr = b"\0"

        def string(text: str) -> int:
            nonlocal dynstr
            at = len(dynstr)
            dynstr += text.encode() + b"\0"
            return at

        verneed = b""
        libs = list(needs.items())
        for i, (lib, versions) in enumerate(libs):
            file_name = string(lib)
            dynamic += struct.pack("<qQ", DT_NEEDED, file_name)
            last = i == len(libs) - 1
            verneed += struct.pack(
                "<HHIII", 1, len(versions), file_name, 16, 0 if last else 16 + 16 * len(versions)
            )
            for j, version in enumerate(versions):
                nxt = 0 if j == len(versions) - 1 else 16
                verneed += struct.pack("<IHHII", 0, 0, 2 + j, string(version), nxt)
        dynamic += struct.pack("<qQ", DT_NULL, 0)
        dynstr_index = len(sections) + 1  # section 0 is the null section
        sections.append((".dynstr", SHT_STRTAB, dynstr, 0, 0))
        sections.append((".gnu.version_r", SHT_GNU_VERNEED, verneed, dynstr_index, len(libs)))
    names = b"\0"
    placed = []
    offset = _DATA
    for name, kind, data, link, info in sections:
        placed.append((len(names), kind, offset, data, link, info))
        names += name.encode() + b"\0"
        offset = (offset + len(data) + 15) & ~15
    shstrtab_name = len(names)
    names += b".shstrtab\0"
    shstrtab_offset = offset
    offset += len(names)
    dyn_offset = (offset + 7) & ~7
    offset = dyn_offset + len(dynamic)
    interp_data = interp.encode() + b"\0" if interp else b""
    interp_offset = offset
    offset += len(interp_data)
    shoff = (max(offset, size) + 7) & ~7

    segments = [struct.pack(_PHDR, PT_LOAD, 6, 0, _BASE, _BASE, shoff, shoff, 0x1000)]
    if interp_data:
        segments.append(
            struct.pack(
                _PHDR,
                PT_INTERP,
                4,
                interp_offset,
                _BASE + interp_offset,
                0,
                len(interp_data),
                len(interp_data),
                1,
            )
        )
    if dynamic:
        segments.append(
            struct.pack(
                _PHDR,
                PT_DYNAMIC,
                6,
                dyn_offset,
                _BASE + dyn_offset,
                0,
                len(dynamic),
                len(dynamic),
                8,
            )
        )
    ehdr = struct.pack(
        _EHDR,
        b"\x7fELF",
        2,
        1,
        1,
        0,
        0,
        2 if interp else 3,  # ET_EXEC, or ET_DYN for a shared library
        machine,
        1,
        _BASE,
        _EHDR_SIZE,
        shoff,
        0,
        _EHDR_SIZE,
        _PHDR_SIZE,
        len(segments),
        64,
        len(placed) + 2,
        len(placed) + 1,
    )
    head = ehdr + b"".join(segments) + note
    if len(head) > _DATA:
        raise ValueError("note too long for a file with sections")
    body = bytearray(head + bytes(shoff - len(head)))
    for _, _, at, data, _, _ in placed:
        body[at : at + len(data)] = data
    body[shstrtab_offset : shstrtab_offset + len(names)] = names
    body[dyn_offset : dyn_offset + len(dynamic)] = dynamic
    body[interp_offset : interp_offset + len(interp_data)] = interp_data
    table = bytes(64)
    for name_at, kind, at, data, link, info in placed:
        table += struct.pack(_SHDR, name_at, kind, 2, _BASE + at, at, len(data), link, info, 8, 0)
    table += struct.pack(
        _SHDR, shstrtab_name, SHT_STRTAB, 0, 0, shstrtab_offset, len(names), 0, 0, 1, 0
    )
    return bytes(body) + table


def elf_machine(data: bytes) -> int | None:
    """e_machine of an ELF64 little-endian file, or None when ``data`` is not one."""
    if len(data) < _EHDR_SIZE or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    (machine,) = struct.unpack_from("<H", data, 18)
    return int(machine)


def elf_interp(data: bytes) -> str | None:
    """The PT_INTERP path of an ELF64 little-endian file, or None (static, or not ELF)."""
    if elf_machine(data) is None:
        return None
    phoff, phentsize, phnum = (
        struct.unpack_from("<Q", data, 32)[0],
        *struct.unpack_from("<HH", data, 54),
    )
    for i in range(phnum):
        p_type, _flags, p_offset, _va, _pa, p_filesz, *_ = struct.unpack_from(
            _PHDR, data, phoff + i * phentsize
        )
        if p_type == PT_INTERP:
            return data[p_offset : p_offset + p_filesz].rstrip(b"\0").decode()
    return None
