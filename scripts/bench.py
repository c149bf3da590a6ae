"""Benchmarks on loopback: the buildpack vs what a user would do without it (curl | tar).

Run with `make bench`. Every figure that counts is a ratio of two things
measured in the same run on the same machine, so the numbers travel between
machines better than absolute times. Results go into README.md between the
bench markers (and to stdout).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tools.cnb_dirs import CnbDirs  # noqa: E402
from tools.elf import elf_bytes  # noqa: E402
from tools.example_app import BLOG_PROJECT  # noqa: E402
from tools.github_standin import StandIn  # noqa: E402

MiB = 1024 * 1024
CACHE = Path(
    os.environ.get(
        "GITHUB_ASSETS_BENCH_CACHE", Path.home() / ".cache" / "github-assets-buildpack" / "bench"
    )
)


@dataclass
class Row:
    name: str
    ours: float
    theirs: float | None
    unit: str
    target: str
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.ours / self.theirs if self.theirs else None


def real_python() -> Path:
    """The interpreter behind `python3` (not a pyenv shim script), so both sides start it alike."""
    out = subprocess.run(
        ["python3", "-c", "import sys; print(sys.executable)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


def bench_env() -> dict[str, str]:
    py = real_python()
    return {"PATH": f"{py.parent}:/usr/bin:/bin", "HOME": str(Path.home()), "LANG": "C.UTF-8"}


def median(fn: Callable[[], float], runs: int) -> float:
    return statistics.median(fn() for _ in range(runs))


def paired(
    ours: Callable[[], float], theirs: Callable[[], float], runs: int
) -> tuple[float, float]:
    """Medians of both, measured in alternation (and alternating which goes first), so that
    the drift of a shared machine (page cache writeback, noisy neighbours) hits both sides."""
    a: list[float] = []
    b: list[float] = []
    for i in range(runs):
        if i % 2:
            b.append(theirs())
            a.append(ours())
        else:
            a.append(ours())
            b.append(theirs())
    return statistics.median(a), statistics.median(b)


def settle() -> None:
    """Write back what earlier runs left dirty, so that no run pays for another's writes."""
    os.sync()


def timed(
    cmd: list[str] | str, env: dict[str, str], cwd: Path | None = None, shell: bool = False
) -> float:
    settle()
    start = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, shell=shell, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def make_payload(path: Path, size: int) -> None:
    """Binary-like bytes: half random, half repetitive, so gzip halves them like real releases."""
    if path.exists() and path.stat().st_size == size:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    block = 64 * 1024
    pattern = (b"\x00" * 48 + b"\x48\x89\xe5\x41\x57\x41\x56\x53" * 2) * (block // 64)
    with path.open("wb") as f:
        f.write(elf_bytes(size=4096))
        written = 4096
        while written < size:
            chunk = os.urandom(block) if (written // block) % 2 else pattern
            chunk = chunk[: size - written]
            f.write(chunk)
            written += len(chunk)


def make_targz(path: Path, compressed_target: int) -> None:
    if path.exists():
        return
    raw = path.with_suffix(".raw")
    make_payload(raw, compressed_target * 2)
    with tarfile.open(path, "w:gz", compresslevel=6) as tf:
        tf.add(raw, arcname="tool-1.0/bin/tool")
    raw.unlink()


def project(assets: list[tuple[str, str]], tag: str = "v1") -> str:
    return "".join(
        f'[[metadata.githubassets]]\nrepo = "{repo}"\nasset = "{asset}"\ntag = "{tag}"\n\n'
        for repo, asset in assets
    )


def fresh(base: Path, config: str) -> CnbDirs:
    if base.exists():
        shutil.rmtree(base)
    cnb = CnbDirs(base)
    cnb.project(config)
    return cnb


def run_build(cnb: CnbDirs, env: dict[str, str]) -> float:
    d = cnb.detect(env)
    assert d.rc == 0, d.all
    cnb.bp_plan_from_detect()
    settle()
    start = time.perf_counter()
    r = cnb.build(env)
    elapsed = time.perf_counter() - start
    assert r.rc == 0, r.all
    return elapsed


def peak_rss_of_build(cnb: CnbDirs, env: dict[str, str]) -> float:
    """Peak RSS (MiB) of bin/build, measured by a fresh parent so only that child counts."""
    cnb.detect(env)
    cnb.bp_plan_from_detect()
    full = cnb.env(env)
    full.update({"CNB_LAYERS_DIR": str(cnb.layers), "CNB_BP_PLAN_PATH": str(cnb.bp_plan_path)})
    code = (
        "import resource, subprocess, sys; "
        "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
        "assert p.returncode == 0; "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(ROOT / "bin" / "build"),
            str(cnb.layers),
            str(cnb.platform),
            str(cnb.bp_plan_path),
        ],
        env=full,
        cwd=cnb.app,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip()) / 1024


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--readme", action="store_true", help="write the table into README.md")
    args = ap.parse_args()
    runs = args.runs
    env = bench_env()
    work = Path(tempfile.mkdtemp(prefix="ga-bench-"))
    rows: list[Row] = []
    try:
        targz = CACHE / "tool-256M.tar.gz"
        raw = CACHE / "tool-256M"
        big = CACHE / "tool-1G"
        make_targz(targz, 256 * MiB)
        make_payload(raw, 256 * MiB)
        make_payload(big, 1024 * MiB)
        smalls = [CACHE / f"small-{i}" for i in range(8)]
        for p in smalls:
            make_payload(p, 16 * MiB)

        with StandIn() as gh:
            gh.add_release("acme/targz", "v1", {"tool-linux-amd64.tar.gz": targz})
            gh.add_release("acme/raw", "v1", {"tool-linux-amd64": raw})
            gh.add_release("acme/big", "v1", {"big-linux-amd64": big})
            for i, p in enumerate(smalls):
                gh.add_release(f"acme/small{i}", "v1", {f"small{i}-linux-amd64": p})
            env_gh = {**env, "GITHUB_API_URL": gh.api_url}
            dl = f"{gh.storage_url}/acme/%s/releases/download/v1/%s"

            # 1. detect with 5 assets vs the bare interpreter
            five = project([(f"acme/small{i}", f"small{i}-{{os}}-{{arch}}") for i in range(5)])
            dcnb = fresh(work / "detect", five)
            detect_env = {**dcnb.env(env_gh), "CNB_BUILD_PLAN_PATH": str(dcnb.plan_path)}
            py = str(real_python())

            def detect() -> float:
                return timed(
                    [str(ROOT / "bin" / "detect"), str(dcnb.platform), str(dcnb.plan_path)],
                    detect_env,
                    dcnb.app,
                )

            for _ in range(3):  # warm the page cache
                timed([py, "-c", "pass"], env)
                detect()
            n = max(21, runs * 4)

            det, bare = paired(detect, lambda: timed([py, "-c", "pass"], env), n)
            rows.append(Row("detect, 5 assets vs `python3 -c pass`", det, bare, "s", "<= 1.0"))

            # 2. cold install of a 256 MiB tar.gz vs curl | tar -xz
            cfg = project([("acme/targz", "tool-{os}-{arch}.tar.gz")])
            url = dl % ("targz", "tool-linux-amd64.tar.gz")

            def curl_tar() -> float:
                d = work / "curl-tar"
                shutil.rmtree(d, ignore_errors=True)
                d.mkdir()
                return timed(f"curl -sL '{url}' | tar -xz -C '{d}'", env, shell=True)

            ours, theirs = paired(
                lambda: run_build(fresh(work / "targz", cfg), env_gh), curl_tar, runs
            )
            rows.append(
                Row(
                    "cold install, 256 MiB tar.gz vs `curl -sL URL | tar -xz`",
                    ours,
                    theirs,
                    "s",
                    "<= 1.0",
                )
            )

            # 3. cold install of a 256 MiB raw binary vs curl -o && chmod
            cfg = project([("acme/raw", "tool-{os}-{arch}")])
            url = dl % ("raw", "tool-linux-amd64")

            def curl_raw() -> float:
                f = work / "curl-raw"
                f.unlink(missing_ok=True)
                return timed(f"curl -sL -o '{f}' '{url}' && chmod +x '{f}'", env, shell=True)

            ours, theirs = paired(
                lambda: run_build(fresh(work / "raw", cfg), env_gh), curl_raw, runs
            )
            floor = median(lambda: timed(f"curl -s -o /dev/null '{url}'", env, shell=True), runs)
            rows.append(
                Row(
                    "cold install, 256 MiB raw vs `curl -sL -o F URL && chmod +x F`",
                    ours,
                    theirs,
                    "s",
                    "<= 1.1",
                )
            )
            rows.append(
                Row("(floor) loopback link: `curl -o /dev/null` of 256 MiB", floor, None, "s", "")
            )

            # 4. 8 x 16 MiB from a server throttling each connection to 32 MiB/s
            gh.throttle_bytes_per_sec = 32 * MiB
            cfg = project([(f"acme/small{i}", f"small{i}-{{os}}-{{arch}}") for i in range(8)])
            urls = " ".join(f"'{dl % (f'small{i}', f'small{i}-linux-amd64')}'" for i in range(8))

            def curls() -> float:
                return timed(
                    f'for u in {urls}; do curl -sL -o /dev/null "$u"; done', env, shell=True
                )

            ours, theirs = paired(
                lambda: run_build(fresh(work / "eight", cfg), env_gh), curls, max(3, runs // 2)
            )
            rows.append(
                Row(
                    "8 x 16 MiB, 32 MiB/s per connection, vs 8 sequential curls",
                    ours,
                    theirs,
                    "s",
                    "<= 0.25",
                )
            )
            gh.throttle_bytes_per_sec = None

            # 5. rebuild with nothing changed (layer toml restored, pinned tag)
            cfg = project([("acme/raw", "tool-{os}-{arch}")])
            cnb = fresh(work / "rebuild", cfg)
            run_build(cnb, env_gh)

            def rebuild() -> float:
                cnb.simulate_rebuild()
                return run_build(cnb, env_gh)

            served = gh.bytes_served
            reb, det_now = paired(rebuild, detect, n)
            rows.append(
                Row(
                    "rebuild, nothing changed, vs detect",
                    reb,
                    det_now,
                    "s",
                    "<= 1.5",
                    f"{gh.bytes_served - served} bytes downloaded",
                )
            )

            # 7. GitHub API requests of a cold build of the blog's 4-asset project
            api_calls = blog_project_api_requests(work / "blog", env)
            blog, private = "API requests, cold build of the blog's 4 assets", "private: API"
            rows.append(Row(blog, api_calls[0], None, "requests", "", "no lock"))
            rows.append(Row(f"{blog}, with the lock", api_calls[1], None, "requests", "", private))

            # 6. peak RSS installing a 1 GiB asset
            cfg = project([("acme/big", "big-{os}-{arch}")])
            rss = peak_rss_of_build(fresh(work / "big", cfg), env_gh)
            rows.append(
                Row("peak RSS of bin/build installing a 1 GiB asset", rss, None, "MiB", "<= 48")
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    table = render(rows, runs)
    print(table)
    if args.readme:
        write_readme(table)
    return 0


def blog_project_api_requests(base: Path, env: dict[str, str]) -> tuple[int, int]:
    """API requests of a cold build of the blog post's project: without, then with a lock."""
    from tools.archives import executable, tar_bytes

    token = "ghp_benchTOKEN0123456789abcdef"
    with StandIn() as gh:
        tool = elf_bytes(size=64 * 1024)
        youtubedr = tar_bytes([executable("youtubedr", tool)])
        gh.add_release("kkdai/youtube", "v2.7.0", {"youtubedr_2.7.0_linux_amd64.tar.gz": youtubedr})
        gh.add_release(
            "qeek-dev/apitest-toolchain", "v0.1.0", {"apitest-toolchain-linux-amd64": tool}
        )
        gh.make_private("qeek-dev/apitest-toolchain", token)
        gh.add_release("stedolan/jq", "jq-1.6", {"jq-linux64": tool})
        gh.add_release("grpc-ecosystem/grpc-health-probe", "v0.4.40",
                       {"grpc_health_probe-linux-amd64": tool})  # fmt: skip
        full = {**env, "GITHUB_API_URL": gh.api_url, "APITEST_TOOLCHAIN_TOKEN": token}
        counts = []
        for locked in (False, True):
            cnb = fresh(base / str(locked), BLOG_PROJECT)
            if locked:
                subprocess.run(
                    [sys.executable, "-m", "github_assets", "lock", "--target", "linux/amd64"],
                    cwd=cnb.app, env={**os.environ, **full, "PYTHONPATH": str(ROOT / "src")},
                    check=True, capture_output=True,
                )  # fmt: skip
            before = len(gh.api_requests())
            run_build(cnb, full)
            counts.append(len(gh.api_requests()) - before)
        return counts[0], counts[1]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {system}"


def render(rows: list[Row], runs: int) -> str:
    out = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; medians of {runs}+ runs "
        "(detect and rebuild: 21+), each figure alternating with its baseline and every run "
        "after a `sync`, all on loopback. Reproduce: `make bench`.",
        "",
        "| figure | ours | baseline | ratio | target | met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        fmt = _formatter(r)
        theirs = fmt(r.theirs) if r.theirs is not None else "-"
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "-"
        value = r.ratio if r.ratio is not None else r.ours
        met = "-"
        if r.target.startswith("<="):
            met = "yes" if value <= float(r.target[2:]) else "no"
        note = f" ({r.note})" if r.note else ""
        name = r.name.replace("|", "\\|")  # a pipe inside a table cell must be escaped
        out.append(f"| {name}{note} | {fmt(r.ours)} | {theirs} | {ratio} | {r.target} | {met} |")
    return "\n".join(out)


def _formatter(r: Row) -> Callable[[float], str]:
    if r.unit == "requests":
        return lambda v: f"{int(v)}"
    if r.unit == "s" and r.ours < 1:
        return lambda v: f"{v * 1000:.1f} ms"
    return lambda v: f"{v:.2f} {r.unit}"


def write_readme(table: str) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    if start not in text:
        raise SystemExit("README.md has no bench markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{table}\n{end}{tail}")


if __name__ == "__main__":
    sys.exit(main())
