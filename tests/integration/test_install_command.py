"""`github-assets install --dest DIR` as a subprocess against the loopback stand-in: every
entry at its destination path, verified, unpacked and ELF-checked as the build does, and
a failure (a bad asset, something in the way, an OS error while moving in) leaves DIR as
it was."""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from tools.github_standin import API, STORAGE, WEB, StandIn

from support import EM_AARCH64, ROOT, elf_bytes, tar_gz, tree

AMD = elf_bytes(size=30_000)
AMD2 = elf_bytes(size=31_000)
ARM = elf_bytes(EM_AARCH64, size=30_000)
TOOL = elf_bytes(size=20_000)
TOOLS = tar_gz({"tools-2/bin/tool": TOOL, "tools-2/README": b"read me\n"})

CONFIG = """
[[metadata.githubassets]]
repo = "acme/probe"
asset = "probe-{os}-{arch}"
tag = "v1"

[[metadata.githubassets]]
repo = "acme/tools"
asset = "tools.tar.gz"
tag = "v2"
strip_components = 1
destination = "opt/tools"
"""


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def publish(s: StandIn) -> None:
    s.add_release("acme/probe", "v1", {"probe-linux-amd64": AMD, "probe-linux-arm64": ARM})
    s.add_release("acme/tools", "v2", {"tools.tar.gz": TOOLS})


def install(s: StandIn, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")},
        "GITHUB_API_URL": s.api_url,
        "PYTHONPATH": str(ROOT / "src"),
        "BP_GITHUB_ASSETS_BACKOFF": "0.01",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "github_assets", "install", *args],
        cwd=cwd, env=full, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(config file outside the cwd, the cwd, the --dest dir, not made yet)."""
    conf = tmp_path / "conf" / "assets.toml"
    conf.parent.mkdir()
    conf.write_text(CONFIG)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    return conf, cwd, tmp_path / "out" / "root"


def failed(r: subprocess.CompletedProcess[str]) -> str:
    """The one-line error of a failed run."""
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    first = r.stderr.splitlines()[0]
    assert first.startswith("error: "), r.stderr
    return first


def test_every_entry_lands_at_its_destination_path_verified_and_checked(
    standin: StandIn, dirs: tuple[Path, Path, Path]
) -> None:
    conf, cwd, dest = dirs
    publish(standin)
    r = install(standin, cwd, "--config", str(conf), "--target", "linux/amd64", "--dest", str(dest))
    assert r.returncode == 0, r.stdout + r.stderr
    probe = dest / "bin" / "probe"
    assert probe.read_bytes() == AMD and probe.stat().st_mode & 0o777 == 0o755
    assert (dest / "opt/tools/bin/tool").read_bytes() == TOOL
    assert (dest / "opt/tools/README").read_bytes() == b"read me\n"
    assert f"Verified sha256:{sha(AMD)} (GitHub digest, " in r.stdout
    assert f"Verified sha256:{sha(TOOLS)} (GitHub digest, " in r.stdout
    assert f"ELF amd64 static: {probe}\n" in r.stdout
    assert f"Installed {probe}\n" in r.stdout
    assert f"Installed {dest}/opt/tools/bin/tool\n" in r.stdout
    assert r.stdout.rstrip().endswith(f"Installed 3 files into {dest}")
    assert sorted(os.listdir(dest)) == ["bin", "opt"]  # no work dir left, no CNB file


def test_the_elf_check_refuses_a_binary_of_another_arch_and_dest_is_not_made(
    standin: StandIn, dirs: tuple[Path, Path, Path]
) -> None:
    conf, cwd, dest = dirs
    standin.add_release("acme/probe", "v1", {"probe-linux-amd64": AMD, "probe-linux-arm64": AMD})
    conf.write_text(CONFIG.split("\n\n[[")[0])  # the probe only (the tools are amd64 too)
    r = install(standin, cwd, "--config", str(conf), "--target", "linux/arm64", "--dest", str(dest))
    line = failed(r)
    assert f"{conf}: [[metadata.githubassets]] #1 (repo acme/probe): " in line, line
    assert "bin/probe is built for amd64 (EM_X86_64) but the build targets arm64" in line
    assert not dest.exists() and not dest.parent.exists()


def test_a_failure_leaves_dest_as_it_was(standin: StandIn, dirs: tuple[Path, Path, Path]) -> None:
    conf, cwd, dest = dirs
    publish(standin)
    (dest / "bin").mkdir(parents=True)
    (dest / "bin" / "probe").write_bytes(b"the old probe")
    (dest / "notes.txt").write_text("mine\n")
    before = tree(dest)
    # The first entry verifies; the second's pin does not: nothing of either is installed.
    conf.write_text(CONFIG + f'sha256 = "{sha(b"other bytes")}"\n')
    line = failed(install(standin, cwd, "--config", str(conf), "--dest", str(dest)))
    assert "checksum mismatch for tools.tar.gz" in line and "acme/tools" in line, line
    assert tree(dest) == before


def test_a_rerun_replaces_files_and_a_directory_in_the_way_is_refused(
    standin: StandIn, dirs: tuple[Path, Path, Path]
) -> None:
    conf, cwd, dest = dirs
    publish(standin)
    assert install(standin, cwd, "--config", str(conf), "--dest", str(dest)).returncode == 0
    standin.add_release("acme/probe", "v3", {"probe-linux-amd64": AMD2})
    conf.write_text(CONFIG.replace('tag = "v1"', 'tag = "v3"'))
    r = install(standin, cwd, "--config", str(conf), "--dest", str(dest))
    assert r.returncode == 0, r.stderr
    assert (dest / "bin" / "probe").read_bytes() == AMD2  # an upgrade in place
    (dest / "opt/tools/README").unlink()
    (dest / "opt/tools/README").mkdir()
    before = tree(dest)
    line = failed(install(standin, cwd, "--config", str(conf), "--dest", str(dest)))
    assert f"{dest}/opt/tools/README is a directory, where a file must go" in line, line
    assert tree(dest) == before


def test_with_a_lock_install_makes_no_api_request(
    standin: StandIn, dirs: tuple[Path, Path, Path]
) -> None:
    conf, cwd, dest = dirs
    publish(standin)
    locked = subprocess.run(
        [sys.executable, "-m", "github_assets", "lock", "--config", str(conf)],
        cwd=cwd, capture_output=True, text=True, timeout=120,
        env={**os.environ, "GITHUB_API_URL": standin.api_url, "PYTHONPATH": str(ROOT / "src")},
    )  # fmt: skip
    assert locked.returncode == 0, locked.stderr
    assert (conf.parent / "github-assets.lock").is_file()
    standin.requests.clear()
    r = install(standin, cwd, "--config", str(conf), "--dest", str(dest),
                GITHUB_SERVER_URL=standin.web_url)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Using ../conf/github-assets.lock (4 assets)" in r.stdout
    assert f" from {standin.web_url} (direct)" in r.stdout and "(lock, " in r.stdout
    assert standin.api_requests() == []
    assert (dest / "bin" / "probe").read_bytes() == AMD


def test_usage_and_bad_dest(standin: StandIn, dirs: tuple[Path, Path, Path]) -> None:
    conf, cwd, dest = dirs
    publish(standin)
    assert install(standin, cwd, "--config", str(conf)).returncode == 2  # --dest is required
    usage = install(standin, cwd, "--target", "linux", "--dest", str(dest))
    assert (
        usage.returncode == 2 and "must be os/arch (e.g. linux/arm64), got 'linux'" in usage.stderr
    )
    dest.parent.mkdir()
    dest.write_text("a file")
    line = failed(install(standin, cwd, "--config", str(conf), "--dest", str(dest)))
    assert line == f"error: --dest {dest} is not a directory; name a directory"
    missing = failed(install(standin, cwd, "--config", str(cwd / "nope.toml"), "--dest", "d"))
    assert "nope.toml is not a file" in missing and "GITHUB_ASSETS_PATH" not in missing


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
@pytest.mark.parametrize("calls", ["rename,renameat,renameat2", "mkdir,mkdirat"])
def test_an_os_error_while_moving_in_puts_dest_back(
    standin: StandIn, dirs: tuple[Path, Path, Path], calls: str
) -> None:
    """Every rename (mkdir) of the run fails in turn (strace injects EIO): exit 0 with
    everything installed, or 1 with one line and DIR exactly as it was."""
    conf, cwd, dest = dirs
    publish(standin)
    (dest / "bin").mkdir(parents=True)
    (dest / "bin" / "probe").write_bytes(b"the old probe")
    before = tree(dest)
    base = [sys.executable, "-m", "github_assets", "install", "--config", str(conf),
            "--target", "linux/amd64", "--dest", str(dest)]  # fmt: skip
    env = {**os.environ, "GITHUB_API_URL": standin.api_url, "PYTHONPATH": str(ROOT / "src"),
           "BP_GITHUB_ASSETS_PARALLEL": "1"}  # fmt: skip
    outcomes = set()
    for index in range(1, 40):
        r = subprocess.run(
            ["strace", "-f", "-qq", "-o", "/dev/null",
             "-e", f"inject={calls}:error=EIO:when={index}", *base],
            cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if r.returncode == 0:
            assert (dest / "bin" / "probe").read_bytes() == AMD, index
            outcomes.add("ok")
            break  # past the last such call: nothing was injected
        line = failed(r)
        assert re.search(r"(?i)input/output error", line), (index, line)
        assert tree(dest) == before, index
        outcomes.add("moving in" if "failed to move the installed files into" in line else "failed")
    assert outcomes == {"ok", "failed", "moving in"}


def test_symlinks_of_an_archive_move_in_as_symlinks(
    standin: StandIn, dirs: tuple[Path, Path, Path]
) -> None:
    conf, cwd, dest = dirs
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in (("kit/lib/tool", TOOL), ("kit/lib/README", b"r\n")):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tf.addfile(info, io.BytesIO(data))
        for name, target in (("kit/current", "lib"), ("kit/tool", "lib/tool")):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tf.addfile(info)
    standin.add_release("acme/kit", "v1", {"kit.tar.gz": buf.getvalue()})
    conf.write_text(
        '[[metadata.githubassets]]\nrepo = "acme/kit"\nasset = "kit.tar.gz"\ntag = "v1"\n'
        'strip_components = 1\ndestination = "opt/kit"\n'
    )
    r = install(standin, cwd, "--config", str(conf), "--dest", str(dest))
    assert r.returncode == 0, r.stdout + r.stderr
    kit = dest / "opt" / "kit"
    assert os.readlink(kit / "current") == "lib" and os.readlink(kit / "tool") == "lib/tool"
    assert (kit / "current" / "tool").read_bytes() == TOOL
    assert sorted(os.listdir(kit)) == ["current", "lib", "tool"]


def test_from_an_unpacked_offline_buildpack_with_every_host_down(
    standin: StandIn, dirs: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """Run from an unpacked buildpack, install takes the locked assets from its offline
    package, as a build does."""
    conf, cwd, dest = dirs
    conf.write_text(CONFIG.split("\n\n[[")[0])  # the probe
    publish(standin)
    locked = subprocess.run(
        [sys.executable, "-m", "github_assets", "lock", "--config", str(conf)],
        cwd=cwd, capture_output=True, text=True, timeout=120,
        env={**os.environ, "GITHUB_API_URL": standin.api_url, "PYTHONPATH": str(ROOT / "src")},
    )  # fmt: skip
    assert locked.returncode == 0, locked.stderr
    bp = tmp_path / "buildpack"
    shutil.copytree(ROOT / "src", bp / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "buildpack.toml", bp / "buildpack.toml")
    (bp / "vendor").symlink_to(ROOT / "vendor")
    (bp / "dependencies" / sha(AMD)).mkdir(parents=True)
    (bp / "dependencies" / sha(AMD) / "probe-linux-amd64").write_bytes(AMD)
    standin.down = {API, STORAGE, WEB}
    standin.requests.clear()
    r = install(standin, cwd, "--config", str(conf), "--target", "linux/amd64",
                "--dest", str(dest), PYTHONPATH=str(bp / "src"))  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Downloading probe-linux-amd64 (29.3 KiB) from the offline package" in r.stdout
    assert (dest / "bin" / "probe").read_bytes() == AMD
    assert standin.requests == []
