"""Package the buildpack: a reproducible .tgz with buildpack.toml at its root.

`pack build --buildpack ./dist/github-assets-<version>.tgz` accepts it, and it
runs on a build image's python3 >= 3.10 with no pip install (deps vendored).
"""

from __future__ import annotations

import gzip
import io
import sys
import tarfile
from pathlib import Path

import toml

ROOT = Path(__file__).resolve().parent.parent
EPOCH = 315532800  # 1980-01-01: fixed mtimes make the archive reproducible


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
    from github_assets import pipeline
    from github_assets.config import parse_entry
    from github_assets.errors import BuildpackError
    from github_assets.log import Log
    from github_assets.platform import Target
    from github_assets.services import make_services
    from github_assets.settings import Settings
    from github_assets.sources import FileSink, fetch_verified

    env = dict(os.environ)
    lock = lockfile.read(str(lock_path), str(lock_path))
    if lock is None:
        raise SystemExit(f"error: {lock_path} does not exist; run github-assets lock first")
    log = Log(sys.stderr)
    svc = make_services(env, Settings.from_env(env), log)
    out = []
    for entry in lock.entries:
        table = {**dict(entry.picks), "tag": entry.resolved_tag}
        spec = parse_entry(table, f"{lock_path.name}: {table['repo']} {entry.name}")
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
            raise SystemExit(f"error: {e.first_line()}") from None
        print(f"packaged {entry.name} ({entry.target}) sha256:{entry.sha256}", file=sys.stderr)
        out.append((rel, dest))
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
        for path in files():
            _add(tf, path.relative_to(ROOT).as_posix(), path)
        for rel, path in sorted(dependencies(lock, Path(tmp)) if lock else []):
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
