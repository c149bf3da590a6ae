"""What a rebuild that reuses every layer imports: its whole cost is start-up and imports
(issue 24: measured as builders run it, docs/performance.md), so modules that only a
download needs must stay out of it."""

from __future__ import annotations

import subprocess
import sys

from tools.cnb_lifecycle import ROOT
from tools.github_standin import StandIn

from support import CnbDirs, elf_bytes

# Each costs a rebuild millions of instructions (callgrind): dataclasses pulls in inspect,
# ast, dis and tokenize (~26M), uuid pulls in platform (~10M), the HTTP stack far more.
HEAVY = ("requests", "urllib3", "ssl", "http", "dataclasses", "uuid", "tarfile", "zipfile")
# What only an install needs, each 1-11M instructions of a rebuild that imported it
# (callgrind, docs/performance.md): hashlib loads OpenSSL; threading, the lock file (the
# app has none), unpacking (the archive package), staging (destinations), the per-asset
# pipeline, the sources, provenance, ELF and Go build info of installed files, probes.
INSTALL_ONLY = (
    "hashlib",
    "threading",
    "concurrent",
    "github_assets.lock",
    "github_assets.archive",
    "github_assets.destinations",
    "github_assets.pipeline",
    "github_assets.parallel",
    "github_assets.sources",
    "github_assets.provenance",
    "github_assets.elf",
    "github_assets.gobuildinfo",
    "github_assets.probes",
)


def imported(phase: str, cnb: CnbDirs, env: dict[str, str]) -> set[str]:
    """Modules bin/build's python3 imports (-X importtime), run as the shim does."""
    full = cnb.env(env)
    full.update({"CNB_LAYERS_DIR": str(cnb.layers), "CNB_BP_PLAN_PATH": str(cnb.bp_plan_path)})
    cmd = [sys.executable, "-X", "importtime", "-E", "-s", "-S", str(ROOT / "src" / "boot.py")]
    args = [phase, str(cnb.layers), str(cnb.platform), str(cnb.bp_plan_path)]
    r = subprocess.run([*cmd, *args], cwd=cnb.app, env=full, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("import time:")]
    return {ln.rsplit("|", 1)[-1].strip() for ln in lines[1:]}


def test_a_rebuild_that_reuses_every_layer_imports_no_download_machinery(
    standin: StandIn, cnb: CnbDirs
) -> None:
    standin.add_release("acme/probe", "v1", {"probe-linux-amd64": elf_bytes(size=64 * 1024)})
    cnb.project(
        '[[metadata.githubassets]]\nrepo = "acme/probe"\nasset = "probe-{os}-{arch}"\ntag = "v1"\n'
    )
    env = {"GITHUB_API_URL": standin.api_url}
    cold = cnb.detect_and_build(env)
    assert cold.rc == 0, cold.all
    cnb.simulate_rebuild()
    requests = len(standin.requests)
    modules = imported("build", cnb, env)
    assert len(standin.requests) == requests, "the layer is reused without a request"
    assert "github_assets.runner" in modules
    top = {m.split(".")[0] for m in modules}
    assert not top & set(HEAVY), sorted(top & set(HEAVY))
    install_only = {m for m in modules for p in INSTALL_ONLY if m == p or m.startswith(f"{p}.")}
    assert not install_only, sorted(install_only)
