"""Build engines on one machine, without Docker: a real OCI registry on loopback (`crane
registry serve`), a minimal run image pushed with crane, and the lifecycle's phases run one
by one the way kpack and Cloud Foundry run them (shared/docs/testing.md, "Engines on one
machine").

kpack: analyzer, detector, restorer, builder, exporter, each a separate process as a
non-root user, the buildpack dir root-owned and read-only, a fresh layers dir and app dir
each build (an emptyDir per build pod), the previous image and the cache image in the
registry. Cloud Foundry: no analyzer, a cache dir, so only `cache = true` layers come back.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import toml

from tools.cnb_lifecycle import Lifecycle, Result, tools_bin

STACK_ID = "io.buildpacks.stacks.jammy"


def at_least(api: str, version: str) -> bool:
    """Platform API api is version or newer."""
    return tuple(map(int, api.split("."))) >= tuple(map(int, version.split(".")))


class Registry:
    """`crane registry serve` on a free loopback port, blobs on disk; stop() ends it."""

    def __init__(self, disk: Path) -> None:
        self.crane = tools_bin() / "crane"
        if not self.crane.is_file():
            raise RuntimeError(f"{self.crane} is missing: run `make tools` (install-tools.sh)")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.host = f"127.0.0.1:{port}"
        disk.mkdir(parents=True, exist_ok=True)
        self.log = disk.parent / "registry.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [str(self.crane), "registry", "serve", "--address", self.host, "--disk", str(disk)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1):
                    return
            except (urllib.error.URLError, OSError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"crane registry serve did not come up on {self.host}: "
                        + self.log.read_text(errors="replace")
                    ) from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def crane_run(self, *args: str) -> bytes:
        done = subprocess.run([str(self.crane), *args], capture_output=True, timeout=120)
        if done.returncode != 0:
            raise AssertionError(f"crane {' '.join(args)}: {done.stderr.decode(errors='replace')}")
        return done.stdout

    def config(self, ref: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.crane_run("config", ref))
        return data

    def exists(self, ref: str) -> bool:
        done = subprocess.run([str(self.crane), "digest", ref], capture_output=True, timeout=60)
        return done.returncode == 0

    def push_run_image(self, work: Path, name: str = "run", *, build: bool = False) -> str:
        """A minimal run image: one layer (an os-release and a /tmp), os/arch set, the
        io.buildpacks labels the lifecycle reads (stack id, the distro), user cnb. build=True:
        a build image as pack wants one (CNB_USER_ID and CNB_GROUP_ID in its env)."""
        layer = work / f"{name}-layer.tar"
        with tarfile.open(layer, "w") as tf:
            for dirname in ("etc", "tmp"):
                info = tarfile.TarInfo(dirname)
                info.type, info.mode = tarfile.DIRTYPE, 0o1777 if dirname == "tmp" else 0o755
                tf.addfile(info)
            release = b'ID=ubuntu\nVERSION_ID="22.04"\n'
            info = tarfile.TarInfo("etc/os-release")
            info.size = len(release)
            tf.addfile(info, io.BytesIO(release))
        ref = f"{self.host}/{name}"
        self.crane_run("append", "--oci-empty-base", "-f", str(layer), "-t", f"{ref}:base")
        self.crane_run(
            "mutate", f"{ref}:base", "--set-platform", "linux/amd64",
            "-l", f"io.buildpacks.stack.id={STACK_ID}",
            "-l", "io.buildpacks.base.distro.name=ubuntu",
            "-l", "io.buildpacks.base.distro.version=22.04",
            "-u", "1001:1001", "-t", f"{ref}:latest",
            *(["-e", "CNB_USER_ID=1001", "-e", "CNB_GROUP_ID=1001"] if build else []),
        )  # fmt: skip
        return f"{ref}:latest"

    def export(self, ref: str, dest: Path) -> None:
        """The image's filesystem (every layer, flattened) unpacked into dest."""
        flat = self.crane_run("export", ref, "-")
        with tarfile.open(fileobj=io.BytesIO(flat)) as tf:
            tf.extractall(dest, filter="tar")


class EnginePlatform:
    """The phases of one engine over a Lifecycle's buildpacks and binaries.

    kpack=True: analyzer first, previous image and cache image in the registry. kpack=False
    (Cloud Foundry): no analyzer, a cache dir, the image exported to the registry as well
    (the lifecycle's exporter is what writes the cache).
    """

    def __init__(
        self,
        lc: Lifecycle,
        registry: Registry,
        order: Path,
        run_image: str,
        *,
        platform_api: str,
        kpack: bool = True,
    ) -> None:
        self.lc = lc
        self.registry = registry
        self.order = order
        self.run_image = run_image
        self.api = platform_api
        self.kpack = kpack
        self.stack = lc.base / "stack.toml"
        self.stack.write_text(toml.dumps({"run-image": {"image": run_image}}))
        self.docker = lc.base / "docker"
        self.docker.mkdir(exist_ok=True)
        (self.docker / "config.json").write_text("{}")
        # kpack's build pod: the buildpacks come from the builder image, root-owned and
        # read-only for the build user.
        for path in [lc.buildpacks, *lc.buildpacks.rglob("*")]:
            os.lchown(path, 0, 0)
            if not path.is_symlink():
                path.chmod(path.stat().st_mode & ~0o222)

    def run(self, phase: str, *args: str) -> Result:
        lc = self.lc
        env = {
            "CNB_PLATFORM_API": self.api,
            "PATH": lc.path,
            "HOME": str(lc.base),
            "DOCKER_CONFIG": str(self.docker),
        }
        uid, gid = lc.user.pw_uid, lc.user.pw_gid
        cmd = [
            shutil.which("setpriv") or "/usr/bin/setpriv",
            f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--",
            str(lc.cnb / phase), *args,
        ]  # fmt: skip
        p = subprocess.run(cmd, env=env, cwd=lc.base, capture_output=True, text=True, timeout=300)
        return Result(p.returncode, p.stdout, p.stderr)

    def fresh_dirs(self, app: Path) -> None:
        """A new build pod: an empty layers dir, the app source copied in, all the user's."""
        lc = self.lc
        for d in (lc.layers, lc.app):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir()
        shutil.copytree(app, lc.app, dirs_exist_ok=True)
        owned = [lc.base, lc.layers, lc.app, *lc.app.rglob("*"), lc.platform,
                 *lc.platform.rglob("*"), lc.cache, *lc.cache.rglob("*")]  # fmt: skip
        for path in owned:
            os.lchown(path, lc.user.pw_uid, lc.user.pw_gid)

    def build(self, app: Path, image: str) -> list[tuple[str, Result]]:
        """One build of app into image; stops at the first phase that fails."""
        lc = self.lc
        self.fresh_dirs(app)
        ids = ["-uid", str(lc.user.pw_uid), "-gid", str(lc.user.pw_gid)]
        log = ["-log-level", "debug"]
        new = at_least(self.api, "0.12")  # the run image is in analyzed.toml, no stack.toml
        stack = [] if new else ["-stack", str(self.stack)]
        layers = ["-layers", str(lc.layers)]
        cache = (
            ["-cache-image", f"{self.registry.host}/cache"]
            if self.kpack
            else ["-cache-dir", str(lc.cache)]
        )
        phases: list[tuple[str, list[str]]] = []
        if self.kpack:
            previous = ["-previous-image", image] if self.registry.exists(image) else []
            analyze = [*log, *layers, *ids, *cache, *previous, *stack, "-run-image", self.run_image]
            phases.append(("analyzer", [*analyze, image]))
        else:
            # Cloud Foundry has no analyzer: what the exporter needs of it, the platform says
            self.write_analyzed()
        detect_analyzed = ["-analyzed", str(lc.layers / "analyzed.toml")] if new else []
        phases += [
            ("detector", [*log, *layers, "-app", str(lc.app), "-buildpacks", str(lc.buildpacks),
                          "-order", str(self.order), "-platform", str(lc.platform),
                          *detect_analyzed]),
            ("restorer", [*log, *layers, *ids, *cache]),
            ("builder", [*log, *layers, "-app", str(lc.app), "-buildpacks", str(lc.buildpacks),
                         "-platform", str(lc.platform)]),
            ("exporter", [*log, *layers, *ids, *cache, *stack, "-app", str(lc.app),
                          "-launcher", str(lc.cnb / "launcher"), image]),
        ]  # fmt: skip
        results = []
        for name, args in phases:
            r = self.run(name, *args)
            results.append((name, r))
            if r.rc != 0:
                break
        return results

    def write_analyzed(self) -> None:
        digest = self.registry.crane_run("digest", self.run_image).decode().strip()
        reference = f"{self.run_image.rsplit(':', 1)[0]}@{digest}"
        run_image: dict[str, Any] = {"reference": reference, "image": self.run_image}
        if at_least(self.api, "0.12"):
            run_image["target"] = {"os": "linux", "arch": "amd64"}
        path = self.lc.layers / "analyzed.toml"
        path.write_text(toml.dumps({"run-image": run_image}))
        os.lchown(path, self.lc.user.pw_uid, self.lc.user.pw_gid)


def lifecycle_tgz(dest: Path, version: str) -> Path:
    """The lifecycle as its releases ship it, for `[lifecycle] uri` in a builder.toml (pack
    would download one from GitHub): lifecycle.toml plus lifecycle/<binaries>."""
    # the lifecycle's own API lists (api/apis.go of the version scripts/install-tools.sh builds)
    descriptor = {
        "apis": {
            "buildpack": {"deprecated": [], "supported": [f"0.{n}" for n in range(7, 13)]},
            "platform": {"deprecated": [], "supported": [f"0.{n}" for n in range(7, 16)]},
        },
        "api": {"platform": "0.7", "buildpack": "0.7"},
        "lifecycle": {"version": version},
    }
    out = dest / f"lifecycle-v{version}+linux.x86-64.tgz"
    binaries = tools_bin()
    with tarfile.open(out, "w:gz") as tf:
        data = toml.dumps(descriptor).encode()
        info = tarfile.TarInfo("lifecycle.toml")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
        for name in ("lifecycle", "launcher"):
            tf.add(binaries / name, f"lifecycle/{name}")
        for phase in ("detector", "analyzer", "restorer", "builder", "exporter", "creator"):
            info = tarfile.TarInfo(f"lifecycle/{phase}")
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, "lifecycle", 0o755
            tf.addfile(info)
    return out
