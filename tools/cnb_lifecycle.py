"""Drive the real CNB lifecycle (detector, builder, restorer, launcher) as an unprivileged user."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import toml

ROOT = Path(__file__).resolve().parents[1]
PLATFORM_API = "0.15"
USER = "cnb"
BP_ID = "probe-assets/github-assets"
BP_DIRNAME = "probe-assets_github-assets"


def tools_bin() -> Path:
    base = os.environ.get("GITHUB_ASSETS_TOOLS") or str(
        Path.home() / ".cache" / "github-assets-buildpack" / "tools"
    )
    return Path(base) / "bin"


def missing_tools() -> str:
    """Why the real lifecycle cannot run here, or '' when it can."""
    b = tools_bin()
    for name in ("lifecycle", "launcher", "grpc_health_probe"):
        if not (b / name).is_file():
            return f"{b / name} is missing: run `make tools` (scripts/install-tools.sh)"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return f"system user {USER!r} is missing: run `make tools` as root"
    if os.geteuid() != 0:
        return "the e2e suite runs as root to drop to the cnb user (setpriv)"
    return ""


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def all(self) -> str:
        return self.out + self.err


class Lifecycle:
    """A workspace shaped like a platform's: app, buildpacks, layers, platform, cnb/."""

    def __init__(self, package: Path, *, buildpacks: dict[str, Path] | None = None) -> None:
        self.user = pwd.getpwnam(USER)
        self.base = Path(tempfile.mkdtemp(prefix="ga-e2e-", dir="/tmp"))
        self.base.chmod(0o755)
        self.cnb = self.base / "cnb"
        self.app = self.base / "workspace"
        self.layers = self.base / "layers"
        self.platform = self.base / "platform"
        self.buildpacks = self.base / "buildpacks"
        self.cache = self.base / "cache"
        for d in (
            self.cnb,
            self.app,
            self.layers,
            self.platform / "env",
            self.buildpacks,
            self.cache,
        ):
            d.mkdir(parents=True, exist_ok=True)
        # The tool cache lives under /root, which the cnb user cannot read: copy.
        for name in ("lifecycle", "launcher"):
            shutil.copy2(tools_bin() / name, self.cnb / name)
        for phase in ("detector", "analyzer", "restorer", "builder", "exporter"):
            (self.cnb / phase).symlink_to("lifecycle")
        version = toml.loads((ROOT / "buildpack.toml").read_text())["buildpack"]["version"]
        self.bp_dir = self.buildpacks / BP_DIRNAME / version
        self.bp_dir.mkdir(parents=True)
        with tarfile.open(package) as tf:
            tf.extractall(self.bp_dir, filter="data")
        self.version = version
        # PATH the lifecycle (and so every buildpack) runs with; tests may take python3 away.
        self.path = "/usr/local/bin:/usr/bin:/bin"
        for bp_id, src in (buildpacks or {}).items():
            bp_version = toml.loads((src / "buildpack.toml").read_text())["buildpack"]["version"]
            dest = self.buildpacks / bp_id.replace("/", "_") / bp_version
            shutil.copytree(src, dest)

    def close(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    def chown(self) -> None:
        for path in [self.base, *self.base.rglob("*")]:
            os.lchown(path, self.user.pw_uid, self.user.pw_gid)

    def without_python(self) -> None:
        """Run the lifecycle with a PATH holding the usual tools but no python at all."""
        d = self.base / "nopython-bin"
        d.mkdir(exist_ok=True)
        for tool in ("sh", "dirname", "grep", "sed", "cat", "cp", "mkdir", "printf", "echo"):
            found = shutil.which(tool, path="/usr/bin:/bin")
            if found and not (d / tool).exists():
                (d / tool).symlink_to(found)
        self.path = str(d)

    def platform_env(self, **env: str) -> None:
        for name, value in env.items():
            (self.platform / "env" / name).write_text(value)

    def order(self, groups: list[list[dict[str, Any]]]) -> Path:
        path = self.base / "order.toml"
        path.write_text(toml.dumps({"order": [{"group": g} for g in groups]}))
        return path

    def run(self, phase: str, *args: str, as_user: bool = True, timeout: float = 300) -> Result:
        env = {
            "CNB_PLATFORM_API": PLATFORM_API,
            "PATH": self.path,
            "HOME": self.base.as_posix(),
            "CNB_EXPERIMENTAL_MODE": "warn",
        }
        cmd = [str(self.cnb / phase), *args]
        if as_user:
            self.chown()
            cmd = [
                shutil.which("setpriv") or "/usr/bin/setpriv",
                f"--reuid={self.user.pw_uid}",
                f"--regid={self.user.pw_gid}",
                "--init-groups",
                "--",
                *cmd,
            ]
        p = subprocess.run(
            cmd, env=env, cwd=self.base, capture_output=True, text=True, timeout=timeout
        )
        return Result(p.returncode, p.stdout, p.stderr)

    def common(self) -> list[str]:
        return [
            "-app", str(self.app),
            "-layers", str(self.layers),
            "-platform", str(self.platform),
            "-group", str(self.base / "group.toml"),
            "-plan", str(self.base / "plan.toml"),
            "-log-level", "debug",
        ]  # fmt: skip

    def detect(self, order: Path, *extra: str) -> Result:
        return self.run(
            "detector",
            *self.common(),
            "-buildpacks",
            str(self.buildpacks),
            "-order",
            str(order),
            *extra,
        )

    def build(self, *extra: str) -> Result:
        return self.run("builder", *self.common(), "-buildpacks", str(self.buildpacks), *extra)

    def group(self) -> dict[str, Any]:
        return toml.loads((self.base / "group.toml").read_text())

    @property
    def our_layers(self) -> Path:
        return self.layers / BP_DIRNAME

    def launch_env(self) -> dict[str, str]:
        return {
            "CNB_PLATFORM_API": PLATFORM_API,
            "CNB_LAYERS_DIR": str(self.layers),
            "CNB_APP_DIR": str(self.app),
            "PATH": "/usr/local/bin:/usr/bin:/bin",
        }

    def launch(self, *args: str, process: str | None = None, timeout: float = 60) -> Result:
        """Run the launcher: a process type (via a symlink named after it) or `-- cmd args`."""
        launcher = self.cnb / "launcher"
        if process:
            link = self.cnb / process
            if not link.exists():
                link.symlink_to("launcher")
            launcher = link
        p = subprocess.run(
            [str(launcher), *args],
            env=self.launch_env(),
            cwd=self.app,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(p.returncode, p.stdout, p.stderr)


class LayoutPlatform:
    """analyzer -> detector -> restorer -> builder -> exporter, exporting to an OCI layout."""

    def __init__(self, lc: Lifecycle, order: Path, run_image: str = "example/run") -> None:
        from tools.oci_layout import write_run_image

        self.lc = lc
        self.order = order
        self.run_image = run_image
        self.layout = lc.base / "layout"
        write_run_image(self.layout / "index.docker.io" / run_image / "latest")
        self.analyzed = str(lc.base / "analyzed.toml")

    def build_image(self, image: str = "example/app") -> list[tuple[str, Result]]:
        """One platform build; a fresh layers dir each time, as on a new build machine."""
        lc = self.lc
        shutil.rmtree(lc.layers)
        lc.layers.mkdir()
        lay = ["-layout", "-layout-dir", str(self.layout), "-log-level", "debug"]
        ids = ["-uid", str(lc.user.pw_uid), "-gid", str(lc.user.pw_gid)]
        group = str(lc.base / "group.toml")
        phases: list[tuple[str, list[str]]] = [
            ("analyzer", [*lay, "-run-image", self.run_image, "-analyzed", self.analyzed,
                          "-layers", str(lc.layers), *ids, image]),
            ("detector", [*lc.common(), "-buildpacks", str(lc.buildpacks),
                          "-order", str(self.order), "-analyzed", self.analyzed]),
            ("restorer", [*lay, "-analyzed", self.analyzed, "-group", group,
                          "-layers", str(lc.layers), "-cache-dir", str(lc.cache), *ids]),
            ("builder", [*lc.common(), "-buildpacks", str(lc.buildpacks),
                         "-analyzed", self.analyzed]),
            ("exporter", [*lay, "-analyzed", self.analyzed, "-group", group,
                          "-layers", str(lc.layers), "-app", str(lc.app),
                          "-cache-dir", str(lc.cache), "-launcher", str(lc.cnb / "launcher"),
                          *ids, image]),
        ]  # fmt: skip
        results = []
        for name, args in phases:
            r = lc.run(name, *args)
            results.append((name, r))
            if r.rc != 0:
                break
        return results
