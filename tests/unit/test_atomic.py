"""atomic.write_text_atomic: whole files only, and a file that holds the text already is
left as it is (no rename: replacing a file on ext4 writes its data out first)."""

from __future__ import annotations

import os
from pathlib import Path

from github_assets.atomic import write_text_atomic


def test_writes_a_new_file_whole_with_mode_0644(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "a.toml"
    write_text_atomic(path, "x = 1\n")
    assert path.read_text() == "x = 1\n"
    assert path.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.toml"], "no temp file left"


def test_the_same_text_leaves_the_file_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "a.sbom.cdx.json"
    write_text_atomic(path, "{}\n")
    before = path.stat()
    write_text_atomic(path, "{}\n")
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_other_text_or_mode_or_a_symlink_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "launch.toml"
    write_text_atomic(path, "a\n")
    first = path.stat().st_ino
    write_text_atomic(path, "b\n")
    assert path.read_text() == "b\n" and path.stat().st_ino != first

    path.chmod(0o600)
    same_mode = path.stat().st_ino
    write_text_atomic(path, "b\n")  # same text, other mode: written again, 0644
    assert path.stat().st_mode & 0o777 == 0o644 and path.stat().st_ino != same_mode

    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("b\n")
    elsewhere.chmod(0o644)
    path.unlink()
    path.symlink_to(elsewhere)
    write_text_atomic(path, "b\n")  # a symlink holding the text is not the file: replaced
    assert not path.is_symlink() and path.read_text() == "b\n"
    assert elsewhere.read_text() == "b\n"


def test_a_longer_file_with_the_text_as_its_start_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    write_text_atomic(path, "abc\nmore\n")
    write_text_atomic(path, "abc\n")
    assert path.read_text() == "abc\n"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
