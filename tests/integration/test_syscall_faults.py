"""bin/build under syscall fault injection: every way the OS can refuse a write.

strace injects an errno into the Nth call of one syscall (strace counts per thread, so
every thread's Nth call fails) during a cold build of a raw asset with `process` and
`link` plus a tar.gz, against the loopback stand-in. A discovery run lists, per syscall,
the call indices that touch the build's own dirs (the layers and app dirs); injections
that only hit the interpreter's start-up, an import or stdout are skipped, as strace's
`(INJECTED)` lines tell. For every other run: exit 0 or 1, no traceback, a one-line first
error, no layer dir without its toml or the reverse, no half-written launch.toml, no
temp file left, and the next clean build succeeds.

The rarer calls (mkdir, rename, symlink, unlink, chmod, ...) are swept at every index;
write and openat at the first and last index of each part of the build (work dir, layer
files, app dir) plus a seeded random sample. `-m slow` (make sweep) runs every index of
every syscall with every errno.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import toml
from tools.github_standin import StandIn

from support import ROOT, CnbDirs, elf_bytes, tar_gz, write_plan

ERRNOS = ("ENOSPC", "EACCES", "EROFS", "EIO", "ENAMETOOLONG", "ENOTDIR")
RARE = ("mkdir", "rename", "symlink", "unlink", "unlinkat", "chmod", "fchmod", "rmdir",
        "ftruncate", "fsync")  # fmt: skip
BULK = ("write", "openat")
LAYERS = ("acme_probe", "acme_tools")
PROJECT = """
[[metadata.githubassets]]
repo = "acme/probe"
asset = "probe-{os}-{arch}"
tag = "v1"
process = "health"
link = "bin/probe"

[[metadata.githubassets]]
repo = "acme/tools"
asset = "tools.tar.gz"
tag = "v2"
strip_components = 1
"""
_LINE = re.compile(r"^(\d+)\s+(\w+)\((.*)$")


class Call(NamedTuple):
    tid: int
    index: int  # 1-based, per thread and syscall: what strace's when=N counts
    syscall: str
    args: str


@pytest.fixture(scope="module")
def world() -> Iterator[StandIn]:
    with StandIn() as s:
        s.add_release("acme/probe", "v1", {"probe-linux-amd64": elf_bytes(size=300_000)})
        members = {"tools-2/bin/tool": elf_bytes(size=200_000), "tools-2/README": b"read me\n"}
        s.add_release("acme/tools", "v2", {"tools.tar.gz": tar_gz(members)})
        yield s


def fresh(base: Path) -> CnbDirs:
    shutil.rmtree(base, ignore_errors=True)
    cnb = CnbDirs(base)
    cnb.project(PROJECT)
    write_plan(cnb)
    return cnb


def strace_build(
    s: StandIn, cnb: CnbDirs, syscalls: str, inject: str | None
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """bin/build's own command line (what the shim runs) under strace; its trace lines."""
    # One asset at a time: strace counts calls per thread, and log lines written from
    # whichever thread would make the Nth write of a run another call than the discovery's.
    env = cnb.env({"GITHUB_API_URL": s.api_url, "BP_GITHUB_ASSETS_BACKOFF": "0.01",
                   "BP_GITHUB_ASSETS_PARALLEL": "1", "CNB_LAYERS_DIR": str(cnb.layers),
                   "CNB_BP_PLAN_PATH": str(cnb.bp_plan_path)})  # fmt: skip
    trace = cnb.base.parent / f"{cnb.base.name}.trace"
    cmd = ["strace", "-f", "-qq", "-y", "-o", str(trace), "-e", f"trace={syscalls}"]
    if inject:
        cmd += ["-e", f"inject={inject}"]
    cmd += [sys.executable, "-E", "-s", "-S", str(ROOT / "src" / "boot.py"), "build",
            str(cnb.layers), str(cnb.platform), str(cnb.bp_plan_path)]  # fmt: skip
    p = subprocess.run(cmd, cwd=cnb.app, env=env, capture_output=True, text=True, timeout=120)
    lines = trace.read_text().splitlines()
    trace.unlink()
    return p, lines


def ours(call: str, base: Path) -> bool:
    """Whether a call touches the build's own dirs: a path under base (an fd's, as -y shows
    it, or a path argument), or a path argument relative to the app dir (the cwd)."""
    call = re.sub(r"AT_FDCWD<[^>]*>", "AT_FDCWD", call)
    if any(path.startswith(str(base)) for path in re.findall(r"<(/[^>]*)>", call)):
        return True
    if re.match(r"^(\d+\s+)?(write|pwrite64|writev|fchmod|ftruncate|fsync)\(", call):
        return False  # their strings are data, not paths
    return any(
        q.startswith(str(base)) or (q and not q.startswith("/"))
        for q in re.findall(r'"([^"]*)"', call)
    )


def discover(s: StandIn, base: Path, syscall: str) -> list[Call]:
    cnb = fresh(base)
    p, lines = strace_build(s, cnb, syscall, None)
    assert p.returncode == 0, p.stderr
    counts: dict[int, int] = defaultdict(int)
    calls = []
    for line in lines:
        m = _LINE.match(line)
        if m and m.group(2) == syscall:
            tid = int(m.group(1))
            counts[tid] += 1
            calls.append(Call(tid, counts[tid], syscall, m.group(3)))
    return [c for c in calls if ours(f"{c.syscall}({c.args}", base)]


def part(call: Call) -> str:
    """Which part of the build a call belongs to, for picking first/last indices."""
    if ".github-assets-work-" in call.args or ".github-assets-new-" in call.args:
        return "work dir"
    if "/workspace" in call.args and "/layers/" not in call.args:
        return "app dir"
    return "layer files"


def indices(calls: list[Call], syscall: str, full: bool) -> list[int]:
    every = sorted({c.index for c in calls})
    if full or syscall in RARE:
        return every
    chosen: set[int] = set()
    by_part: dict[str, list[int]] = defaultdict(list)
    for c in calls:
        by_part[part(c)].append(c.index)
    for found in by_part.values():
        chosen |= {min(found), max(found)}
    rest = sorted(set(every) - chosen)
    chosen |= set(random.Random(f"{syscall}-2026").sample(rest, min(4, len(rest))))
    return sorted(chosen)


def check_after(cnb: CnbDirs, p: subprocess.CompletedProcess[str], case: str) -> list[str]:
    """What is wrong with the state a faulted build left (empty: all fine)."""
    bad = []
    if p.returncode not in (0, 1):
        bad.append(f"exit {p.returncode}")
    if "Traceback" in p.stderr:
        bad.append("traceback: " + p.stderr.strip().splitlines()[-1])
    if p.returncode == 1:
        first = p.stderr.splitlines()[0] if p.stderr else ""
        if not first.startswith("error: ") or "\\n" in first:
            bad.append(f"first line {first!r}")
        elif not any(w in first for w in ("[[metadata.githubassets]]", "layer", "launch", "plan")):
            bad.append(f"first line names no asset, layer or CNB file: {first!r}")
    for layer in LAYERS:
        has_dir = (cnb.layers / layer).is_dir()
        has_toml = (cnb.layers / f"{layer}.toml").exists()
        if has_dir != has_toml:
            bad.append(f"layer {layer}: dir {has_dir}, toml {has_toml}")
    launch = cnb.layers / "launch.toml"
    if launch.exists():
        try:
            toml.loads(launch.read_text())
        except (toml.TomlDecodeError, OSError) as e:
            bad.append(f"launch.toml unreadable: {e}")
    leftovers = [p.name for p in cnb.layers.iterdir() if p.name.endswith(".tmp")]
    if leftovers:
        bad.append(f"temp files left: {leftovers}")
    return [f"{case}: {b}" for b in bad]


def sweep(s: StandIn, base: Path, syscall: str, errnos: tuple[str, ...], full: bool) -> None:
    calls = discover(s, base, syscall)
    assert calls, f"the build makes no {syscall} call in its own dirs: the sweep tests nothing"
    failures: list[str] = []
    ran = 0
    for n, index in enumerate(indices(calls, syscall, full)):
        for errno in errnos if full else (errnos[n % len(errnos)],):
            cnb = fresh(base)
            inject = f"{syscall}:error={errno}:when={index}"
            p, lines = strace_build(s, cnb, syscall, inject)
            injected = [line for line in lines if line.endswith("(INJECTED)")]
            if not any(ours(line, base) for line in injected):
                continue  # start-up, an import, stdout: not the build's own work
            ran += 1
            failures += check_after(cnb, p, inject)
            clean = cnb.build({"GITHUB_API_URL": s.api_url})
            if clean.rc != 0:
                failures.append(f"{inject}: the next clean build failed: {clean.err.strip()}")
    assert ran, f"no injection into {syscall} landed in the build's own work"
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("syscall", RARE[:7] + BULK)
def test_faults_in_writes_are_one_line_and_leave_nothing_half_written(
    world: StandIn, tmp_path: Path, syscall: str
) -> None:
    if syscall in ("unlinkat", "rmdir") and not discover(world, tmp_path / "b", syscall):
        pytest.skip(f"this Python's cold build makes no {syscall} call in its own dirs")
    sweep(world, tmp_path / "b", syscall, ERRNOS, full=False)


@pytest.mark.slow
@pytest.mark.parametrize("syscall", RARE + BULK)
def test_full_sweep(world: StandIn, tmp_path: Path, syscall: str) -> None:
    if not discover(world, tmp_path / "b", syscall):
        pytest.skip(f"the cold build makes no {syscall} call in its own dirs")
    sweep(world, tmp_path / "b", syscall, ERRNOS, full=True)


def test_disk_full_while_unpacking_names_the_asset_and_the_remedy(tmp_path: Path) -> None:
    """#12: ENOSPC on a tar.gz member's write is a disk error, not a damaged archive."""
    with StandIn() as s:
        s.add_release("acme/probe", "v1", {"probe-linux-amd64": elf_bytes()})
        # 48 MiB of member (a few KiB compressed): the unpack thread writes it in many calls,
        # more than any other thread makes, so its Nth write can fail alone.
        big = {"tools-2/bin/tool": elf_bytes() + bytes(48 << 20)}
        s.add_release("acme/tools", "v2", {"tools.tar.gz": tar_gz(big)})
        base = tmp_path / "b"
        cnb = fresh(base)
        p, lines = strace_build(s, cnb, "write", None)
        assert p.returncode == 0, p.stderr
        per_thread: dict[int, int] = defaultdict(int)
        member: dict[int, list[int]] = defaultdict(list)
        for line in lines:
            m = _LINE.match(line)
            if m and m.group(2) == "write":
                tid = int(m.group(1))
                per_thread[tid] += 1
                if "/unpack/bin/tool>" in line:
                    member[tid].append(per_thread[tid])
        [(unpacker, writes)] = member.items()
        others = max(n for tid, n in per_thread.items() if tid != unpacker)
        index = min(i for i in writes if i > others)
        cnb = fresh(base)
        p, lines = strace_build(s, cnb, "write", f"write:error=ENOSPC:when={index}")
    [injected] = [line for line in lines if line.endswith("(INJECTED)")]
    assert "/unpack/bin/tool>" in injected
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    first = p.stderr.splitlines()[0]
    assert first.startswith(
        "error: project.toml: [[metadata.githubassets]] #2 (repo acme/tools): "
        "failed to install tools.tar.gz: No space left on device"
    ), first
    assert first.endswith("free disk space in the build container")
    assert not os.path.exists(cnb.layers / "acme_tools")
    assert check_after(cnb, p, "ENOSPC while unpacking") == []


@pytest.mark.parametrize("errno", ["EACCES", "EROFS"])
@pytest.mark.parametrize("syscall", ["unlink", "rename"])
def test_a_rollback_that_fails_too_leaves_every_layer_whole_or_gone(
    world: StandIn, tmp_path: Path, syscall: str, errno: str
) -> None:
    """#20.8: the build fails after its layers are in (launch.toml cannot be written: a
    directory is in its place), and the rollback's unlink of a layer toml (or its rename of
    a layer dir aside) fails too. Each layer is then whole (dir and toml) or gone (neither);
    the error is the first failure's."""
    base = tmp_path / "b"

    def broken() -> CnbDirs:
        cnb = fresh(base)
        (cnb.layers / "launch.toml").mkdir(parents=True)
        return cnb

    p, lines = strace_build(world, broken(), syscall, None)
    assert p.returncode == 1 and "launch.toml" in p.stderr, p.stderr
    counts: dict[int, int] = defaultdict(int)
    indices = []
    for line in lines:
        m = _LINE.match(line)
        if m and m.group(2) == syscall:
            counts[int(m.group(1))] += 1
            if ours(line, base) and "/layers/" in line:
                indices.append(counts[int(m.group(1))])
    assert indices, f"the build makes no {syscall} call in the layers dir: it tests nothing"
    failures, rollbacks = [], 0
    for index in indices:  # the renames in, the tomls written, then the rollback's
        cnb = broken()
        p, lines = strace_build(world, cnb, syscall, f"{syscall}:error={errno}:when={index}")
        assert any(line.endswith("(INJECTED)") for line in lines)
        assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
        rollbacks += p.stderr.startswith("error: failed to write the build's results")
        case = f"{syscall} #{index}"
        failures += [b for b in check_after(cnb, p, case) if "launch" not in b]
    assert rollbacks, "no injection landed in a rollback"
    assert not failures, "\n".join(failures)
