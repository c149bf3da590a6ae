"""#20.5, #20.6: the lock file and its command, as a user meets them. bin/build, the
github-assets command and scripts/package.py (what `make package LOCK=` runs) as
subprocesses against the loopback stand-in."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tools.github_standin import StandIn

from support import ROOT, CnbDirs, Phase, elf_bytes, write_plan

REPO = "acme/probe"
AMD = elf_bytes(size=20_000)
ARM = elf_bytes(183, size=20_000)
SHA_AMD = hashlib.sha256(AMD).hexdigest()
SHA_ARM = hashlib.sha256(ARM).hexdigest()
LOCK = "github-assets.lock"
CONFIG = f"""
[[metadata.githubassets]]
repo = "{REPO}"
asset = "probe-{{os}}-{{arch}}"
tag = "v1"
"""


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as s:
        s.add_release(REPO, "v1", {"probe-linux-amd64": AMD, "probe-linux-arm64": ARM})
        yield s


@pytest.fixture
def cnb(tmp_path: Path) -> CnbDirs:
    c = CnbDirs(tmp_path / "b")
    c.project(CONFIG)
    return c


def command(s: StandIn, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "GITHUB_API_URL": s.api_url, "PYTHONPATH": str(ROOT / "src"), **env}
    full.pop("GITHUB_ASSETS_PATH", None)
    return subprocess.run(
        [sys.executable, "-m", "github_assets", *args],
        cwd=cwd, env=full, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def build(s: StandIn, cnb: CnbDirs) -> Phase:
    write_plan(cnb)
    return cnb.build({"GITHUB_API_URL": s.api_url, "BP_GITHUB_ASSETS_BACKOFF": "0.01"})


def package(s: StandIn, lock: Path, dist: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "package.py"), str(dist), "--lock", str(lock)],
        env={**os.environ, "GITHUB_API_URL": s.api_url},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def locked(s: StandIn, cnb: CnbDirs) -> str:
    made = command(s, cnb.app, "lock")
    assert made.returncode == 0, made.stderr
    return (cnb.app / LOCK).read_text()


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    first = stderr.splitlines()[0]
    assert first.startswith("error: "), stderr
    return first


# -- a malformed lock: one line naming the file and the key, wherever it is read ----------

MALFORMED = {
    "assets = 5": ("assets = 5", "github-assets.lock: 'assets' must be an array of tables"),
    "size = inf": ("size = inf", "[[assets]] #1: 'size' must be an integer, got a float"),
    "size as text": ('size = "20000"', "[[assets]] #1: 'size' must be an integer, got a string"),
    "sha256 as number": ("sha256 = 5", "[[assets]] #1: 'sha256' must be a string, got an integer"),
    "sha512 in sha256": (f'sha256 = "{"ab" * 64}"', "[[assets]] #1: 'sha256' is not a sha256"),
    "no name": ("", "[[assets]] #1 has no 'name'"),
    "target without arch": ('target = "linux"', "[[assets]] #1: 'target' must be os/arch"),
    "version 2": (
        "version = 2",
        "has version 2; this buildpack reads version 1",
    ),
    "version as text": ('version = "1"', "github-assets.lock has version '1'"),
    "authority": ('authority = "me"', "[[assets]] #1: 'authority' must be one of digest"),
    # The name reaches the log, URLs and an asset chosen by selection's installed name.
    "name with a path": (
        'name = "sub/probe-linux-amd64"',
        "[[assets]] #1: 'name' is not a release asset's file name, got 'sub/probe-linux-amd64'",
    ),
    "name ..": ('name = ".."', "[[assets]] #1: 'name' is not a release asset's file name"),
    "name with a newline": (
        'name = "probe\\nInstalled /etc/passwd"',
        "[[assets]] #1: 'name' is not a release asset's file name, got 'probe\\nInstalled",
    ),
    "empty resolved_tag": ('resolved_tag = ""', "[[assets]] #1: 'resolved_tag' is not a tag"),
    "resolved_tag with a control character": (
        'resolved_tag = "v1\\u001b[2J"',
        "[[assets]] #1: 'resolved_tag' is not a tag, got 'v1\\x1b[2J'",
    ),
}


def break_lock(text: str, change: str) -> str:
    """The lock with its first entry's (or the top-level) key replaced by change."""
    lines = text.splitlines()
    key = change.split(" = ")[0] if change else "name"
    if key == "assets":
        return f"version = 1\n{change}\n"
    if key == "version":
        lines = [line for line in lines if not line.startswith(f"{key} =")]
        return "\n".join([change, *lines]) + "\n"
    first = lines.index("[[assets]]")
    at = next(i for i in range(first, len(lines)) if lines[i].startswith(f"{key} = "))
    lines[at] = change
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_lock_is_one_line_naming_the_file_and_the_key(
    standin: StandIn, cnb: CnbDirs, tmp_path: Path, case: str
) -> None:
    change, said = MALFORMED[case]
    lock = cnb.app / LOCK
    lock.write_text(break_lock(locked(standin, cnb), change))
    r = build(standin, cnb)
    assert r.rc == 1
    assert said in one_line(r.err) and LOCK in one_line(r.err)
    check = command(standin, cnb.app, "lock", "--check")
    assert check.returncode == 1 and said in one_line(check.stderr)
    p = package(standin, lock, tmp_path / "dist")
    assert p.returncode == 1 and said in one_line(p.stderr)


def test_lock_replaces_a_broken_lock_and_says_so(standin: StandIn, cnb: CnbDirs) -> None:
    (cnb.app / LOCK).write_text("version = 1\nassets = 5\n")
    made = command(standin, cnb.app, "lock")
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith(
        "replacing github-assets.lock: github-assets.lock: 'assets' must be an array of tables"
    )
    assert "wrote github-assets.lock (2 assets)" in made.stdout
    assert command(standin, cnb.app, "lock", "--check").returncode == 0
    (cnb.app / LOCK).write_text("version = [\n")
    again = command(standin, cnb.app, "lock")
    assert again.returncode == 0 and again.stdout.startswith("replacing github-assets.lock")


# -- staleness -------------------------------------------------------------------------


def test_check_says_stale_after_a_sha256_pin_changed(standin: StandIn, cnb: CnbDirs) -> None:
    cnb.project(CONFIG + f'sha256 = {{ amd64 = "{SHA_AMD}", arm64 = "{SHA_ARM}" }}\n')
    locked(standin, cnb)
    assert command(standin, cnb.app, "lock", "--check").returncode == 0
    cnb.project(CONFIG + f'sha256 = {{ amd64 = "{"0" * 64}", arm64 = "{SHA_ARM}" }}\n')
    check = command(standin, cnb.app, "lock", "--check")
    assert check.returncode == 1
    assert (
        f"github-assets.lock locks sha256:{SHA_AMD} for {REPO} probe-linux-amd64 on "
        f"linux/amd64, but the config pins sha256:{'0' * 64}; re-run github-assets lock"
    ) in check.stdout


def test_lock_for_one_target_keeps_the_others_and_check_for_it_is_not_stale(
    standin: StandIn, cnb: CnbDirs
) -> None:
    text = locked(standin, cnb)
    assert 'target = "linux/arm64"' in text
    one = command(standin, cnb.app, "lock", "--target", "linux/amd64")
    assert one.returncode == 0, one.stderr
    assert "removed" not in one.stdout and "wrote github-assets.lock (2 assets)" in one.stdout
    assert (cnb.app / LOCK).read_text() == text
    check = command(standin, cnb.app, "lock", "--check", "--target", "linux/amd64")
    assert check.returncode == 0, check.stdout
    assert "up to date (1 assets)" in check.stdout


# -- one parser of checksum values ----------------------------------------------------------


@pytest.mark.parametrize("spelling", ["upper", "prefixed"])
def test_a_lock_sha256_in_upper_case_or_prefixed_compares_equal(
    standin: StandIn, cnb: CnbDirs, spelling: str
) -> None:
    text = locked(standin, cnb)
    other = SHA_AMD.upper() if spelling == "upper" else f"sha256:{SHA_AMD}"
    (cnb.app / LOCK).write_text(text.replace(f'"{SHA_AMD}"', f'"{other}"'))
    r = build(standin, cnb)
    assert r.rc == 0, r.all
    assert f"Verified sha256:{SHA_AMD} (lock" in r.out
    cnb.project(CONFIG + f'sha256 = {{ amd64 = "{SHA_AMD}", arm64 = "{SHA_ARM}" }}\n')
    assert command(standin, cnb.app, "lock", "--check").returncode == 0


# -- where the lock and the config are read from ------------------------------------------


def test_a_lock_symlinked_out_of_the_app_dir_is_an_error_naming_it(
    standin: StandIn, cnb: CnbDirs
) -> None:
    outside = cnb.base / "elsewhere.lock"
    outside.write_text(locked(standin, cnb))
    (cnb.app / LOCK).unlink()
    (cnb.app / LOCK).symlink_to(outside)
    r = build(standin, cnb)
    assert r.rc == 1
    assert one_line(r.err).startswith(
        "error: github-assets.lock is a symlink that leads outside the app dir"
    )
    check = command(standin, cnb.app, "lock", "--check")
    assert check.returncode == 1 and "leads outside the app dir" in one_line(check.stderr)


def test_config_takes_any_path(standin: StandIn, cnb: CnbDirs, tmp_path: Path) -> None:
    elsewhere = tmp_path / "ci" / "assets.toml"
    elsewhere.parent.mkdir()
    elsewhere.write_text(CONFIG)
    made = command(standin, cnb.app, "lock", "--config", str(elsewhere))
    assert made.returncode == 0, made.stderr
    assert (elsewhere.parent / LOCK).is_file()
    check = command(standin, cnb.app, "check", "--config", "../../ci/assets.toml")
    assert check.returncode == 0, check.stderr
    missing = command(standin, cnb.app, "check", "--config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 1
    first = one_line(missing.stderr)
    assert "--config" in first and "GITHUB_ASSETS_PATH" not in first


def test_a_malformed_target_is_a_usage_error(standin: StandIn, cnb: CnbDirs) -> None:
    p = command(standin, cnb.app, "lock", "--target", "linux")
    assert p.returncode == 2
    assert "--target: must be os/arch (e.g. linux/arm64), got 'linux'" in p.stderr
    assert not (cnb.app / LOCK).exists()
