"""Shared test helpers: run bin/detect and bin/build for real, make real ELF files and archives."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import struct
import subprocess
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import toml
from tools.cnb_lifecycle import Result

from github_assets.config import load_project

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "bin"
LAYERS_ID = "probe-assets_github-assets"

# Environment passed to the phases: only what a lifecycle would pass, plus PATH.
_KEEP = ("PATH", "HOME", "LANG", "PYENV_VERSION", "PYENV_ROOT", "TMPDIR")

# The project.toml of cage1016/github-assets-cnb's README (its youtubedr asset is the
# amd64 one here, so the ELF check passes on this machine); it must work unchanged.
CAGE1016_PROJECT = """
[[build.env]]
name = "APITEST_TOOLCHAIN_TOKEN"
value = "<github-token>"

[[metadata.githubassets]]
repo = "kkdai/youtube"
asset = "youtubedr_2.7.0_linux_amd64.tar.gz"
destination = "bin"

[[metadata.githubassets]]
repo = "qeek-dev/apitest-toolchain"
token_env = "APITEST_TOOLCHAIN_TOKEN"
asset = "apitest-toolchain-linux-amd64"
destination = "bin/apitest-toolchain"
tag = "v0.1.0"

[[metadata.githubassets]]
repo = "stedolan/jq"
asset = "jq-linux64"
destination = "bin/jq"
strip_components = 0
"""


class FileSink:
    """A download into one file (the sink a test gives a source; builds unpack instead)."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("wb")
        self._buffer = memoryview(bytearray(1 << 20))

    def __enter__(self) -> FileSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def buffer(self) -> memoryview:
        return self._buffer

    def commit(self, n: int) -> None:
        self._file.write(self._buffer[:n])

    def restart(self) -> None:
        self._file.seek(0)
        self._file.truncate()


EM_X86_64 = 62
EM_AARCH64 = 183


def elf_bytes(machine: int = EM_X86_64, *, interp: str | None = None, size: int = 4096) -> bytes:
    """A minimal but well-formed ELF64 executable header with optional PT_INTERP."""
    phnum = 1 if interp else 0
    ehdr = struct.pack(
        "<4sBBBBB7xHHIQQQIHHHHHH",
        b"\x7fELF",
        2,  # ELFCLASS64
        1,  # little endian
        1,  # version
        0,
        0,
        2,  # ET_EXEC
        machine,
        1,
        0x400000,
        64 if phnum else 0,  # phoff
        0,  # shoff
        0,
        64,
        56,
        phnum,
        64,
        0,
        0,
    )
    body = ehdr
    if interp:
        data = interp.encode() + b"\0"
        off = 64 + 56
        body += struct.pack("<IIQQQQQQ", 3, 4, off, 0, 0, len(data), len(data), 1) + data
    return body + b"\0" * max(0, size - len(body))


def host_binary() -> bytes:
    """A real dynamic x86-64 executable of this machine (runs here)."""
    return Path(shutil.which("true") or "/bin/true").read_bytes()


def tar_gz(members: dict[str, bytes], *, mode: int = 0o755, compression: str = "gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=f"w:{compression}" if compression else "w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            info.mtime = 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes], *, mode: int = 0o755) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (0o100000 | mode) << 16
            zf.writestr(info, data)
    return buf.getvalue()


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

    def project(self, text: str, name: str = "project.toml") -> None:
        (self.app / name).write_text(text)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in _KEEP}
        env.update(
            {
                "CNB_BUILDPACK_DIR": str(self.buildpack),
                "CNB_PLATFORM_DIR": str(self.platform),
                "CNB_TARGET_OS": "linux",
                "CNB_TARGET_ARCH": "amd64",
            }
        )
        env.update(extra or {})
        return env

    def detect(self, extra_env: dict[str, str] | None = None) -> Phase:
        env = self.env(extra_env)
        env["CNB_BUILD_PLAN_PATH"] = str(self.plan_path)
        p = subprocess.run(
            [str(self.buildpack / "bin" / "detect"), str(self.platform), str(self.plan_path)],
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

    def build(self, extra_env: dict[str, str] | None = None, timeout: float = 300) -> Phase:
        env = self.env(extra_env)
        env.update({"CNB_LAYERS_DIR": str(self.layers), "CNB_BP_PLAN_PATH": str(self.bp_plan_path)})
        p = subprocess.run(
            [
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

    def detect_and_build(self, extra_env: dict[str, str] | None = None) -> Phase:
        d = self.detect(extra_env)
        assert d.rc == 0, d.all
        self.bp_plan_from_detect()
        return self.build(extra_env)

    def layer_toml(self, name: str) -> dict[str, Any]:
        return toml.loads((self.layers / f"{name}.toml").read_text())

    def launch_toml(self) -> dict[str, Any]:
        return toml.loads((self.layers / "launch.toml").read_text())

    def simulate_rebuild(self) -> None:
        """What the lifecycle restores for a launch-only layer: the toml, not the directory."""
        for p in self.layers.iterdir():
            if p.is_dir():
                meta = self.layers / f"{p.name}.toml"
                cache = meta.exists() and toml.loads(meta.read_text())["types"].get("cache")
                if not cache:
                    shutil.rmtree(p)
            elif p.name in ("launch.toml",) or p.name.endswith(".sbom.cdx.json"):
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
                or p.name.endswith(".sbom.cdx.json")
                or (self.layers / f"{p.name}.toml").exists()
            )
        )


def tree(base: Path) -> dict[str, str]:
    """Every path under base (symlinks not followed): its type, mode bits and content digest."""
    out: dict[str, str] = {}
    for path in sorted(base.rglob("*")):
        st = path.lstat()
        if stat.S_ISREG(st.st_mode):
            what = "file " + hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        elif stat.S_ISLNK(st.st_mode):
            what = "link " + os.readlink(path)
        elif stat.S_ISDIR(st.st_mode):
            what = "dir"
        else:
            what = "special"
        out[str(path.relative_to(base))] = f"{what} {stat.S_IMODE(st.st_mode):o}"
    return out


def assert_secret_kept(secret: str, phase: Phase, cnb: CnbDirs, storage: list[Any]) -> None:
    """The token is in no output, no file of the build (layers, SBOMs, launch.toml labels,
    app dir), and never reached the storage host (storage: StandIn.storage_requests())."""
    assert secret not in phase.out and secret not in phase.err
    for path in cnb.base.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert secret.encode() not in path.read_bytes(), path
    for request in storage:
        assert "authorization" not in request.headers, request
        assert secret not in request.path, request
        assert all(secret not in value for value in request.headers.values()), request


def write_plan(cnb: CnbDirs) -> None:
    """The buildpack plan bin/detect + the lifecycle would give build for the app's config."""
    entries = [
        {"name": "github-assets", "metadata": spec.to_metadata()}
        for spec in load_project(cnb.app, {})
    ]
    cnb.bp_plan_path.write_text(toml.dumps({"entries": entries}))
