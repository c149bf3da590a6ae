"""Go build info of an executable (what `go version -m` prints), read in pure Python.

The Go linker writes a 32-byte header, `\\xff Go buildinf:` + pointer size + flags, at
the start of the .go.buildinfo section (16-byte aligned in the first writable segment of
a binary without section headers). Go >= 1.18 puts two varint-prefixed strings right
after it (flag 2): the Go version and the module info. Older ones put two pointers to
Go string headers (data pointer, length) there instead. The module info is framed by
16-byte sentinels and lists `path`, `mod`, `dep` and `=>` (replacement) lines, tab
separated, as cmd/go's modload writes them (see Go's debug/buildinfo and
runtime/debug.ParseBuildInfo).

Image scanners (Syft, Trivy, Grype) read the same bytes to match CVEs of the modules a
binary was built from; the SBOM lists them so that they match without opening the layer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .record import Record

MAGIC = b"\xff Go buildinf:"
HEADER_SIZE = 32
ALIGN = 16
SEARCH_SIZE = 64 * 1024
"""How far into the data segment Go's debug/buildinfo looks for the header."""
MAX_STRING = 1 << 20
_FLAG_BIG_ENDIAN = 1
_FLAG_INLINE = 2


class Module(Record):
    path: str
    version: str
    sum: str = ""


class GoBuild(Record):
    """The build info of one Go executable."""

    go_version: str
    """The toolchain, as Go writes it: "go1.22.5"."""
    path: str
    """The main package path."""
    main: Module | None
    deps: tuple[Module, ...]
    """Every module linked in, replacements applied (what the binary really contains)."""

    def to_toml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"go_version": self.go_version, "path": self.path}
        if self.main is not None:
            out["main"] = list(self.main)
        out["deps"] = [list(d) for d in self.deps]
        return out

    @classmethod
    def from_toml(cls, data: object) -> GoBuild | None:
        """The record a layer toml holds, or None when it is not one."""
        if not isinstance(data, Mapping):
            return None
        try:
            main = data.get("main")
            return cls(
                go_version=str(data["go_version"]),
                path=str(data["path"]),
                main=Module(*map(str, main)) if main else None,
                deps=tuple(Module(*map(str, d)) for d in data["deps"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


Reader = Callable[[int, int], bytes]
"""read(virtual address, size) -> the bytes the file holds there (fewer at its end)."""


def find(data: bytes, base: int, read: Reader) -> GoBuild | None:
    """The build info whose header is in data (the bytes at virtual address base), or None.

    None also when the bytes are not well-formed: build info is a description for
    scanners, never a reason to fail a build.
    """
    for at in range(0, min(len(data), SEARCH_SIZE) - HEADER_SIZE + 1, ALIGN):
        if data[at : at + len(MAGIC)] == MAGIC:
            try:
                return _parse(data[at:], base + at, read)
            except (ValueError, IndexError, UnicodeDecodeError):
                return None
    return None


def _parse(data: bytes, addr: int, read: Reader) -> GoBuild | None:
    ptr_size, flags = data[14], data[15]
    if flags & _FLAG_INLINE:
        version, rest = _varint_string(data, HEADER_SIZE)
        modinfo, _ = _varint_string(data, rest)
    else:
        if ptr_size not in (4, 8):
            raise ValueError(f"pointer size {ptr_size}")
        big = bool(flags & _FLAG_BIG_ENDIAN)

        def pointer(raw: bytes) -> int:
            if len(raw) != ptr_size:
                raise ValueError("short read")
            return int.from_bytes(raw, "big" if big else "little")

        def string(header_addr: int) -> bytes:
            header = read(header_addr, 2 * ptr_size)
            data_addr, size = pointer(header[:ptr_size]), pointer(header[ptr_size:])
            if size > MAX_STRING:
                raise ValueError(f"string of {size} bytes")
            raw = read(data_addr, size) if size else b""
            if len(raw) != size:
                raise ValueError("short read")
            return raw

        field = data[16 : 16 + 2 * ptr_size]
        version = string(pointer(field[:ptr_size]))
        modinfo = string(pointer(field[ptr_size:]))
    if not version.startswith((b"go", b"devel")):
        return None
    return _modinfo(version.decode(), _unframe(modinfo).decode("utf-8", "replace"))


def _varint_string(data: bytes, at: int) -> tuple[bytes, int]:
    size, shift = 0, 0
    while True:
        byte = data[at]
        at += 1
        size |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
        if shift > 63:
            raise ValueError("varint overflow")
    if size > MAX_STRING or at + size > len(data):
        raise ValueError(f"string of {size} bytes")
    return data[at : at + size], at + size


def _unframe(modinfo: bytes) -> bytes:
    """The module info without its binary sentinels (empty when not framed: no modules)."""
    if len(modinfo) >= 33 and modinfo[-17:-16] == b"\n":
        return modinfo[16:-16]
    return b""


def _modinfo(version: str, text: str) -> GoBuild:
    path, main = "", None
    deps: list[Module] = []
    for line in text.splitlines():
        kind, _, rest = line.partition("\t")
        fields = rest.split("\t")
        module = Module(fields[0], *[*fields[1:3], "", ""][:2])
        if kind == "path":
            path = rest
        elif kind == "mod":
            main = module
        elif kind == "dep":
            deps.append(module)
        elif kind == "=>" and deps:
            # A replacement of the module before it: what is linked in is the replacement.
            deps[-1] = module
        elif kind == "=>" and main is not None:
            main = module
    return GoBuild(version, path, main, tuple(deps))
