"""buildpack.toml's version is the one source: the package, the changelog and pip agree."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import toml

import github_assets

ROOT = Path(__file__).resolve().parents[2]


def test_buildpack_toml_changelog_pyproject_and_package_names_agree(tmp_path: Path) -> None:
    version = toml.loads((ROOT / "buildpack.toml").read_text())["buildpack"]["version"]
    assert github_assets.__version__ == version
    assert toml.loads((ROOT / "pyproject.toml").read_text())["project"]["version"] == version
    changelog = (ROOT / "CHANGELOG.md").read_text()
    first = re.search(r"^## \[([^\]]+)\] - \d{4}-\d{2}-\d{2}$", changelog, re.M)
    assert first is not None and first.group(1) == version
    assert f"[{version}]: " in changelog
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import package
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    assert package.build(tmp_path).name == f"github-assets-{version}.tgz"
