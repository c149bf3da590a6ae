"""An app dir, platform dir and layers dir shaped like the lifecycle's, and bin/detect and
bin/build run in them as real subprocesses (tests and benchmarks share it)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import toml

from tools.cnb_lifecycle import ROOT, Result

LAYERS_ID = "probe-assets_github-assets"
# Environment passed to the phases: only what a lifecycle would pass, plus PATH.
_KEEP = ("PATH", "HOME", "LANG", "PYENV_VERSION", "PYENV_ROOT", "TMPDIR")

# One phase's outcome: exit code, stdout, stderr (the lifecycle driver's type).
Phase = Result


class CnbDirs:
    """An app dir, platform dir and a layers dir shaped like the lifecycle's."""

    def __init__(self, base: Path, *, buildpack_dir: Path = ROOT) -> None:
        self.base = base
        self.app = base / "workspace"
        self.platform = base / "platform"
        self.layers_root = base / "layers"
        self.layers = self.layers_root / LAYERS_ID
        self.buildpack = buildpack_dir
        for d in (self.app, self.platform / "env", self.layers):
            d.mkdir(parents=True, exist_ok=True)
        self.plan_path = base / "plan.toml"
        self.bp_plan_path = base / "bp-plan.toml"
        self.prefix: list[str] = []
        """Put before bin/detect and bin/build (tools/builder.py: setpriv to the build user)."""

    def project(self, text: str, name: str = "project.toml") -> None:
        (self.app / name).write_text(text)

    def env(self, extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
        """What a lifecycle passes, plus extra (a None value: the variable is not set)."""
        env = {k: v for k, v in os.environ.items() if k in _KEEP}
        env.update(
            {
                "CNB_BUILDPACK_DIR": str(self.buildpack),
                "CNB_PLATFORM_DIR": str(self.platform),
                "CNB_TARGET_OS": "linux",
                "CNB_TARGET_ARCH": "amd64",
            }
        )
        for name, value in (extra or {}).items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return env

    def detect(self, extra_env: Mapping[str, str | None] | None = None) -> Phase:
        env = self.env(extra_env)
        env["CNB_BUILD_PLAN_PATH"] = str(self.plan_path)
        p = subprocess.run(
            [
                *self.prefix,
                str(self.buildpack / "bin" / "detect"),
                str(self.platform),
                str(self.plan_path),
            ],
            cwd=self.app,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return Phase(p.returncode, p.stdout, p.stderr)

    def plan(self) -> dict[str, Any]:
        return toml.loads(self.plan_path.read_text())

    def bp_plan_from_detect(self, others: list[dict[str, Any]] | None = None) -> None:
        """Write the buildpack plan the lifecycle would give build: our requires + others'."""
        entries = [
            {"name": r["name"], "metadata": r.get("metadata", {})}
            for r in self.plan().get("requires", [])
        ]
        entries += others or []
        self.bp_plan_path.write_text(toml.dumps({"entries": entries}))

    def build(
        self, extra_env: Mapping[str, str | None] | None = None, timeout: float = 300
    ) -> Phase:
        env = self.env(extra_env)
        env.update({"CNB_LAYERS_DIR": str(self.layers), "CNB_BP_PLAN_PATH": str(self.bp_plan_path)})
        p = subprocess.run(
            [
                *self.prefix,
                str(self.buildpack / "bin" / "build"),
                str(self.layers),
                str(self.platform),
                str(self.bp_plan_path),
            ],
            cwd=self.app,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Phase(p.returncode, p.stdout, p.stderr)

    def detect_and_build(self, extra_env: Mapping[str, str | None] | None = None) -> Phase:
        d = self.detect(extra_env)
        assert d.rc == 0, d.all
        self.bp_plan_from_detect()
        return self.build(extra_env)

    def layer_toml(self, name: str) -> dict[str, Any]:
        return toml.loads((self.layers / f"{name}.toml").read_text())

    def launch_toml(self) -> dict[str, Any]:
        return toml.loads((self.layers / "launch.toml").read_text())

    def simulate_rebuild(self, *, from_cache: bool = True) -> None:
        """What the lifecycle restores: a cache = true layer's toml and directory (from the
        cache), a launch-only layer's toml alone (from the previous image). from_cache=False:
        the toml alone for every layer (metadata of an image, content nowhere)."""
        for p in self.layers.iterdir():
            if p.is_dir():
                meta = self.layers / f"{p.name}.toml"
                data = toml.loads(meta.read_text()) if meta.exists() else {}
                # [types] (Buildpack API >= 0.6) or top-level keys (older, the predecessor's)
                cache = data.get("types", data).get("cache")
                if not cache or not from_cache:
                    shutil.rmtree(p)
            elif p.name in ("launch.toml",) or ".sbom." in p.name:
                p.unlink()
        for p in self.app.iterdir():
            if p.is_symlink():
                p.unlink()

    def files_outside_layers(self) -> list[str]:
        """Anything left in the layers dir that is neither a layer nor a CNB file."""
        return sorted(
            p.name
            for p in self.layers.iterdir()
            if not (
                p.name.endswith(".toml")
                or ".sbom." in p.name
                or (self.layers / f"{p.name}.toml").exists()
            )
        )
