"""Unpacking: every archive is built here, hostile ones included, one case per attack."""

from __future__ import annotations

import bz2
import calendar
import gzip
import io
import lzma
import os
import stat
import tarfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from github_assets.archive import Kind, Limits, Unpacked, sniff
from github_assets.errors import ArchiveError
from support import unpack

MTIME = 1_600_000_000
ZIP_TIME = (2020, 1, 2, 3, 4, 6)
TOOL = b"#!/bin/sh\necho hello\n"
DEFAULT = Limits()

TarMember = tuple[tarfile.TarInfo, bytes]
ZipMember = tuple[zipfile.ZipInfo, bytes]


# --- tar and zip members -------------------------------------------------------------------


def reg(name: str, data: bytes = b"data", mode: int = 0o644) -> TarMember:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, MTIME
    return info, data


def _special(name: str, kind: bytes, linkname: str = "", mode: int = 0o644) -> TarMember:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode, info.mtime = kind, linkname, mode, MTIME
    return info, b""


def tdir(name: str) -> TarMember:
    return _special(name, tarfile.DIRTYPE, mode=0o755)


def sym(name: str, target: str) -> TarMember:
    return _special(name, tarfile.SYMTYPE, target, mode=0o777)


def hard(name: str, target: str) -> TarMember:
    return _special(name, tarfile.LNKTYPE, target)


def zreg(name: str, data: bytes = b"data", mode: int = 0o100644, system: int = 3) -> ZipMember:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    info.create_system = system
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info, data


def zdir(name: str) -> ZipMember:
    return zreg(name, b"", 0o040755)


def zsym(name: str, target: str) -> ZipMember:
    return zreg(name, target.encode(), 0o120777)


COMPRESSION = {"tar": "", "tar.gz": "gz", "tar.xz": "xz", "tar.bz2": "bz2"}
TAR_KIND = {"tar": "tar", "tar.gz": "tar+gzip", "tar.xz": "tar+xz", "tar.bz2": "tar+bzip2"}
COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "xz": lzma.compress,
    "bzip2": bz2.compress,
}


def write_tar(path: Path, members: Sequence[TarMember], fmt: str = "tar.gz") -> Path:
    with tarfile.open(path, f"w:{COMPRESSION[fmt]}") as archive:  # type: ignore[call-overload]
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


def write_zip(path: Path, members: Sequence[ZipMember]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for info, data in members:
            archive.writestr(info, data)
    return path


def write_archive(path: Path, fmt: str, members: Sequence[tuple[str, str, bytes, int]]) -> Path:
    """(kind, name, data-or-target, mode) members written as a tar of any kind or a zip."""
    if fmt == "zip":
        zmembers = [
            zdir(name)
            if kind == "dir"
            else zsym(name, data.decode())
            if kind == "link"
            else zreg(name, data, 0o100000 | mode)
            for kind, name, data, mode in members
        ]
        return write_zip(path, zmembers)
    tmembers = [
        tdir(name)
        if kind == "dir"
        else sym(name, data.decode())
        if kind == "link"
        else reg(name, data, mode)
        for kind, name, data, mode in members
    ]
    return write_tar(path, tmembers, fmt)


# --- running unpack ------------------------------------------------------------------------


@pytest.fixture
def src_dir(tmp_path: Path) -> Path:
    path = tmp_path / "in"
    path.mkdir()
    return path


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    """An empty staging dir alone in its parent, so anything written beside it shows."""
    path = tmp_path / "out" / "dest"
    path.mkdir(parents=True)
    return path


def run(
    src: Path, dest: Path, strip: int = 0, raw_path: str = "bin/tool", limits: Limits = DEFAULT
) -> Unpacked:
    return unpack(src, dest, strip_components=strip, raw_path=raw_path, limits=limits)


def refused(src: Path, dest: Path, strip: int = 0, limits: Limits = DEFAULT) -> str:
    with pytest.raises(ArchiveError) as caught:
        run(src, dest, strip=strip, limits=limits)
    message = str(caught.value)
    assert "\n" not in message
    assert os.listdir(dest.parent) == ["dest"], "something was written beside dest"
    return message


def tree(dest: Path) -> dict[str, str]:
    """Every path under dest with its type, to compare whole results."""
    out = {}
    for root, dirs, files in os.walk(dest):
        for name in dirs + files:
            path = Path(root, name)
            rel = path.relative_to(dest).as_posix()
            if path.is_symlink():
                out[rel] = "-> " + os.readlink(path)
            elif path.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = "file"
    return out


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


# --- attacks -------------------------------------------------------------------------------

TAR_ATTACKS: list[tuple[str, list[TarMember], str]] = [
    ("dotdot", [reg("../x")], "'../x': path escapes the destination"),
    ("dotdot-inside", [reg("a/../../x")], "'a/../../x': path escapes the destination"),
    ("absolute", [reg("/abs")], "'/abs': path is absolute"),
    ("symlink-etc", [sym("etc", "/etc")], "'etc': symlink target '/etc' is absolute"),
    ("symlink-up", [sym("link", "../../x")], "'link': symlink target '../../x' escapes"),
    (
        "symlink-up-nested",
        [tdir("a"), sym("a/link", "../../x")],
        "'a/link': symlink target '../../x' escapes",
    ),
    (
        "symlink-chain",
        [tdir("a"), sym("a/b", ".."), sym("up", "a/b/../..")],
        "'up': symlink resolves outside the destination",
    ),
    (
        "file-through-symlink",
        [tdir("sub"), sym("link", "sub"), reg("link/evil")],
        "'link/evil': its path goes through the symlink 'link'",
    ),
    (
        "file-over-symlink",
        [reg("target"), sym("link", "target"), reg("link")],
        "'link': it would replace the symlink 'link' with a file",
    ),
    ("dir-over-file", [reg("a"), tdir("a")], "'a': it would replace the file 'a' with a directory"),
    (
        "hardlink-outside",
        [hard("h", "../../etc/passwd")],
        "'h': hardlink target '../../etc/passwd' escapes the destination",
    ),
    ("hardlink-absolute", [hard("h", "/etc/passwd")], "'h': hardlink target '/etc/passwd' is"),
    (
        "hardlink-non-member",
        [reg("a"), hard("h", "missing")],
        "'h': hardlink target 'missing' is not a regular file extracted earlier",
    ),
    (
        "hardlink-to-symlink",
        [reg("a"), sym("s", "a"), hard("h", "s")],
        "'h': hardlink target 's' is not a regular file",
    ),
    ("hardlink-to-dir", [tdir("d"), hard("h", "d")], "'h': hardlink target 'd' is not a regular"),
    ("char-device", [_special("dev/null", tarfile.CHRTYPE)], "'dev/null': device nodes"),
    ("block-device", [_special("dev/sda", tarfile.BLKTYPE)], "'dev/sda': device nodes"),
    ("fifo", [_special("pipe", tarfile.FIFOTYPE)], "'pipe': fifos are not installed"),
]


@pytest.mark.parametrize(
    ("members", "expected"),
    [pytest.param(members, expected, id=name) for name, members, expected in TAR_ATTACKS],
)
def test_hostile_tar_is_refused_naming_the_member(
    src_dir: Path, dest: Path, members: list[TarMember], expected: str
) -> None:
    message = refused(write_tar(src_dir / "evil.tar.gz", members), dest)
    assert message.startswith("refusing archive member '")
    assert expected in message


ZIP_ATTACKS: list[tuple[str, list[ZipMember], str]] = [
    ("dotdot", [zreg("../../x")], "'../../x': path escapes the destination"),
    ("absolute", [zreg("/abs")], "'/abs': path is absolute"),
    ("symlink-up", [zsym("link", "../../x")], "'link': symlink target '../../x' escapes"),
    ("symlink-etc", [zsym("etc", "/etc")], "'etc': symlink target '/etc' is absolute"),
    (
        "file-through-symlink",
        [zdir("sub/"), zsym("link", "sub"), zreg("link/evil")],
        "'link/evil': its path goes through the symlink 'link'",
    ),
    ("char-device", [zreg("dev/null", b"", 0o020644)], "'dev/null': device nodes"),
    ("fifo", [zreg("pipe", b"", 0o010644)], "'pipe': fifos are not installed"),
]


@pytest.mark.parametrize(
    ("members", "expected"),
    [pytest.param(members, expected, id=name) for name, members, expected in ZIP_ATTACKS],
)
def test_hostile_zip_is_refused_naming_the_member(
    src_dir: Path, dest: Path, members: list[ZipMember], expected: str
) -> None:
    message = refused(write_zip(src_dir / "evil.zip", members), dest)
    assert message.startswith("refusing archive member '")
    assert expected in message


def test_setuid_setgid_and_sticky_bits_are_dropped(src_dir: Path, dest: Path) -> None:
    members = [reg("suid", mode=0o4755), reg("sgid", mode=0o2755), reg("sticky", mode=0o1777)]
    result = run(write_tar(src_dir / "a.tar.gz", members), dest)
    assert result.files == ("sgid", "sticky", "suid")
    assert mode(dest / "suid") == 0o755
    assert mode(dest / "sgid") == 0o755
    assert mode(dest / "sticky") == 0o755


def test_zip_keeps_unix_modes_and_defaults_others_to_0644(src_dir: Path, dest: Path) -> None:
    members = [
        zreg("bin/tool", TOOL, 0o104755),
        zreg("README", b"readme", 0o100600),
        zreg("from-windows.txt", b"dos", 0x20, system=0),
    ]
    result = run(write_zip(src_dir / "a.zip", members), dest)
    assert result == Unpacked("zip", ("README", "bin/tool", "from-windows.txt"), ())
    assert mode(dest / "bin/tool") == 0o755
    assert mode(dest / "bin") == 0o755
    assert mode(dest / "README") == 0o600
    assert mode(dest / "from-windows.txt") == 0o644
    assert (dest / "bin/tool").stat().st_mtime == calendar.timegm(ZIP_TIME)


# --- happy paths ---------------------------------------------------------------------------

LAYOUT = [
    ("dir", "pkg-1.0/", b"", 0o755),
    ("file", "pkg-1.0/README", b"readme", 0o644),
    ("dir", "pkg-1.0/bin/", b"", 0o755),
    ("file", "pkg-1.0/bin/tool", TOOL, 0o755),
    ("link", "pkg-1.0/bin/tool-link", b"tool", 0),
]
STRIPPED = {
    0: (("pkg-1.0/README", "pkg-1.0/bin/tool"), ("pkg-1.0/bin/tool-link",), "pkg-1.0/bin/"),
    1: (("README", "bin/tool"), ("bin/tool-link",), "bin/"),
    2: (("tool",), ("tool-link",), ""),
}
FORMATS = ["tar.gz", "tar.xz", "tar.bz2", "tar", "zip"]


@pytest.mark.parametrize("strip", [0, 1, 2])
@pytest.mark.parametrize("fmt", FORMATS)
def test_archive_unpacks_with_strip_components(
    src_dir: Path, dest: Path, fmt: str, strip: int
) -> None:
    src = write_archive(src_dir / f"pkg.{fmt}", fmt, LAYOUT)
    result = run(src, dest, strip=strip)
    files, links, bindir = STRIPPED[strip]
    assert result == Unpacked(TAR_KIND.get(fmt, "zip"), files, links)
    tool = dest / f"{bindir}tool"
    assert tool.read_bytes() == TOOL
    assert mode(tool) == 0o755
    assert mode(dest / files[0]) == (0o644 if strip < 2 else 0o755)
    assert os.readlink(dest / f"{bindir}tool-link") == "tool"
    expected_mtime = MTIME if fmt != "zip" else calendar.timegm(ZIP_TIME)
    assert tool.stat().st_mtime == expected_mtime
    assert os.listdir(dest.parent) == ["dest"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_strip_components_that_leaves_nothing_is_an_error(
    src_dir: Path, dest: Path, fmt: str
) -> None:
    src = write_archive(src_dir / f"pkg.{fmt}", fmt, LAYOUT)
    with pytest.raises(ArchiveError) as caught:
        run(src, dest, strip=3)
    assert caught.value.message == (
        "strip_components = 3 leaves nothing to install from the archive "
        "(deepest member has 3 path parts)"
    )
    assert caught.value.hint == "use strip_components = 2 or less"


def test_strip_counts_a_leading_dot_like_gnu_tar(src_dir: Path, dest: Path) -> None:
    members = [tdir("./"), tdir("./bin/"), reg("./bin/tool", TOOL, 0o755)]
    result = run(write_tar(src_dir / "dot.tar.gz", members), dest, strip=1)
    assert result.files == ("bin/tool",)
    assert tree(dest) == {"bin": "dir", "bin/tool": "file"}


def test_hardlink_to_an_extracted_file_is_stripped_and_linked(src_dir: Path, dest: Path) -> None:
    members = [tdir("pkg/"), reg("pkg/a", TOOL, 0o755), hard("pkg/b", "pkg/a")]
    result = run(write_tar(src_dir / "h.tar.gz", members), dest, strip=1)
    assert result.files == ("a", "b")
    assert (dest / "b").read_bytes() == TOOL
    assert (dest / "a").samefile(dest / "b")


def test_a_later_member_replaces_an_earlier_file(src_dir: Path, dest: Path) -> None:
    members = [reg("a", b"one"), reg("a", b"two")]
    result = run(write_tar(src_dir / "dup.tar", members, "tar"), dest)
    assert result.files == ("a",)
    assert (dest / "a").read_bytes() == b"two"


def test_links_inside_the_destination_are_kept(src_dir: Path, dest: Path) -> None:
    members = [tdir("a/b/"), reg("a/b/f"), sym("a/b/up", "../../a/b/f"), sym("a/self", ".")]
    result = run(write_tar(src_dir / "l.tar.gz", members), dest)
    assert result.links == ("a/b/up", "a/self")
    assert (dest / "a/b/up").read_bytes() == b"data"


@pytest.mark.parametrize("kind", ["gzip", "xz", "bzip2"])
def test_lone_compressed_file_goes_to_raw_path(src_dir: Path, dest: Path, kind: str) -> None:
    data = TOOL * 1000
    src = src_dir / "grpc_health_probe.compressed"
    src.write_bytes(COMPRESS[kind](data))
    result = run(src, dest, raw_path="bin/grpc_health_probe")
    assert result == Unpacked(kind, ("bin/grpc_health_probe",), ())
    assert (dest / "bin/grpc_health_probe").read_bytes() == data
    assert mode(dest / "bin/grpc_health_probe") == 0o755
    assert mode(dest / "bin") == 0o755


def test_raw_file_goes_to_raw_path_as_executable(src_dir: Path, dest: Path) -> None:
    src = src_dir / "grpc_health_probe-linux-amd64"
    src.write_bytes(b"\x7fELF" + bytes(2000))
    src.chmod(0o600)
    result = run(src, dest, raw_path="bin/grpc_health_probe")
    assert result == Unpacked("raw", ("bin/grpc_health_probe",), ())
    assert (dest / "bin/grpc_health_probe").read_bytes() == src.read_bytes()
    assert mode(dest / "bin/grpc_health_probe") == 0o755


# --- bombs and limits ----------------------------------------------------------------------


def test_tar_over_the_byte_limit_is_refused(src_dir: Path, dest: Path) -> None:
    members = [reg("a", bytes(2000)), reg("b", bytes(2000)), reg("c", bytes(2000))]
    src = write_tar(src_dir / "bomb.tar.gz", members)
    message = refused(src, dest, limits=Limits(max_bytes=5000))
    assert "'c': the archive unpacks to more than 5000 bytes in total" in message
    assert not (dest / "c").exists()


def test_lone_gzip_bomb_is_stopped_by_the_bytes_written(src_dir: Path, dest: Path) -> None:
    src = src_dir / "bomb.gz"
    src.write_bytes(gzip.compress(bytes(1024 * 1024)))
    message = refused(src, dest, limits=Limits(max_bytes=4096))
    assert message.startswith("refusing archive member 'bin/tool': the archive unpacks to more")
    assert "decompression bomb" in message
    assert (dest / "bin/tool").stat().st_size <= 4096


def test_zip_declaring_too_many_bytes_is_refused_before_writing(src_dir: Path, dest: Path) -> None:
    members = [zreg("a", bytes(2000)), zreg("b", bytes(2000)), zreg("c", bytes(2000))]
    message = refused(write_zip(src_dir / "bomb.zip", members), dest, limits=Limits(max_bytes=5000))
    assert "'c': the archive declares more than 5000 bytes in total" in message
    assert os.listdir(dest) == []


def test_tar_with_too_many_members_is_refused(src_dir: Path, dest: Path) -> None:
    src = write_tar(src_dir / "many.tar.gz", [reg(f"f{i}") for i in range(5)])
    message = refused(src, dest, limits=Limits(max_entries=3))
    assert "'f3': the archive has more than 3 members" in message


def test_zip_with_too_many_members_is_refused_before_writing(src_dir: Path, dest: Path) -> None:
    src = write_zip(src_dir / "many.zip", [zreg(f"f{i}") for i in range(5)])
    message = refused(src, dest, limits=Limits(max_entries=3))
    assert "'f3': the archive has more than 3 members" in message
    assert os.listdir(dest) == []


# --- empty and damaged ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda p: write_tar(p, [tdir("a/"), tdir("a/b/")]), id="only-dirs"),
        pytest.param(lambda p: write_tar(p, [tdir("a/")], "tar"), id="only-dirs-tar"),
        pytest.param(lambda p: write_zip(p, []), id="empty-zip"),
    ],
)
def test_archive_without_files_is_an_error(
    src_dir: Path, dest: Path, build: Callable[[Path], Path]
) -> None:
    assert refused(build(src_dir / "empty"), dest) == "the archive has no files"


def _truncated_tar(fmt: str) -> Callable[[Path], Path]:
    def build(path: Path) -> Path:
        write_tar(path, [reg("big", os.urandom(64 * 1024))], fmt)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return path

    return build


def _bytes(data: bytes) -> Callable[[Path], Path]:
    def build(path: Path) -> Path:
        path.write_bytes(data)
        return path

    return build


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        pytest.param(_bytes(b"\x1f\x8b" + b"not gzip" * 64), "gzip archive", id="bad-gzip"),
        pytest.param(_bytes(b"\xfd7zXZ\x00" + b"not xz" * 64), "xz archive", id="bad-xz"),
        pytest.param(_bytes(b"BZh9" + b"not bzip2" * 64), "bzip2 archive", id="bad-bzip2"),
        pytest.param(_bytes(b"PK\x03\x04" + b"not zip" * 64), "zip archive", id="bad-zip"),
        pytest.param(_truncated_tar("tar.gz"), "tar+gzip archive", id="truncated-tar.gz"),
        pytest.param(_truncated_tar("tar"), "tar archive", id="truncated-tar"),
    ],
)
def test_damaged_archive_is_an_error_with_its_cause(
    src_dir: Path, dest: Path, build: Callable[[Path], Path], expected: str
) -> None:
    with pytest.raises(ArchiveError) as caught:
        run(build(src_dir / "damaged"), dest)
    assert str(caught.value).startswith(f"failed to unpack {expected}: ")
    assert caught.value.__cause__ is not None


# --- sniffing ------------------------------------------------------------------------------


def _tar_head() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info, data = reg("x")
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip_bytes(members: Sequence[ZipMember]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for info, data in members:
            archive.writestr(info, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        pytest.param(gzip.compress(b"x"), Kind.GZIP, id="gzip"),
        pytest.param(lzma.compress(b"x"), Kind.XZ, id="xz"),
        pytest.param(bz2.compress(b"x"), Kind.BZIP2, id="bzip2"),
        pytest.param(_zip_bytes([zreg("x")]), Kind.ZIP, id="zip"),
        pytest.param(_zip_bytes([]), Kind.ZIP, id="empty-zip"),
        pytest.param(_tar_head(), Kind.TAR, id="tar"),
        pytest.param(b"\x7fELF\x02\x01\x01" + bytes(600), Kind.RAW, id="elf"),
        pytest.param(TOOL, Kind.RAW, id="script"),
        pytest.param(bytes(1024), Kind.RAW, id="zeros"),
        pytest.param(b"BZh", Kind.RAW, id="short-bzh"),
        pytest.param(b"", Kind.RAW, id="empty"),
    ],
)
def test_sniff_by_magic_bytes(head: bytes, kind: Kind) -> None:
    assert sniff(head[:512]) is kind


def test_a_zip_directory_offset_past_the_file_is_damaged_not_an_os_error(tmp_path: Path) -> None:
    """zipfile seeks the spool file before its start (EINVAL): the archive's fault."""
    import struct

    from support import zip_bytes

    data = bytearray(zip_bytes({"tool": b"x" * 100}))
    struct.pack_into("<I", data, data.rfind(b"PK\x05\x06") + 16, 0xFFFFFF00)
    src = tmp_path / "a.zip"
    src.write_bytes(bytes(data))
    (tmp_path / "out").mkdir()
    with pytest.raises(ArchiveError, match="failed to unpack zip archive"):
        unpack(src, tmp_path / "out", strip_components=0, raw_path="tool")
