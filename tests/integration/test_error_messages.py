"""#20.5: errors that named the wrong thing. bin/build as a subprocess against the loopback
stand-in: a `files` value naming a symlink member, a file:// mirror whose path is a
directory or cannot be read (the message names the mirror's path, never a write; the
unreadable case runs as the unprivileged build user in test_hardening.py)."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tools.github_standin import API, STORAGE, WEB, StandIn

from support import CnbDirs, Phase, elf_bytes, write_plan

REPO = "acme/probe"
LAYER = "acme_probe"
AMD = elf_bytes(size=20_000)
SHA = hashlib.sha256(AMD).hexdigest()
ENTRY = f"project.toml: [[metadata.githubassets]] #1 (repo {REPO})"
PINNED = f"""
[[metadata.githubassets]]
repo = "{REPO}"
asset = "probe-{{os}}-{{arch}}"
tag = "v1"
sha256 = "{SHA}"
"""


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as s:
        yield s


@pytest.fixture
def cnb(tmp_path: Path) -> CnbDirs:
    return CnbDirs(tmp_path / "b")


def build(s: StandIn, cnb: CnbDirs, text: str, **env: str) -> Phase:
    cnb.project(text)
    write_plan(cnb)
    return cnb.build({"GITHUB_API_URL": s.api_url, "BP_GITHUB_ASSETS_BACKOFF": "0.01", **env})


def failed(r: Phase, cnb: CnbDirs) -> str:
    assert r.rc == 1 and "Traceback" not in r.err, r.all
    assert not (cnb.layers / LAYER).exists() and not (cnb.layers / f"{LAYER}.toml").exists()
    return r.err.splitlines()[0]


def with_symlink() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tf:
        info = tarfile.TarInfo("tool-1/bin/tool")
        info.size, info.mode = len(AMD), 0o755
        tf.addfile(info, io.BytesIO(AMD))
        link = tarfile.TarInfo("tool-1/tool")
        link.type, link.linkname = tarfile.SYMTYPE, "bin/tool"
        tf.addfile(link)
    return raw.getvalue()


def test_a_files_value_naming_a_symlink_says_it_is_one(standin: StandIn, cnb: CnbDirs) -> None:
    standin.add_release(REPO, "v1", {"tool.tar.gz": with_symlink()})
    text = f"""
[[metadata.githubassets]]
repo = "{REPO}"
asset = "tool.tar.gz"
tag = "v1"
strip_components = 1
files = {{ "bin/tool" = "tool" }}
"""
    r = build(standin, cnb, text)
    assert failed(r, cnb) == (
        f"error: {ENTRY}: 'files' value 'tool' (for bin/tool) names tool, a symlink in the "
        "archive, not a regular file; set it to the path of the file the symlink points to"
    )
    assert "matches no member" not in r.err


def mirror_tree(cnb: CnbDirs) -> Path:
    tree = cnb.base / "mirror" / "github.com" / REPO / "releases" / "download" / "v1"
    tree.mkdir(parents=True)
    return tree


def test_a_file_mirror_path_that_is_a_directory_names_it(standin: StandIn, cnb: CnbDirs) -> None:
    standin.down = {API, STORAGE, WEB}
    path = mirror_tree(cnb) / "probe-linux-amd64"
    path.mkdir()
    mirror = (cnb.base / "mirror").as_uri() + "/{originalHost}"
    r = build(
        standin, cnb, PINNED, BP_DEPENDENCY_MIRROR=mirror, GITHUB_SERVER_URL="https://github.com"
    )
    first = failed(r, cnb)
    assert first.startswith(
        f"error: {ENTRY}: mirror {(cnb.base / 'mirror').as_uri()}/github.com "
        f"has a directory at {path}, where the file probe-linux-amd64 "
        "should be; put the asset's file there, or fix the mirror or binding"
    ), first
    assert "write" not in first


def test_a_file_mirror_path_through_a_file_names_it(standin: StandIn, cnb: CnbDirs) -> None:
    standin.down = {API, STORAGE, WEB}
    (cnb.base / "mirror").write_text("not a directory\n")
    mirror = (cnb.base / "mirror").as_uri()
    r = build(standin, cnb, PINNED, BP_DEPENDENCY_MIRROR=mirror)
    first = failed(r, cnb)
    path = cnb.base / "mirror" / REPO / "releases" / "download" / "v1" / "probe-linux-amd64"
    assert (
        f"mirror {mirror}: cannot read {path} for probe-linux-amd64: Not a directory; "
        "make it readable for the build user, or fix the mirror or binding"
    ) in first, first
    assert "write" not in first


@pytest.mark.parametrize("checksums", ["checksums.txt", "auto"])
def test_a_checksum_file_whose_lines_disagree_is_refused_as_ambiguous(
    standin: StandIn, cnb: CnbDirs, checksums: str
) -> None:
    """#20.7: every line for the asset must agree, as `sha256sum -c` requires; the first
    one does not win, and the error is about the file, not a mismatch of the bytes."""
    other = "b" * 64
    sums = f"{SHA}  probe-linux-amd64\n{other}  probe-linux-amd64\n".encode()
    assets = {"probe-linux-amd64": AMD, "checksums.txt": sums}
    standin.add_release(REPO, "v1", assets, null_digest=list(assets))
    text = PINNED.replace(f'sha256 = "{SHA}"', f'checksums = "{checksums}"')
    first = failed(build(standin, cnb, text), cnb)
    assert first == (
        f"error: {ENTRY}: checksum file checksums.txt is ambiguous: its lines for "
        f"probe-linux-amd64 disagree (sha256:{SHA}, sha256:{other}); nothing was installed; "
        "the release's checksum file must list one value per asset: set 'checksums' to "
        "another file, or pin sha256 yourself"
    )
    assert "mismatch" not in first


def _one_phdr_past_the_end() -> bytes:
    """A 64-byte ELF64 header that announces one program header at offset 64 (none there)."""
    header = bytearray(AMD[:64])
    header[32:40] = (64).to_bytes(8, "little")  # e_phoff
    header[54:56] = (56).to_bytes(2, "little")  # e_phentsize
    header[56:58] = (1).to_bytes(2, "little")  # e_phnum
    return bytes(header)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("header cut short", AMD[:30]),
        ("program headers past the end", _one_phdr_past_the_end()),
        ("no ELF class", b"\x7fELF\x07\x01" + AMD[6:200]),
    ],
)
def test_a_corrupt_elf_asset_is_one_line_naming_the_entry_and_nothing_is_left(
    standin: StandIn, cnb: CnbDirs, name: str, data: bytes
) -> None:
    """elf.read (struct, not pyelftools) on a hostile executable: the build fails with one
    line that names the entry and the file, no traceback, no layer dir or toml left."""
    standin.add_release(REPO, "v1", {"probe-linux-amd64": data})
    config = PINNED.replace(SHA, hashlib.sha256(data).hexdigest())
    r = build(standin, cnb, config)
    line = failed(r, cnb)
    assert line.startswith(f"error: {ENTRY}: failed to read ELF file bin/probe: "), (name, line)
    assert "truncated or corrupt" in r.err, r.all
    assert cnb.files_outside_layers() == [], cnb.files_outside_layers()
