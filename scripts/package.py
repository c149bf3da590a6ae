"""Package the buildpack: a reproducible .tgz with buildpack.toml at its root.

`pack build --buildpack ./dist/github-assets-<version>.tgz` accepts it, and it
runs on a build image's python3 >= 3.10 with no pip install (deps vendored).

It ships bytecode for every supported CPython (contract, "Packaging"): builders run the
buildpack from a read-only dir as a non-root user, where Python can neither use a cache
it cannot find nor write one, so without it every detect and build would compile our
code and the vendored deps again (a cold build of one small asset: 276 instead of
140 ms). Each module gets an unchecked-hash .pyc per minor in its __pycache__, made by
that minor's own interpreter (the bytecode format changes with every minor): nothing
is compiled at build time, and the .pyc embeds no mtime, so the archive stays
reproducible.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import toml

ROOT = Path(__file__).resolve().parent.parent
EPOCH = 315532800  # 1980-01-01: fixed mtimes make the archive reproducible
MINORS = ((3, 10), (3, 11), (3, 12), (3, 13))
"""The CPython minors the package carries bytecode for: every one the buildpack supports."""
PYENV = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
SCRIPTS = frozenset({"src/boot.py"})
"""Run as __main__ by bin/detect and bin/build: Python never reads a .pyc for a script."""

# Run by each minor's interpreter: compile (source, archive path) pairs from stdin into
# <out>/<dir>/__pycache__/<name>.<cache tag>.pyc. dfile is the archive path, so no path of
# this machine is inside the .pyc (import puts the real one in co_filename when it loads).
_COMPILE = """
import importlib.util, json, os, py_compile, sys
out = sys.argv[1]
for src, rel in json.load(sys.stdin):
    cfile = os.path.join(out, importlib.util.cache_from_source(rel))
    try:
        py_compile.compile(src, cfile=cfile, dfile=rel, doraise=True, optimize=0,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    except py_compile.PyCompileError as e:
        sys.exit("%s: %s" % (rel, str(e.exc_value).splitlines()[0]))
"""


def files() -> list[Path]:
    """Everything the buildpack needs at run time, nothing else."""
    include = toml.loads((ROOT / "buildpack.toml").read_text())["metadata"]["include-files"]
    out: list[Path] = []
    for entry in include:
        path = ROOT / entry
        if not path.exists():
            raise SystemExit(f"error: {entry} is missing; run `make vendor` first")
        if path.is_dir():
            out += [
                p
                for p in path.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
            ]
        else:
            out.append(path)
    return sorted(set(out))


def interpreter(minor: tuple[int, int]) -> Path | None:
    """This machine's CPython of that minor: pyenv's newest patch release, else
    python3.X on PATH (resolved to the interpreter itself, not a pyenv shim)."""
    want = f"{minor[0]}.{minor[1]}"
    patch = re.compile(re.escape(want) + r"\.(\d+)$")
    versions = [p for p in PYENV.glob(f"{want}.*") if patch.match(p.name)]
    versions.sort(key=lambda p: int(patch.match(p.name).group(1)), reverse=True)  # type: ignore[union-attr]
    candidates = [str(p / "bin" / f"python{want}") for p in versions]
    candidates += [c for c in (shutil.which(f"python{want}"),) if c]
    probe = "import sys; print(sys.implementation.name, '%d.%d' % sys.version_info[:2]); "
    probe += "print(sys.executable)"
    for exe in candidates:
        try:
            out = subprocess.run(
                [exe, "-c", probe], capture_output=True, text=True, timeout=60, check=False
            )
        except OSError:
            continue
        lines = out.stdout.split("\n")
        if out.returncode == 0 and lines[0] == f"cpython {want}" and lines[1]:
            return Path(lines[1])
    return None


def interpreters() -> list[Path]:
    """One interpreter per minor in MINORS; the packaging fails, naming every one missing."""
    found = {minor: interpreter(minor) for minor in MINORS}
    missing = [f"{a}.{b}" for (a, b), exe in found.items() if exe is None]
    if missing:
        raise SystemExit(
            f"error: make package compiles the bytecode it ships with each supported CPython, "
            f"and this machine has no CPython {', '.join(missing)} (looked in {PYENV} and for "
            f"python3.X on PATH); install {'it' if len(missing) == 1 else 'them'} (e.g. "
            f"`pyenv install {missing[0]}`) and run make package again"
        )
    return [exe for exe in found.values() if exe is not None]


def bytecode(sources: list[Path], into: Path) -> list[Path]:
    """The .pyc of every module for every minor in MINORS, under `into` at their archive
    paths; one interpreter per minor, all at once."""
    pairs = [
        (str(p), rel)
        for p in sources
        if p.suffix == ".py" and (rel := p.relative_to(ROOT).as_posix()) not in SCRIPTS
    ]
    exes = interpreters()
    # PYTHONHASHSEED: a set or frozenset constant is marshalled in iteration order, which
    # follows the string hashes (3.10 and 3.11 do not sort them); a fixed seed fixes it.
    env = {"PYTHONHASHSEED": "0", "LC_ALL": "C.UTF-8"}
    procs = [
        subprocess.Popen(
            [str(exe), "-s", "-S", "-c", _COMPILE, str(into)],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for exe in exes
    ]
    failed = []
    for exe, proc in zip(exes, procs, strict=True):
        _, err = proc.communicate(json.dumps(pairs))
        if proc.returncode != 0:
            last = err.strip().splitlines()[-1] if err.strip() else f"exit {proc.returncode}"
            failed.append(f"error: {exe} could not compile {last}")
    if failed:
        raise SystemExit("\n".join(failed))
    return sorted(into.rglob("*.pyc"))


def _add(tf: tarfile.TarFile, rel: str, path: Path) -> None:
    info = tarfile.TarInfo(rel)
    info.size = path.stat().st_size
    info.mtime = EPOCH
    info.mode = 0o755 if rel.startswith("bin/") else 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    with path.open("rb") as f:
        tf.addfile(info, f)


def dependencies(lock_path: Path, into: Path) -> list[tuple[str, Path]]:
    """Every asset of the lock, fetched and verified against it, as (archive path, file).

    Fetched as a build would: through the GitHub API (GITHUB_API_URL, GITHUB_TOKEN), each
    checked against the lock's size and sha256 before it goes into the package.
    """
    sys.path[:0] = [str(ROOT / "src"), str(ROOT / "vendor")]
    import os
    import threading

    from github_assets import lock as lockfile
    from github_assets import pipeline, redact
    from github_assets.config import parse_entry
    from github_assets.errors import BuildpackError
    from github_assets.log import Log
    from github_assets.platform import Target
    from github_assets.services import make_services
    from github_assets.settings import Settings
    from github_assets.sources import FileSink, fetch_verified

    env = dict(os.environ)
    redact.environment(env)

    def failed(e: BuildpackError) -> str:
        """The build's one-line error, through the build's one redaction."""
        return "error: " + redact.text(e.first_line())

    try:
        lock = lockfile.read(str(lock_path), str(lock_path))
    except BuildpackError as e:  # a malformed lock: one line naming the file and the key
        raise SystemExit(failed(e)) from None
    if lock is None:
        raise SystemExit(f"error: {lock_path} does not exist; run github-assets lock first")
    log = Log(sys.stderr)
    svc = make_services(env, Settings.from_env(env), log)
    out = []
    for entry in lock.entries:
        table = {**dict(entry.picks), "tag": entry.resolved_tag}
        try:
            spec = parse_entry(table, f"{lock_path.name}: {table['repo']} {entry.name}")
        except BuildpackError as e:
            raise SystemExit(failed(e)) from None
        target = Target(*entry.target.split("/", 1))
        rel = f"dependencies/{entry.sha256}/{entry.name}"
        if any(r == rel for r, _ in out):
            continue
        dest = into / entry.sha256 / entry.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            source = svc.source_for(spec)
            asset = source.resolve(spec, target, log=log, cancel=threading.Event())
            # The lock's word, and every other the build would check (pipeline.expected_for).
            asset = asset._replace(size=entry.size, claims=(entry.claim,))
            expected = pipeline.expected_for(spec, target, asset)
            with dest.open("wb") as f:
                fetch_verified(source, asset, FileSink(f), expected, log=log, cancel=None)
        except BuildpackError as e:
            raise SystemExit(failed(e)) from None
        print(f"packaged {entry.name} ({entry.target}) sha256:{entry.sha256}", file=sys.stderr)
        out.append((rel, dest))
        if entry.provenance:
            # What verified the asset's provenance when it was locked, so an air-gapped build
            # (pinned, without the lock) verifies it again (provenance.proving.OFFLINE_FILE).
            carried = dest.parent / "provenance.json"
            carried.write_text(json.dumps(entry.provenance, sort_keys=True), encoding="utf-8")
            out.append((f"dependencies/{entry.sha256}/provenance.json", carried))
    return out


def build(dest: Path, lock: Path | None = None) -> Path:
    """The .tgz; with a lock, the offline package: its assets under dependencies/<sha256>/."""
    import tempfile

    version = toml.loads((ROOT / "buildpack.toml").read_text())["buildpack"]["version"]
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / f"github-assets-{version}{'-offline' if lock else ''}.tgz"
    raw = io.BytesIO()
    with (
        tempfile.TemporaryDirectory() as tmp,
        tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf,
    ):
        sources = files()
        compiled = Path(tmp) / "pyc"
        entries = [(p.relative_to(ROOT).as_posix(), p) for p in sources]
        entries += [(p.relative_to(compiled).as_posix(), p) for p in bytecode(sources, compiled)]
        for rel, path in sorted(entries):
            _add(tf, rel, path)
        for rel, path in sorted(dependencies(lock, Path(tmp) / "deps") if lock else []):
            _add(tf, rel, path)
    with (
        target.open("wb") as out,
        gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=EPOCH) as gz,
    ):
        gz.write(raw.getvalue())
    return target


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", nargs="?", type=Path, default=ROOT / "dist")
    parser.add_argument("--lock", type=Path, default=None, help="make the offline package")
    args = parser.parse_args()
    path = build(args.dest, args.lock)
    print(f"{path} ({path.stat().st_size // 1024} KiB)")
