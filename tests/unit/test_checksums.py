"""Checksum file formats as real releases write them, and `files` patterns."""

from __future__ import annotations

import pytest

from github_assets.checksums import candidates, find
from github_assets.selection import matches
from github_assets.verify import Checksum

H = "ab" * 32
H512 = "cd" * 64


@pytest.mark.parametrize(
    "text",
    [
        f"{H}  tool\n",  # GNU text mode (sha256sum, goreleaser)
        f"{H} *tool\n",  # GNU binary mode (dumb-init, hadolint)
        f"{H} tool\n",  # one space (jq 1.7)
        f"{'00' * 32}  other\n{H}  ./dist/tool\n",  # a path: its last component counts
        f"SHA256 (tool) = {H}\n",  # BSD
        f"MD5   (tool) = {'0' * 32}\nSHA1  (tool) = {'1' * 40}\nSHA256 (tool) = {H}\n",  # rhash
        f"# comment\n\n{H.upper()}  tool\n",
    ],
)
def test_a_line_for_the_asset_in_every_format(text: str) -> None:
    assert find(text, "tool", sidecar=False).checksum == Checksum(H, "sha256")


def test_sha512_lines_and_other_algorithms() -> None:
    assert find(f"{H512}  tool\n", "tool", sidecar=False).checksum == Checksum(H512, "sha512")
    assert find(f"SHA512 (tool) = {H512}\n", "tool", sidecar=False).checksum == Checksum(
        H512, "sha512"
    )
    md5_only = find(f"{'0' * 32}  tool\nSHA1 (tool) = {'1' * 40}\n", "tool", sidecar=False)
    assert md5_only.checksum is None


def test_a_sidecar_may_hold_a_lone_digest_or_another_name() -> None:
    assert find(f"{H}\n", "tool", sidecar=True).checksum == Checksum(H)
    assert find(f"{H}  build/tool-1.0\n", "tool", sidecar=True).checksum == Checksum(H)
    assert find(f"{H}\n", "tool", sidecar=False).checksum is None


def test_no_line_and_not_a_checksum_file() -> None:
    assert find(f"{H}  other\n", "tool", sidecar=False) == (None, True, ())
    assert find("<html>not found</html>", "tool", sidecar=False) == (None, False, ())


def test_every_line_for_the_asset_must_agree() -> None:
    """#20.7: as `sha256sum -c` checks every line, two values for one asset are a conflict;
    a line naming the asset exactly outranks one naming it by its last path component."""
    other = "b" * 64
    both = find(f"{H}  tool\n{other}  tool\n", "tool", sidecar=False)
    assert both.checksum is None and both.conflict == (Checksum(H), Checksum(other))
    assert find(f"{H}  tool\n{H.upper()} *tool\n", "tool", sidecar=False).checksum == Checksum(H)
    assert find(f"{other}  dist/tool\n{H}  tool\n", "tool", sidecar=False).checksum == Checksum(H)
    paths = find(f"{H}  a/tool\n{other}  b/tool\n", "tool", sidecar=False)
    assert paths.conflict == (Checksum(H), Checksum(other))
    mixed = find(f"{H}  tool\nSHA512 (tool) = {'c' * 128}\n", "tool", sidecar=False)
    assert mixed.checksum == Checksum(H) and not mixed.conflict


def test_auto_candidates_in_the_contract_order() -> None:
    names = [
        "sha256sums.txt", "SHA256SUMS", "checksums.sha256", "b_checksums.txt", "a_checksums.txt",
        "checksums.txt", "tool.sha256sum", "tool.sha256", "tool", "other.sha256",
    ]  # fmt: skip
    assert candidates("tool", names) == [
        "tool.sha256", "tool.sha256sum", "checksums.txt", "a_checksums.txt", "b_checksums.txt",
        "checksums.sha256", "SHA256SUMS", "sha256sums.txt",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("pattern", "member", "hit"),
    [
        ("yq_linux_amd64", "yq_linux_amd64", True),
        ("bin/*", "bin/tool", True),
        ("*", "bin/tool", False),  # globs do not cross /
        ("*/tool", "a/b/tool", False),
        ("tool-?", "tool-1", True),
        ("doc/*.1", "doc/tool.1", True),
    ],
)
def test_files_patterns(pattern: str, member: str, hit: bool) -> None:
    assert matches(pattern, member) is hit
