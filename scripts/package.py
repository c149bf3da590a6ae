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


def build(dest: Path) -> Path:
    version = toml.loads((ROOT / "buildpack.toml").read_text())["buildpack"]["version"]
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / f"github-assets-{version}.tgz"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for path in files():
            rel = path.relative_to(ROOT).as_posix()
            info = tarfile.TarInfo(rel)
            info.size = path.stat().st_size
            info.mtime = EPOCH
            info.mode = 0o755 if rel.startswith("bin/") else 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            with path.open("rb") as f:
                tf.addfile(info, f)
    with (
        target.open("wb") as out,
        gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=EPOCH) as gz,
    ):
        gz.write(raw.getvalue())
    return target


if __name__ == "__main__":
    dest = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "dist"
    path = build(dest)
    print(f"{path} ({path.stat().st_size // 1024} KiB)")
