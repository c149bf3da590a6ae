"""The pip-installed `github-assets` parses TOML exactly as detect does, on Python 3.10 too.

On 3.10 the parser is tomli (3.11+ has tomllib); tomli 2.4+ accepts TOML 1.1 (a newline
inside an inline table), which detect's vendored tomli 2.3 and tomllib refuse. pyproject
pins the vendored version, so `pip install .` into a fresh venv gives the same parser:
the same file is refused by both, with the same message.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT, CnbDirs

PY310 = Path.home() / ".pyenv" / "versions" / "3.10.13" / "bin" / "python3"

# TOML 1.1 only: newlines (and a trailing comma) inside an inline table.
TOML_11 = """[[metadata.githubassets]]
repo = "hadolint/hadolint"
tag = "v2.12.0"
replacements = {
  amd64 = "x86_64",
}
"""


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not PY310.exists():
        pytest.skip(f"no Python 3.10 at {PY310} (pyenv)")
    where = tmp_path_factory.mktemp("venv310")
    subprocess.run([str(PY310), "-m", "venv", str(where)], check=True, timeout=120)
    pip = subprocess.run(
        [str(where / "bin" / "pip"), "install", "--quiet", "--no-cache-dir", str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stderr[-2000:]
    return where


def test_a_toml_11_file_is_refused_by_the_command_and_by_detect(venv: Path, cnb: CnbDirs) -> None:
    cnb.project(TOML_11)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = subprocess.run(
        [str(venv / "bin" / "github-assets"), "check", "--config", "project.toml"],
        cwd=cnb.app, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert command.returncode == 1, command.stdout + command.stderr
    detect = cnb.detect({"PATH": f"{PY310.parent}:{os.environ['PATH']}"})
    assert detect.rc != 0
    first = command.stderr.splitlines()[0]
    assert first.startswith("error: failed to parse project.toml: Invalid initial character")
    assert "Traceback" not in command.stderr
    assert first in detect.err, (first, detect.err)
    tomli = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import tomli, sys; print(tomli.__file__)"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "site-packages" in tomli.stdout


def test_the_same_file_in_toml_10_passes(venv: Path, cnb: CnbDirs) -> None:
    cnb.project(TOML_11.replace('{\n  amd64 = "x86_64",\n}', '{ amd64 = "x86_64" }'))
    r = subprocess.run(
        [str(venv / "bin" / "github-assets"), "check", "--config", "project.toml"],
        cwd=cnb.app, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert sys.version_info >= (3, 10)
