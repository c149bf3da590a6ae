"""Before/after: the small HTTPS figures of make bench for two trees of this buildpack, run
in alternation on the same stand-in, so that a change is measured against its base on the
same machine at the same moment (a shared machine drifts more than most changes weigh).

    git archive <base-commit> | (mkdir -p /tmp/base && tar -x -C /tmp/base)
    cp -r vendor /tmp/base/
    python3 scripts/bench_ab.py /tmp/base [--runs 21]

Prints one markdown row per figure: base and this tree's medians, the change, and curl's.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src"), str(ROOT / "scripts")]

from bench import CACHE, MiB, Tls, bench_env, make_payload, make_targz, project, run_build, timed  # noqa: E402
from tools.cnb_dirs import CnbDirs  # noqa: E402
from tools.github_standin import StandIn  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("base", type=Path, help="the base tree (with its vendor/)")
    ap.add_argument("--runs", type=int, default=21)
    args = ap.parse_args()
    trees = {"base": args.base.resolve(), "this": ROOT}
    env = bench_env()
    work = Path(tempfile.mkdtemp(prefix="ga-bench-ab-"))
    one = CACHE / "tool-12M"
    make_payload(one, 12 * MiB)
    sha = hashlib.sha256(one.read_bytes()).hexdigest()
    raws = [CACHE / f"four-raw-{i}" for i in range(2)]
    tgzs = [CACHE / f"four-{i}.tar.gz" for i in range(2)]
    for p in raws:
        make_payload(p, 4 * MiB)
    for p in tgzs:
        make_targz(p, 4 * MiB)
    tls = Tls(work)
    try:
        with StandIn(tls=tls.server) as gh:
            gh.add_release("acme/one", "v1", {"one-linux-amd64": one})
            for i, p in enumerate(raws):
                gh.add_release(f"acme/raw{i}", "v1", {f"raw{i}-linux-amd64": p})
            for i, p in enumerate(tgzs):
                gh.add_release(f"acme/tgz{i}", "v1", {f"tgz{i}-linux-amd64.tar.gz": p})
            full = {
                **env,
                "GITHUB_API_URL": gh.api_url,
                "GITHUB_SERVER_URL": gh.web_url,
                "SSL_CERT_FILE": str(tls.ca_file),
            }
            base = project([("acme/one", "one-{os}-{arch}")])
            four = project(
                [(f"acme/raw{i}", f"raw{i}-{{os}}-{{arch}}") for i in range(2)]
                + [(f"acme/tgz{i}", f"tgz{i}-{{os}}-{{arch}}.tar.gz") for i in range(2)]
            )
            url = f"{gh.web_url}/acme/one/releases/download/v1/one-linux-amd64"
            out = work / "curl-one"

            def curl() -> float:
                out.unlink(missing_ok=True)
                cmd = f"curl -sSL --cacert '{tls.ca_file}' -o '{out}' '{url}' && chmod +x '{out}'"
                return timed(cmd, env, shell=True)

            def way(tree: Path, config: str, what: str) -> Callable[[], float]:
                def run() -> float:
                    d = work / "x"
                    shutil.rmtree(d, ignore_errors=True)
                    cnb = CnbDirs(d, buildpack_dir=tree)
                    cnb.project(config)
                    detect_env = {**cnb.env(full), "CNB_BUILD_PLAN_PATH": str(cnb.plan_path)}
                    detect = [str(tree / "bin" / "detect"), str(cnb.platform), str(cnb.plan_path)]
                    took = timed(detect, detect_env, cnb.app)
                    if what == "detect":
                        return took
                    cnb.bp_plan_from_detect()
                    if what == "rebuild":
                        run_build(cnb, full)
                        cnb.simulate_rebuild()
                        return run_build(cnb, full)
                    return took + run_build(cnb, full)

                return run

            cases = [
                ("bin/detect, four assets", four, "detect"),
                ("cold, one 12 MiB executable, pinned (direct): detect + build", base
                 + f'sha256 = "{sha}"\n', "cold"),
                ("cold, one 12 MiB executable, API: detect + build", base, "cold"),
                ("cold, four ~4 MiB assets: detect + build", four, "cold"),
                ("rebuild of the four, nothing changed: build", four, "rebuild"),
            ]  # fmt: skip
            print("| figure | base | this tree | change | curl (12 MiB) |")
            print("| --- | --- | --- | --- | --- |")
            for name, config, what in cases:
                ways = {k: way(t, config, what) for k, t in trees.items()}
                ways["curl"] = curl
                got: dict[str, list[float]] = {k: [] for k in ways}
                for fn in ways.values():
                    fn()  # warm up (and write the base tree's bytecode)
                for i in range(args.runs):
                    for k in list(ways) if i % 2 else list(reversed(ways)):
                        got[k].append(ways[k]())
                m = {k: statistics.median(v) * 1000 for k, v in got.items()}
                change = 100 * (m["this"] / m["base"] - 1)
                print(
                    f"| {name} | {m['base']:.1f} ms | {m['this']:.1f} ms | {change:+.0f}% "
                    f"| {m['curl']:.1f} ms |",
                    flush=True,
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
