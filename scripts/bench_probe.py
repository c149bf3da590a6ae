"""What one call of the installed probe costs, the way Kubernetes calls it every few seconds.

An image built by pack offers three ways to run the grpc_health_probe this buildpack
installs: its layer path, the `link` path in the app dir (a symlink to it), and
`/cnb/process/<type>` for a `process` (a symlink to the launcher, which sets up the launch
environment and then execs the command of that process type). This builds
examples/grpc-app with the real lifecycle (detector and builder as user cnb, the packaged
buildpack), starts the example gRPC server, and calls the real probe each way, many times
in rotation: wall time and CPU time (user + system, from getrusage(RUSAGE_CHILDREN)) per
call, and `/bin/true` as the floor of starting any process from here.

Run by `make bench` (scripts/bench.py); `--write` puts the table into docs/performance.md
between the probe markers. Needs root (the lifecycle runs as the cnb user) and the tools of
`make tools`; without them it fails and says why.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tools.cnb_lifecycle import (  # noqa: E402
    BP_DIRNAME,
    BP_ID,
    PLATFORM_API,
    Lifecycle,
    missing_tools,
    tools_bin,
)
from tools.example_app import PROBE_LAYER, GrpcServer, serve_probe, stage_app  # noqa: E402
from tools.github_standin import StandIn  # noqa: E402

DOC = ROOT / "docs" / "performance.md"
PROCESS = "health"
LINK = "bin/grpc_health_probe"
# Where each way's command lives in the image (the lifecycle's fixed mount points).
IMAGE_PATHS = {
    "layer path": f"/layers/{BP_DIRNAME}/{PROBE_LAYER}/bin/grpc_health_probe",
    "link path": f"/workspace/{LINK}",
    f"/cnb/process/{PROCESS}": f"/cnb/process/{PROCESS}",
}


class Way(NamedTuple):
    """One way's figures over its calls, in seconds."""

    name: str
    wall: float
    wall_p90: float
    cpu: float
    cpu_mean: float
    cpu_p90: float


def call(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """One call: (wall seconds, CPU seconds of the child and whatever it ran)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    rc = subprocess.call(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if rc != 0:
        raise SystemExit(f"error: {cmd[0]} exited {rc}; the probe must answer SERVING (0)")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def build_example(lc: Lifecycle, standin: StandIn, port: int) -> None:
    """examples/grpc-app built by the real detector and builder, as in tests/e2e."""
    probe = tools_bin() / "grpc_health_probe"
    tag_file = tools_bin() / "grpc_health_probe.version"
    tag = tag_file.read_text().strip() if tag_file.exists() else "v0.4.40"
    serve_probe(standin, probe, tools_bin() / "grpc_health_probe-linux-arm64", tag)
    stage_app(lc.app, tag, port)
    lc.platform_env(GITHUB_API_URL=standin.api_url)
    order = lc.order([[{"id": BP_ID, "version": lc.version}]])
    for phase, result in (("detect", lc.detect(order)), ("build", lc.build())):
        if result.rc != 0:
            raise SystemExit(f"error: lifecycle {phase} failed:\n{result.all}")


def measure(calls: int) -> tuple[list[Way], str]:
    """Each way's median (and 90th percentile) wall and CPU per call; the probe's version."""
    with tempfile.TemporaryDirectory(prefix="ga-probe-bench-") as tmp:
        package = Path(tmp) / "dist"
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "package.py"), str(package)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        [tgz] = package.glob("*.tgz")
        lc = Lifecycle(tgz)
        server = GrpcServer.start()
        try:
            with StandIn() as standin:
                build_example(lc, standin, server.port)
            return _calls(lc, server.port, calls)
        finally:
            server.stop()
            lc.close()


def _calls(lc: Lifecycle, port: int, calls: int) -> tuple[list[Way], str]:
    exe = lc.our_layers / PROBE_LAYER / "bin" / "grpc_health_probe"
    link = lc.app / LINK
    if link.resolve() != exe:
        raise SystemExit(f"error: {link} does not lead to {exe}")
    # /cnb/process/<type> is a symlink to /cnb/lifecycle/launcher; so is this one.
    process_dir = lc.cnb / "process"
    process_dir.mkdir(exist_ok=True)
    process = process_dir / PROCESS
    if not process.exists():
        process.symlink_to(lc.cnb / "launcher")
    addr = f"-addr=127.0.0.1:{port}"
    plain = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    # What the exporter puts in the image's config for the launcher.
    launch = {**plain, **lc.launch_env(), "CNB_PLATFORM_API": PLATFORM_API}
    ways: dict[str, tuple[list[str], dict[str, str]]] = {
        "layer path": ([str(exe), addr], plain),
        "link path": ([str(link), addr], plain),
        f"/cnb/process/{PROCESS}": ([str(process)], launch),  # args from launch.toml
        "(floor) `/bin/true`": (["/bin/true"], plain),
    }
    shown = subprocess.run([str(exe), "-version"], capture_output=True, text=True, check=False)
    version = (shown.stdout or shown.stderr).strip().split(";")[0]  # "0.4.53; vcs info..."
    for cmd, env in ways.values():  # warm the page cache and check each way answers
        for _ in range(5):
            call(cmd, env, lc.app)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
    names = list(ways)
    for i in range(calls):
        # Rotate the order, so that no way always follows another.
        for name in names[i % len(names) :] + names[: i % len(names)]:
            cmd, env = ways[name]
            samples[name].append(call(cmd, env, lc.app))
    rows = []
    for name, got in samples.items():
        walls = sorted(w for w, _ in got)
        cpus = sorted(c for _, c in got)
        p90 = int(0.9 * (len(got) - 1))
        rows.append(
            Way(
                name,
                wall=statistics.median(walls),
                wall_p90=walls[p90],
                cpu=statistics.median(cpus),
                cpu_mean=statistics.fmean(cpus),
                cpu_p90=cpus[p90],
            )
        )
    return rows, version


def render(rows: list[Way], calls: int, version: str) -> str:
    from bench import machine

    out = [
        f"`make bench` (`scripts/bench_probe.py --write`), measured {time.strftime('%Y-%m-%d')}"
        f" on {machine()}: {calls} calls of each way in rotation against the example gRPC "
        f"server (tools/example_app.py), grpc_health_probe {version or '(version unknown)'} "
        "built by `make tools`, examples/grpc-app built by the real lifecycle. Wall: from "
        "fork to exit, as this Python process spawns it. CPU: user + system of the call and "
        "everything it ran (getrusage(RUSAGE_CHILDREN) deltas).",
        "",
        "| way | command in the image | wall, median | wall, p90 | CPU, median "
        "| CPU, mean | CPU, p90 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        path = IMAGE_PATHS.get(r.name, "")
        shown = f"`{path}`" if path else "-"
        figures = (r.wall, r.wall_p90, r.cpu, r.cpu_mean, r.cpu_p90)
        out.append(f"| {r.name} | {shown} | " + " | ".join(_ms(v) for v in figures) + " |")
    return "\n".join(out)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=200, help="calls of each way")
    ap.add_argument("--write", action="store_true", help="write into docs/performance.md")
    args = ap.parse_args()
    reason = missing_tools()
    if reason:
        print(f"error: the probe benchmark needs the real parts: {reason}", file=sys.stderr)
        return 1
    rows, version = measure(args.calls)
    table = render(rows, args.calls, version)
    print(table)
    if args.write:
        from bench import write_between

        write_between(DOC, "probe", table)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "scripts"))
    sys.exit(main())
