"""Small, well-formed ELF64 executables for tests and release copies.

Only the headers matter to the buildpack (pyelftools reads the machine, the
type and PT_INTERP); the rest is padding. ``note`` lets callers make two
files of the same machine differ, so that their hashes differ too.
"""

from __future__ import annotations

import struct

__all__ = ["EM_AARCH64", "EM_X86_64", "MACHINES", "elf_bytes", "elf_interp", "elf_machine"]

EM_X86_64 = 62
EM_AARCH64 = 183

# Go's GOARCH names (CNB_TARGET_ARCH) -> ELF e_machine.
MACHINES = {"amd64": EM_X86_64, "arm64": EM_AARCH64}

_EHDR = "<4sBBBBB7xHHIQQQIHHHHHH"
_PHDR = "<IIQQQQQQ"
_EHDR_SIZE = struct.calcsize(_EHDR)  # 64
_PHDR_SIZE = struct.calcsize(_PHDR)  # 56
PT_INTERP = 3


def elf_bytes(
    machine: int = EM_X86_64,
    *,
    interp: str | None = None,
    size: int = 4096,
    note: bytes = b"",
) -> bytes:
    """A minimal but well-formed ELF64 little-endian executable header.

    ``interp`` adds a PT_INTERP program header (a dynamic executable, e.g.
    ``/lib64/ld-linux-x86-64.so.2``); without it the file reads as static.
    ``note`` is placed right after the headers; zero padding fills up to ``size``.
    """
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
