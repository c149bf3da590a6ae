"""Reading installed ELF files: which machine they are built for, and whether they need a libc."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ElfError

if TYPE_CHECKING:
    from elftools.elf.elffile import ELFFile

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
    from elftools.elf.dynamic import DynamicSegment  # noqa: F401
    from elftools.elf.elffile import ELFFile  # noqa: F401
    from elftools.elf.segments import InterpSegment  # noqa: F401


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
        # Imported here, once an ELF file is seen: an asset without one never needs it.
        from elftools.elf.elffile import ELFFile

        file.seek(0)
        try:
            return _facts(ELFFile(file))
        # pyelftools reports a malformed file with many exception types (its own, struct's,
        # construct's, ValueError, IndexError...), and none of them is a bug of ours.
        except Exception as err:
            raise ElfError(
                f"failed to read ELF file {shown_as}: {err or type(err).__name__}",
                hint="the file is truncated or corrupt",
            ) from err


def _facts(elf: ELFFile) -> ElfInfo:
    from elftools.elf.dynamic import DynamicSegment
    from elftools.elf.segments import InterpSegment

    machine = str(elf.header["e_machine"])
    arch = _GO_ARCH.get((machine, elf.elfclass, elf.little_endian), machine)
    interpreter: str | None = None
    needs_libs = False
    for segment in elf.iter_segments():
        if isinstance(segment, InterpSegment):
            interpreter = segment.get_interp_name()
        elif isinstance(segment, DynamicSegment):
            # The raw entries: a DT_NEEDED counts even when its name cannot be looked up.
            needs_libs = needs_libs or any(True for _ in segment._iter_tags("DT_NEEDED"))
    return ElfInfo(
        machine=arch, static=interpreter is None and not needs_libs, interpreter=interpreter
    )
