"""Demo: build examples/grpc-app with the packaged buildpack under the real CNB lifecycle.

Offline: the release is served by the loopback GitHub stand-in from the real
grpc_health_probe built by `make tools`. Then the launcher runs the probe
against the live example server, and a rebuild shows the layer reused.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from tools.cnb_lifecycle import BP_ID, LayoutPlatform, Lifecycle, missing_tools, tools_bin  # noqa: E402
from tools.example_app import PROBE_LAYER, PROBE_REPO, GrpcServer, serve_probe, stage_app  # noqa: E402
from tools.github_standin import StandIn  # noqa: E402


def say(text: str = "") -> None:
    print(text, flush=True)


def ours(builder_out: str) -> str:
    """Only this buildpack's part of the builder log."""
    lines = builder_out.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("GitHub Release Assets"))
    end = next(
        (i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")), len(lines)
    )
    return "\n".join(lines[start:end])


def main() -> int:
    reason = missing_tools()
    if reason:
        say(f"error: {reason}")
        return 1
    dist = Path(tempfile.mkdtemp(prefix="ga-demo-dist-"))
    subprocess.run([sys.executable, str(ROOT / "scripts" / "package.py"), str(dist)], check=True)
    [package] = dist.glob("*.tgz")
    probe = tools_bin() / "grpc_health_probe"
    tag = "v" + (tools_bin() / "grpc_health_probe.version").read_text().strip().lstrip("v")

    lc = Lifecycle(package, buildpacks={"test/app": ROOT / "tests" / "e2e" / "buildpacks" / "app"})
    server = GrpcServer.start()
    try:
        with StandIn() as gh:
            serve_probe(gh, probe, tools_bin() / "grpc_health_probe-linux-arm64", tag)
            stage_app(lc.app, tag, server.port)
            lc.platform_env(GITHUB_API_URL=gh.api_url)
            say(f"== examples/grpc-app, project.toml asks for {PROBE_REPO} {tag}")
            say(f"   (GitHub stand-in at {gh.api_url}, lifecycle {lc_version()}, as user cnb)")
            order = lc.order(
                [
                    [
                        {"id": "test/app", "version": "0.0.1"},
                        {"id": BP_ID, "version": lc.version, "optional": True},
                    ]
                ]
            )
            platform = LayoutPlatform(lc, order)

            say("\n== build 1: analyzer, detector, restorer, builder, exporter (OCI layout)")
            started = time.monotonic()
            results = dict(platform.build_image())
            if any(r.rc for r in results.values()):
                for name, r in results.items():
                    say(f"-- {name} exit {r.rc}\n{r.all[-3000:]}")
                return 1
            say(ours(results["builder"].out))
            say(f"== built in {time.monotonic() - started:.1f} s; image: {platform.layout}/...")

            say(f"\n== example gRPC server on 127.0.0.1:{server.port}")
            r = lc.launch(process="health")
            say(f"$ launcher health          -> exit {r.rc}: {r.all.strip()}")
            server.flip()
            r = lc.launch(process="health")
            say(f"  (server set NOT_SERVING) -> exit {r.rc}: {r.all.strip()}")
            server.flip()
            r = lc.launch("--", "grpc_health_probe", f"-addr=127.0.0.1:{server.port}")
            say(f"$ launcher -- grpc_health_probe -addr=... -> exit {r.rc}: {r.all.strip()}")

            say("\n== build 2: same config")
            before = len(gh.requests)
            started = time.monotonic()
            results = dict(platform.build_image())
            say(ours(results["builder"].out))
            say(
                f"== rebuilt in {time.monotonic() - started:.1f} s with "
                f"{len(gh.requests) - before} requests to GitHub"
            )
        exe = f"/layers/{BP_ID.replace('/', '_')}/{PROBE_LAYER}/bin/grpc_health_probe"
        link = "/workspace/bin/grpc_health_probe"  # the app's `link`: what docs/probes.md advises
        say("\n== in a pack-built image the probe is at:")
        say(f"   {link} (the app's link; the same binary as {exe})")
        say("   Kubernetes:  readinessProbe: { exec: { command: [")
        say(f'                  "{link}", "-addr=:50051"] }} }}   (docs/probes.md)')
        return 0
    finally:
        server.stop()
        lc.close()
        shutil.rmtree(dist, ignore_errors=True)


def lc_version() -> str:
    version_file = tools_bin() / "lifecycle.version"
    return version_file.read_text().strip() if version_file.exists() else "?"


if __name__ == "__main__":
    sys.exit(main())
