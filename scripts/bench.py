"""Benchmarks on loopback: the buildpack vs what a user would do without it (curl | tar).

Run with `make bench`. Every figure that counts is a ratio of two things
measured in the same run on the same machine, so the numbers travel between
machines better than absolute times. Results go into docs/performance.md between the
bench markers (and to stdout).

The small-asset rows run over HTTPS, as GitHub is: the stand-in serves TLS with a CA
made for the run (trustme), the build trusts it only through SSL_CERT_FILE in its env,
and curl gets the same CA with --cacert. The big-asset rows measure disk and unpack
throughput and run on plain HTTP; the table says which is which.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import ssl
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
DOC = ROOT / "docs" / "performance.md"
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
    https: bool = False
    spread: tuple[float, float] | None = None
    """The 25th and 75th percentiles of the per-pair ratios (how noisy the ratio is)."""
    how: str = ""
    """How it ran, when not from this checkout (scripts/bench_builder.py: as builders run it)."""

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


LAST_SPREAD: list[tuple[float, float]] = []
"""The spread of the last paired() call's per-pair ratios (25th, 75th percentile)."""


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
    ratios = sorted(x / y for x, y in zip(a, b, strict=True))
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    LAST_SPREAD[:] = [(q[0], q[2])]
    return statistics.median(a), statistics.median(b)


def spread() -> tuple[float, float]:
    return LAST_SPREAD[0]


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
    ap.add_argument(
        "--readme", action="store_true", help="write the tables into docs/performance.md"
    )
    ap.add_argument("--no-probe", action="store_true", help="skip scripts/bench_probe.py")
    ap.add_argument(
        "--https-only", action="store_true", help="only the HTTPS rows (no table is written)"
    )
    args = ap.parse_args()
    runs = args.runs
    env = bench_env()
    work = Path(tempfile.mkdtemp(prefix="ga-bench-"))
    rows: list[Row] = []
    if args.https_only:
        try:
            rows = https_rows(work / "https", env, runs)
            from bench_builder import builder_rows

            rows += builder_rows(runs)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(render(rows, runs))
        return 0
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
            rows.append(
                Row(
                    "detect, 5 assets vs `python3 -c pass`",
                    det,
                    bare,
                    "s",
                    "<= 1.0",
                    spread=spread(),
                )
            )

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
                    spread=spread(),
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
            raw_spread = spread()
            floor = median(lambda: timed(f"curl -s -o /dev/null '{url}'", env, shell=True), runs)
            rows.append(
                Row(
                    "cold install, 256 MiB raw vs `curl -sL -o F URL && chmod +x F`",
                    ours,
                    theirs,
                    "s",
                    "<= 1.1",
                    spread=raw_spread,
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
                    spread=spread(),
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
                    spread=spread(),
                )
            )

            # 8. the fixed cost of a build, over HTTPS (issue 14)
            rows += https_rows(work / "https", env, runs)

            # 9. the package as builders run it: read-only, as a non-root user, the system
            # python3 (scripts/bench_builder.py)
            from bench_builder import builder_rows

            rows += builder_rows(runs)

            # 7. GitHub API requests of a cold build of the blog's 4-asset project
            api_calls = blog_project_api_requests(work / "blog", env)
            blog, private = "API requests, cold build of the blog's 4 assets", "private: API"
            rows.append(Row(blog, api_calls[0], None, "requests", "", "no lock"))
            rows.append(Row(f"{blog}, with the lock", api_calls[1], None, "requests", "", private))

            # 7b. `github-assets lock` again on an unchanged config (issue 24, item 3)
            took, calls, served = lock_again(work / "lock", env)
            lock_name = "`github-assets lock` again, unchanged config of four pinned assets"
            rows.append(Row(f"{lock_name}: requests", calls, None, "requests", "<= 0"))
            rows.append(Row(f"{lock_name}: bytes downloaded", served, None, "bytes", "<= 0"))
            rows.append(Row(f"{lock_name}: time", took, None, "s", ""))

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
    if not args.no_probe:
        # The probe's own cost, which a pod pays every few seconds: the real lifecycle and
        # launcher, the real grpc_health_probe (its own markers in docs/performance.md).
        probe = [sys.executable, str(ROOT / "scripts" / "bench_probe.py")]
        subprocess.run([*probe, *(["--write"] if args.readme else [])], check=True)
    return 0


FLOOR_STDLIB = """
import hashlib, http.client, os, ssl, sys
from urllib.parse import urlsplit
url, out = sys.argv[1], sys.argv[2]
context = ssl.create_default_context()
for _ in range(3):
    u = urlsplit(url)
    conn = http.client.HTTPSConnection(u.hostname, u.port, context=context)
    conn.request("GET", u.path + ("?" + u.query if u.query else ""))
    resp = conn.getresponse()
    if resp.status not in (301, 302, 303, 307, 308):
        break
    url = resp.getheader("Location")
    resp.read()
    conn.close()
assert resp.status == 200, resp.status
digest, buf = hashlib.sha256(), memoryview(bytearray(1 << 20))
with open(out, "wb") as f:
    while n := resp.readinto(buf):
        digest.update(buf[:n])
        f.write(buf[:n])
os.chmod(out, 0o755)
"""
"""The floor of a Python client: http.client and ssl, nothing else imported."""

FLOOR_REQUESTS = """
import hashlib, os, sys
sys.path.insert(0, sys.argv[3])
import requests
url, out = sys.argv[1], sys.argv[2]
resp = requests.get(url, stream=True, verify=os.environ["SSL_CERT_FILE"])
assert resp.status_code == 200, resp.status_code
digest = hashlib.sha256()
with open(out, "wb") as f:
    for chunk in resp.raw.stream(1 << 20, decode_content=False):
        digest.update(chunk)
        f.write(chunk)
os.chmod(out, 0o755)
"""
"""The same job with the vendored requests."""


class Tls:
    """A CA made for the run, a server certificate for 127.0.0.1 it signed, and its PEM file:
    the build trusts it through SSL_CERT_FILE only, curl through --cacert."""

    def __init__(self, work: Path) -> None:
        try:
            import trustme
        except ImportError:
            raise SystemExit("make bench needs trustme (requirements/dev.txt): make dev") from None
        ca = trustme.CA()
        self.ca_file = work / "bench-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        self.server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "api.github.com").configure_cert(self.server)


def cold(cnb_dir: Path, config: str, env: dict[str, str]) -> float:
    """bin/detect + bin/build on fresh dirs, as the lifecycle runs them (the plan handed from
    one to the other, which is the lifecycle's work, is not counted)."""
    cnb = fresh(cnb_dir, config)
    detect_env = {**cnb.env(env), "CNB_BUILD_PLAN_PATH": str(cnb.plan_path)}
    detect_cmd = [str(ROOT / "bin" / "detect"), str(cnb.platform), str(cnb.plan_path)]
    took = timed(detect_cmd, detect_env, cnb.app)
    cnb.bp_plan_from_detect()
    return took + run_build(cnb, env)


def https_rows(work: Path, env: dict[str, str], runs: int) -> list[Row]:
    """The fixed cost of a build over HTTPS: small assets, where start-up, imports, TLS and
    round trips are most of the time, against what curl pays for the same bytes."""
    work.mkdir(parents=True, exist_ok=True)
    tls = Tls(work)
    one = CACHE / "tool-12M"
    make_payload(one, 12 * MiB)
    sha = hashlib.sha256(one.read_bytes()).hexdigest()
    raws = [CACHE / f"four-raw-{i}" for i in range(2)]
    for p in raws:
        make_payload(p, 4 * MiB)
    tgzs = [CACHE / f"four-{i}.tar.gz" for i in range(2)]
    for p in tgzs:
        make_targz(p, 4 * MiB)
    n = max(11, runs * 2)
    rows: list[Row] = []
    with StandIn(tls=tls.server) as gh:
        gh.add_release("acme/one", "v1", {"one-linux-amd64": one})
        for i, p in enumerate(raws):
            gh.add_release(f"acme/raw{i}", "v1", {f"raw{i}-linux-amd64": p})
        for i, p in enumerate(tgzs):
            gh.add_release(f"acme/tgz{i}", "v1", {f"tgz{i}-linux-amd64.tar.gz": p})
        full = {
            **env,
            "GITHUB_API_URL": gh.api_url,
            "GITHUB_SERVER_URL": gh.web_url,  # github.com's part: 302 to storage
            "SSL_CERT_FILE": str(tls.ca_file),
        }
        web = f"{gh.web_url}/acme/%s/releases/download/v1/%s"
        curl = f"curl -sSL --cacert '{tls.ca_file}'"

        # 8a. one 12 MiB executable: pinned tag and sha256 (direct), and through the API
        url = web % ("one", "one-linux-amd64")
        out = work / "curl-one"

        def curl_one() -> float:
            out.unlink(missing_ok=True)
            return timed(f"{curl} -o '{out}' '{url}' && chmod +x '{out}'", env, shell=True)

        base = project([("acme/one", "one-{os}-{arch}")])
        pinned = base + f'sha256 = "{sha}"\n'
        shown = "`bin/detect` + `bin/build` vs `curl -sSL -o F URL && chmod +x F`"
        for label, config in (("pinned tag and sha256: direct", pinned), ("API", base)):
            before = len(gh.api_requests())
            cold(work / "one", config, full)  # warm the page cache
            curl_one()
            ours, theirs = paired(lambda c=config: cold(work / "one", c, full), curl_one, n)
            calls = (len(gh.api_requests()) - before) // (n + 1)
            rows.append(
                Row(
                    f"cold, one 12 MiB executable, {label}, {shown}",
                    ours,
                    theirs,
                    "s",
                    "<= 6.0",
                    f"{calls} API request{'s' * (calls != 1)} per build",
                    https=True,
                    spread=spread(),
                )
            )

        # 8a'. the floor of a Python client for the same job: one process, verified TLS, the
        # 302 followed, sha256 on the way, written and made executable; no CNB work at all
        py = str(real_python())
        vendor = str(ROOT / "vendor")
        for label, client in (("http.client + ssl", FLOOR_STDLIB), ("requests", FLOOR_REQUESTS)):
            cmd = [py, "-E", "-s", "-S", "-c", client, url, str(out), vendor]
            ours, theirs = paired(lambda c=cmd: timed(c, full), curl_one, n)
            rows.append(
                Row(
                    f"(floor) a Python client, `python3 -S` + {label}: the same download, "
                    "sha256, chmod, vs the same curl",
                    ours,
                    theirs,
                    "s",
                    "",
                    https=True,
                    spread=spread(),
                )
            )

        # 8b. four ~4 MiB assets, two raw and two tar.gz, vs four sequential curls
        four = project(
            [(f"acme/raw{i}", f"raw{i}-{{os}}-{{arch}}") for i in range(2)]
            + [(f"acme/tgz{i}", f"tgz{i}-{{os}}-{{arch}}.tar.gz") for i in range(2)]
        )
        dest = work / "curl-four"

        def curl_four() -> float:
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir()
            steps = [
                f"{curl} -o '{dest}/raw{i}' '{web % (f'raw{i}', f'raw{i}-linux-amd64')}' "
                f"&& chmod +x '{dest}/raw{i}'"
                for i in range(2)
            ]
            for i in range(2):
                (dest / f"tgz{i}").mkdir()
                tgz_url = web % (f"tgz{i}", f"tgz{i}-linux-amd64.tar.gz")
                steps.append(f"{curl} '{tgz_url}' | tar -xz -C '{dest}/tgz{i}'")
            return timed(" && ".join(steps), env, shell=True)

        cold(work / "four", four, full)
        curl_four()
        ours, theirs = paired(lambda: cold(work / "four", four, full), curl_four, n)
        rows.append(
            Row(
                "cold, four ~4 MiB assets (2 raw, 2 tar.gz), detect + build vs 4 sequential "
                "curls (+ `tar -xz`)",
                ours,
                theirs,
                "s",
                "<= 2.5",
                https=True,
                spread=spread(),
            )
        )

        # 8c. the build step of a rebuild with nothing changed vs bin/detect alone
        cnb = fresh(work / "rebuild", four)
        run_build(cnb, full)
        detect_env = {**cnb.env(full), "CNB_BUILD_PLAN_PATH": str(cnb.plan_path)}
        detect_cmd = [str(ROOT / "bin" / "detect"), str(cnb.platform), str(cnb.plan_path)]

        def rebuild() -> float:
            cnb.simulate_rebuild()
            return run_build(cnb, full)

        served, requests = gh.bytes_served, len(gh.requests)
        m = max(21, runs * 4)
        reb, det = paired(rebuild, lambda: timed(detect_cmd, detect_env, cnb.app), m)
        rows.append(
            Row(
                "rebuild of the four, nothing changed (pinned tags, layer tomls restored): "
                "`bin/build` vs `bin/detect`",
                reb,
                det,
                "s",
                "<= 1.0",
                f"{len(gh.requests) - requests} requests, {gh.bytes_served - served} bytes",
                https=True,
                spread=spread(),
            )
        )
    return rows


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


def lock_again(base: Path, env: dict[str, str]) -> tuple[float, int, int]:
    """`github-assets lock` run a second time on an unchanged config of four pinned assets
    (2 x 4 MiB raw, 2 x 4 MiB tar.gz): its seconds, requests and bytes downloaded. Nothing
    changed, so nothing needs asking (issue 24: no download, no request for pinned tags)."""
    raws = [CACHE / f"four-raw-{i}" for i in range(2)]
    tgzs = [CACHE / f"four-{i}.tar.gz" for i in range(2)]
    for p in raws:
        make_payload(p, 4 * MiB)
    for p in tgzs:
        make_targz(p, 4 * MiB)
    with StandIn() as gh:
        for i, p in enumerate(raws):
            gh.add_release(f"acme/raw{i}", "v1", {f"raw{i}-linux-amd64": p})
        for i, p in enumerate(tgzs):
            gh.add_release(f"acme/tgz{i}", "v1", {f"tgz{i}-linux-amd64.tar.gz": p})
        cnb = fresh(base, project(
            [(f"acme/raw{i}", f"raw{i}-{{os}}-{{arch}}") for i in range(2)]
            + [(f"acme/tgz{i}", f"tgz{i}-{{os}}-{{arch}}.tar.gz") for i in range(2)]
        ))  # fmt: skip
        cmd = [sys.executable, "-m", "github_assets", "lock", "--target", "linux/amd64"]
        full = {**os.environ, **env, "GITHUB_API_URL": gh.api_url, "PYTHONPATH": str(ROOT / "src")}
        subprocess.run(cmd, cwd=cnb.app, env=full, check=True, capture_output=True)
        requests, served = len(gh.requests), gh.bytes_served
        took = timed(cmd, full, cnb.app)
        return took, len(gh.requests) - requests, gh.bytes_served - served


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
        f"`make bench` (`scripts/bench.py --readme`), measured {time.strftime('%Y-%m-%d')} on "
        f"{machine()}; medians of {runs}+ runs (the small HTTPS rows: {max(11, runs * 2)}+, "
        "detect and rebuild: 21+), each figure alternating with its baseline and every run "
        "after a `sync`, all on loopback. HTTPS rows: the stand-in on TLS with a CA made for "
        "the run, trusted by the build through `SSL_CERT_FILE` only and by curl through "
        "`--cacert`. Spread: the 25th-75th percentile of the per-pair ratios.",
        "",
        "| figure | run as | over | ours | baseline | ratio | spread | target | met |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    checkout = f"checkout (bytecode cached), {'root' if os.geteuid() == 0 else 'this user'}, "
    checkout += f"{real_python()} {platform.python_version()}"
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
        over = "HTTPS" if r.https else "HTTP"
        band = f"{r.spread[0]:.2f}-{r.spread[1]:.2f}" if r.spread else "-"
        out.append(
            f"| {name}{note} | {r.how or checkout} | {over} | {fmt(r.ours)} | {theirs} | {ratio} "
            f"| {band} | {r.target} | {met} |"
        )
    return "\n".join(out)


def _formatter(r: Row) -> Callable[[float], str]:
    if r.unit in ("requests", "bytes"):
        return lambda v: f"{int(v)}"
    if r.unit == "s" and r.ours < 1:
        return lambda v: f"{v * 1000:.1f} ms"
    return lambda v: f"{v:.2f} {r.unit}"


def write_between(path: Path, marker: str, text: str) -> None:
    """Replace what lies between <!-- marker:start --> and <!-- marker:end --> in path."""
    doc = path.read_text()
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    if start not in doc or end not in doc:
        raise SystemExit(f"{path.relative_to(ROOT)} has no {marker} markers")
    head, rest = doc.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{text}\n{end}{tail}")


def write_readme(table: str) -> None:
    """The table goes into docs/performance.md (the flag keeps its old name)."""
    write_between(DOC, "bench", table)


if __name__ == "__main__":
    sys.exit(main())
