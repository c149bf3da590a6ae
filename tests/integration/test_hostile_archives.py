"""Hostile archives served as release assets, through bin/build, tar and zip alike.

Each attack is refused naming the member, with exit 1, and the whole tmp tree (app, platform,
layers, and the victims the attack aims at) is byte for byte what it was before the build:
no layer, no layer toml, no staging leftovers, nothing written outside.
"""

from __future__ import annotations

import gzip
import io
import stat
import tarfile
import warnings
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tools.github_standin import StandIn

from support import LAYERS_ID, CnbDirs, Phase, assert_secret_kept, elf_bytes, tree, write_plan

REPO = "acme/tool"
LAYER = "acme_tool"
TOKEN = "ghp_hostileTOKEN0123456789abcdefXYZ"
LIMITS = {"BP_GITHUB_ASSETS_MAX_BYTES": str(1 << 20), "BP_GITHUB_ASSETS_MAX_ENTRIES": "10"}
BOMB = "the asset may be a decompression bomb"

# A member: (name, kind, data or link target, mode). Kinds: file, dir, symlink, hardlink,
# chr, blk, fifo.
Member = tuple[str, str, bytes | str, int]


def file(name: str, data: bytes = b"data\n", mode: int = 0o755) -> Member:
    return (name, "file", data, mode)


def tar_bytes(members: list[Member]) -> bytes:
    types = {
        "file": tarfile.REGTYPE,
        "dir": tarfile.DIRTYPE,
        "symlink": tarfile.SYMTYPE,
        "hardlink": tarfile.LNKTYPE,
        "chr": tarfile.CHRTYPE,
        "blk": tarfile.BLKTYPE,
        "fifo": tarfile.FIFOTYPE,
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, payload, mode in members:
            info = tarfile.TarInfo(name)
            info.type = types[kind]
            info.mode = mode
            info.mtime = 1_700_000_000
            if kind == "file":
                assert isinstance(payload, bytes)
                info.size = len(payload)
                tf.addfile(info, io.BytesIO(payload))
            else:
                if kind in ("symlink", "hardlink"):
                    assert isinstance(payload, str)
                    info.linkname = payload
                tf.addfile(info)
    return buf.getvalue()


def zip_of(members: list[Member]) -> bytes:
    types = {
        "file": stat.S_IFREG,
        "dir": stat.S_IFDIR,
        "symlink": stat.S_IFLNK,
        "chr": stat.S_IFCHR,
        "blk": stat.S_IFBLK,
        "fifo": stat.S_IFIFO,
    }
    buf = io.BytesIO()
    # A duplicate name is part of some attacks; zipfile warns about it.
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        warnings.simplefilter("ignore", UserWarning)
        for name, kind, payload, mode in members:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (types[kind] | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = payload.encode() if isinstance(payload, str) else payload
            zf.writestr(info, data)
    return buf.getvalue()


@dataclass(frozen=True)
class Attack:
    """An archive built from members (which may name paths under the tmp dir `base`)."""

    members: Callable[[Path], list[Member]]
    message: Callable[[Path], str]
    formats: tuple[str, ...] = ("tar", "zip")
    strip: int = 0
    env: dict[str, str] = field(default_factory=dict)


ATTACKS = {
    "dotdot-escape": Attack(
        lambda b: [file("ok"), file("../../../../escaped")],
        lambda b: "refusing archive member '../../../../escaped': path escapes the destination",
    ),
    "absolute-path": Attack(
        lambda b: [file(f"{b}/escaped")],
        lambda b: f"refusing archive member '{b}/escaped': path is absolute",
    ),
    "symlink-escape": Attack(
        lambda b: [("evil", "symlink", "../../../../victim", 0o777), file("evil/x")],
        lambda b: (
            "refusing archive member 'evil': symlink target '../../../../victim' "
            "escapes the destination"
        ),
    ),
    "symlink-absolute": Attack(
        lambda b: [("evil", "symlink", f"{b}/victim", 0o777)],
        lambda b: f"refusing archive member 'evil': symlink target '{b}/victim' is absolute",
    ),
    "symlink-chain-escape": Attack(
        lambda b: [
            ("d/", "dir", b"", 0o755),
            ("d/up", "symlink", "..", 0o777),
            ("x", "symlink", "d/up/..", 0o777),
            file("y"),
        ],
        lambda b: (
            "refusing archive member 'x': symlink resolves outside the destination "
            "through other symlinks"
        ),
    ),
    "write-through-symlink-dir": Attack(
        lambda b: [("real/", "dir", b"", 0o755), ("sub", "symlink", "real", 0o777), file("sub/x")],
        lambda b: (
            "refusing archive member 'sub/x': its path goes through the symlink 'sub' "
            "of an earlier member"
        ),
    ),
    "write-through-symlink-file": Attack(
        lambda b: [file("target"), ("tool", "symlink", "target", 0o777), file("tool", b"evil")],
        lambda b: "refusing archive member 'tool': it would replace the symlink 'tool' with a file",
    ),
    "hardlink-escape": Attack(
        lambda b: [file("ok"), ("hl", "hardlink", "../../../../victim", 0o644)],
        lambda b: (
            "refusing archive member 'hl': hardlink target '../../../../victim' "
            "escapes the destination"
        ),
        formats=("tar",),
    ),
    "hardlink-absolute": Attack(
        lambda b: [file("ok"), ("hl", "hardlink", f"{b}/victim", 0o644)],
        lambda b: f"refusing archive member 'hl': hardlink target '{b}/victim' is absolute",
        formats=("tar",),
    ),
    "char-device": Attack(
        lambda b: [file("ok"), ("dev/tty9", "chr", b"", 0o666)],
        lambda b: "refusing archive member 'dev/tty9': device nodes are not installed",
    ),
    "block-device": Attack(
        lambda b: [("dev/sda9", "blk", b"", 0o660)],
        lambda b: "refusing archive member 'dev/sda9': device nodes are not installed",
        formats=("tar",),
    ),
    "fifo": Attack(
        lambda b: [file("ok"), ("pipe", "fifo", b"", 0o644)],
        lambda b: "refusing archive member 'pipe': fifos are not installed",
    ),
    "name-too-long": Attack(
        lambda b: [file("ok"), file(f"dir/{'n' * 256}")],
        lambda b: (
            f"refusing archive member 'dir/{'n' * 256}': a name in its path is longer "
            "than 255 bytes"
        ),
    ),
    "too-many-entries": Attack(
        lambda b: [file(f"f{i:02}", b"") for i in range(11)],
        lambda b: f"refusing archive member 'f10': the archive has more than 10 members; {BOMB}",
        env=LIMITS,
    ),
    "strip-leaves-nothing": Attack(
        lambda b: [("a/", "dir", b"", 0o755), file("a/x")],
        lambda b: (
            "strip_components = 2 leaves nothing to install from the archive "
            "(deepest member has 2 path parts); use strip_components = 1 or less"
        ),
        strip=2,
    ),
}


def archive(fmt: str, members: list[Member]) -> tuple[str, bytes]:
    """(asset name, bytes) of members as a tar.gz or a zip."""
    if fmt == "tar":
        return "tool.tar.gz", tar_bytes(members)
    if fmt == "zip":
        return "tool.zip", zip_of(members)
    raise AssertionError(fmt)


def build_each(
    standin: StandIn,
    tmp_path: Path,
    assets: dict[str, tuple[str, bytes]],
    *,
    strip: int = 0,
    env: dict[str, str] | None = None,
) -> tuple[dict[str, tuple[CnbDirs, Phase]], dict[str, str]]:
    """Serve each asset from its own repo and run bin/build for each, concurrently.

    Each build has its own CNB dirs under tmp_path/<key>, next to a victim file an escape
    would hit. Returns the builds and the tmp tree as it was just before they ran.
    """
    dirs = {}
    for key, (name, data) in assets.items():
        repo = f"acme/tool-{key}"
        standin.add_release(repo, "v1", {name: data})
        standin.make_private(repo, TOKEN)
        cnb = CnbDirs(tmp_path / key)
        cnb.project(
            f'[[metadata.githubassets]]\nrepo = "{repo}"\nasset = "{name}"\ntag = "v1"\n'
            f'layer = "{LAYER}"\nstrip_components = {strip}\n'
        )
        write_plan(cnb)
        (cnb.base / "victim").write_text("untouched\n")
        dirs[key] = cnb
    before = tree(tmp_path)
    full = {"GITHUB_API_URL": standin.api_url, "GITHUB_TOKEN": TOKEN, **(env or {})}
    with ThreadPoolExecutor(len(dirs)) as pool:
        phases = dict(zip(dirs, pool.map(lambda c: c.build(full), dirs.values()), strict=True))
    for key, cnb in dirs.items():
        assert "Traceback" not in phases[key].err
        assert_secret_kept(TOKEN, phases[key], cnb, standin.storage_requests())
        assert cnb.files_outside_layers() == []
    return {key: (dirs[key], phases[key]) for key in dirs}, before


def refused(
    standin: StandIn, tmp_path: Path, assets: dict[str, tuple[str, bytes]], **kw: Any
) -> dict[str, str]:
    """Build each asset: each fails with exit 1, and the whole tmp tree is as it was.

    Returns each build's first stderr line.
    """
    results, before = build_each(standin, tmp_path, assets, **kw)
    for cnb, r in results.values():
        assert r.rc == 1, r.all
        assert not (cnb.layers / LAYER).exists() and not (cnb.layers / f"{LAYER}.toml").exists()
    assert tree(tmp_path) == before, "a refused archive changed the tmp tree"
    return {key: r.err.splitlines()[0] for key, (_, r) in results.items()}


@pytest.mark.parametrize("attack", ATTACKS.values(), ids=ATTACKS.keys())
def entry(key: str) -> str:
    """How an error names the entry of build_each's asset `key`."""
    return f"project.toml: [[metadata.githubassets]] #1 (repo acme/tool-{key}): "


@pytest.mark.parametrize("attack", ATTACKS.values(), ids=ATTACKS.keys())
def test_hostile_archive_is_refused_and_nothing_is_written(
    standin: StandIn, tmp_path: Path, attack: Attack
) -> None:
    assets = {fmt: archive(fmt, attack.members(tmp_path / fmt)) for fmt in attack.formats}
    firsts = refused(standin, tmp_path, assets, strip=attack.strip, env=attack.env)
    assert firsts == {
        fmt: f"error: {entry(fmt)}{attack.message(tmp_path / fmt)}" for fmt in attack.formats
    }


def test_bomb_beyond_the_size_limit(standin: StandIn, tmp_path: Path) -> None:
    zeros = bytes(2 << 20)  # 2 MiB of zeros: a few KiB compressed, twice the 1 MiB limit
    members = [file("small", b"x"), file("bomb", zeros)]
    assets = {fmt: archive(fmt, members) for fmt in ("tar", "zip")}
    assets["gz"] = ("tool.gz", gzip.compress(zeros, mtime=0))
    assert all(len(data) < 20_000 for _, data in assets.values())
    firsts = refused(standin, tmp_path, assets, env=LIMITS)
    # A zip declares its sizes up front, so it is refused before anything is written.
    assert firsts == {
        "tar": f"error: {entry('tar')}refusing archive member 'bomb': "
        "the archive unpacks to more than "
        f"1048576 bytes in total; {BOMB}",
        "zip": f"error: {entry('zip')}refusing archive member 'bomb': "
        f"the archive declares more than "
        f"1048576 bytes in total; {BOMB}",
        "gz": f"error: {entry('gz')}refusing archive member 'tool': "
        "the archive unpacks to more than "
        f"1048576 bytes in total; {BOMB}",
    }


def test_setuid_setgid_sticky_bits_are_dropped(standin: StandIn, tmp_path: Path) -> None:
    members = [file("tool", b"#!/bin/sh\necho hi\n", 0o7755), file("lib/data", b"d", 0o2644)]
    assets = {fmt: archive(fmt, members) for fmt in ("tar", "zip")}
    results, before = build_each(standin, tmp_path, assets)
    new = set(tree(tmp_path)) - set(before)
    for key, (cnb, r) in results.items():
        assert r.rc == 0, r.all
        layer = cnb.layers / LAYER
        assert stat.S_IMODE((layer / "tool").stat().st_mode) == 0o755
        assert stat.S_IMODE((layer / "lib" / "data").stat().st_mode) == 0o644
        # Nothing new outside the layer but the CNB files that describe it.
        ours = f"{key}/layers/{LAYERS_ID}/"
        outside = {p for p in new if p.startswith(f"{key}/")} - {
            p for p in new if p.startswith(f"{ours}{LAYER}/")
        }
        assert outside == {
            f"{ours}{LAYER}",
            f"{ours}{LAYER}.toml",
            f"{ours}{LAYER}.sbom.cdx.json",
            f"{ours}{LAYER}.sbom.spdx.json",
            f"{ours}launch.toml",
        }


def test_executables_get_0755_whatever_mode_the_archive_gives(
    standin: StandIn, tmp_path: Path
) -> None:
    """An owner-only executable would not run as the run image's user, a world-writable one
    could be swapped; a zip made on Windows has no modes at all, yet its ELF file is the
    executable the log names and `process` runs."""
    elf = elf_bytes()
    members = [
        file("owner-only", b"#!/bin/sh\necho hi\n", 0o700),
        file("world-writable", b"#!/bin/sh\necho hi\n", 0o777),
        file("notes", b"n", 0o666),
    ]
    windows = io.BytesIO()
    with zipfile.ZipFile(windows, "w") as zf:
        info = zipfile.ZipInfo("bin/tool", date_time=(2024, 1, 1, 0, 0, 0))
        info.create_system = 0  # MS-DOS: external_attr holds DOS attributes, no mode
        info.external_attr = 0x20
        zf.writestr(info, elf)
    assets = {fmt: archive(fmt, members) for fmt in ("tar", "zip")}
    assets["windows"] = ("tool.zip", windows.getvalue())
    results, _ = build_each(standin, tmp_path, assets)
    for key, (cnb, r) in results.items():
        assert r.rc == 0, r.all
        layer = cnb.layers / LAYER
        # env/: the buildpack's PATH env files (test_layer_path.py), not the archive's
        modes = {
            str(p.relative_to(layer)): stat.S_IMODE(p.stat().st_mode)
            for p in layer.rglob("*")
            if p.is_file() and p.relative_to(layer).parts[0] != "env"
        }
        if key == "windows":
            assert modes == {"bin/tool": 0o755}
            assert f"Installed {layer / 'bin' / 'tool'}" in r.out
        else:
            assert modes == {"owner-only": 0o755, "world-writable": 0o755, "notes": 0o644}


def test_the_directories_to_an_executable_are_0755_under_any_umask(
    standin: StandIn, tmp_path: Path
) -> None:
    """A build run with umask 077 (a hardened CI runner): the directories made for `files`
    and `destination` are still 0755, or the 0755 executable would not run as another user."""
    standin.add_release("acme/umask", "v1", {"tool.tar.gz": archive("tar", [file("x/tool")])[1]})
    cnb = CnbDirs(tmp_path)
    cnb.prefix = ["sh", "-c", 'umask 077 && exec "$0" "$@"']
    cnb.project(
        '[[metadata.githubassets]]\nrepo = "acme/umask"\nasset = "tool.tar.gz"\ntag = "v1"\n'
        'layer = "picked"\nfiles = { "bin/deep/tool" = "x/tool" }\n'
        '[[metadata.githubassets]]\nrepo = "acme/umask"\nasset = "tool.tar.gz"\ntag = "v1"\n'
        'layer = "placed"\ndestination = "opt/acme"\n'
    )
    write_plan(cnb)
    r = cnb.build({"GITHUB_API_URL": standin.api_url})
    assert r.rc == 0, r.all
    for layer in ("picked", "placed"):
        root = cnb.layers / layer
        modes = {
            str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode)
            for p in root.rglob("*")
            if p.parent.name != "env"  # the PATH env files: 0644 (test_layer_path.py)
        }
        assert set(modes.values()) == {0o755}, (layer, modes)
    assert (cnb.layers / "picked" / "bin" / "deep" / "tool").is_file()
    assert (cnb.layers / "placed" / "opt" / "acme" / "x" / "tool").is_file()


def test_a_destination_directory_keeps_its_leading_dot(standin: StandIn, tmp_path: Path) -> None:
    """`destination = ".local/bin/"` puts the file at .local/bin/<name>; only a leading "./"
    goes (the dot of ".local" was stripped with it)."""
    standin.add_release("acme/dot", "v1", {"tool": b"#!/bin/sh\necho hi\n"})
    cnb = CnbDirs(tmp_path)
    cnb.project(
        "".join(
            f'[[metadata.githubassets]]\nrepo = "acme/dot"\nasset = "tool"\ntag = "v1"\n'
            f'layer = "l{i}"\ndestination = "{dest}"\n'
            for i, dest in enumerate((".local/bin/", "./bin/", "."))
        )
    )
    write_plan(cnb)
    r = cnb.build({"GITHUB_API_URL": standin.api_url})
    assert r.rc == 0, r.all
    found = sorted(str(p.relative_to(cnb.layers)) for p in cnb.layers.rglob("tool") if p.is_file())
    assert found == ["l0/.local/bin/tool", "l1/bin/tool", "l2/tool"]
