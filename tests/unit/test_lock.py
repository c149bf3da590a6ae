"""The lock file: written by the one TOML writer, read back to the same entries."""

from __future__ import annotations

from pathlib import Path

import pytest

from github_assets import lock as lockfile
from github_assets.config import parse_entry


def entry(name: str, **picks: object) -> lockfile.Entry:
    table = {"repo": "acme/probe", "asset": name, "tag": "v1", **picks}
    spec = parse_entry(table, "project.toml: [[metadata.githubassets]] #1")
    return lockfile.Entry(
        picks=lockfile.picks(spec),
        target="linux/amd64",
        resolved_tag="v1",
        name=name,
        size=12,
        sha256="ab" * 32,
        authority=lockfile.CHECKSUMS_FILE,
        checksums_file=f"{name}.sha256",
    )


@pytest.mark.parametrize(
    "name",
    [
        "probe-\U0001f600-linux",  # an emoji: outside the BMP (json.dumps wrote a surrogate pair)
        "sonde-d\u00e9j\u00e0-vu",  # accented letters
        "\U0001d11e-clef\u200b",  # a musical symbol and a zero-width space
        'a "quoted" name',
    ],
)
def test_the_lock_round_trips_any_unicode_asset_name(tmp_path: Path, name: str) -> None:
    written = [entry(name, replacements={"b": "2", "a": "1"})]
    path = tmp_path / lockfile.NAME
    path.write_text(lockfile.render(written), encoding="utf-8")
    read = lockfile.read(str(path), lockfile.NAME)
    assert read is not None
    assert list(read.entries) == written


def test_the_text_is_stable_whatever_the_order(tmp_path: Path) -> None:
    a, b = entry("probe-a"), entry("probe-b", replacements={"z": "1", "a": "2"})
    text = lockfile.render([b, a])
    assert text == lockfile.render([a, b])
    assert text.startswith("# github-assets.lock: ")
    assert "version = 1\n\n[[assets]]\nrepo = " in text
    assert '[assets.replacements]\na = "2"\nz = "1"\n' in text
