"""Move every pin to PyPI's newest release, for maintainers (`make update-deps`).

- requirements/runtime.txt: each `name==version --hash=sha256:...` line gets the newest
  release and the sha256 of its pure-Python wheel (what scripts/vendor.sh installs); a
  line ending `# held: <why>` stays as it is (see audit.py).
- requirements/dev.txt (unless --no-dev): the test tools of requirements/dev.in and
  everything they need, resolved by pip now and pinned exactly, so the test command
  installs the same tools on every machine until the next update.

Prints what changed. `make update-deps` re-vendors afterwards and runs the audit.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from audit import HELD, PIN, RUNTIME, Unavailable, default_json_api, fetch_json

REQUIREMENTS = RUNTIME.parent
LINE = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)\s+--hash=sha256:[0-9a-f]{64}\s*$")
STAMP = re.compile(r"Newest releases as of \d{4}-\d{2}-\d{2}")


def newest_wheel(name: str, api: str) -> tuple[str, str]:
    """(version, sha256) of the newest release's pure-Python wheel."""
    project = fetch_json(f"{api}/{name}/json")
    if project is None:
        raise Unavailable(f"{api}/{name}/json: HTTP 404 (no such project on the index)")
    version = str(project["info"]["version"])
    wheels = [
        f
        for f in project.get("urls") or []
        if f.get("packagetype") == "bdist_wheel"
        and str(f.get("filename", "")).endswith("-none-any.whl")
    ]
    if not wheels:
        raise Unavailable(f"{name} {version} has no pure-Python wheel (py3-none-any) on the index")
    return version, str(wheels[0]["digests"]["sha256"])


def update_runtime(path: Path, api: str) -> list[str]:
    """Rewrite path in place; the lines that say what changed."""
    out, said = [], []
    for line in path.read_text().splitlines():
        pin, hold = PIN.match(line.strip()), HELD.search(line)
        if pin and hold:
            out.append(line)
            said.append(f"{pin.group(1)} {pin.group(2)} (held: {hold.group(1)})")
            continue
        m = LINE.match(line.strip())
        if m is None:
            out.append(STAMP.sub(f"Newest releases as of {datetime.date.today()}", line))
            continue
        name, old = m.groups()
        new, digest = newest_wheel(name, api)
        out.append(f"{name}=={new} --hash=sha256:{digest}")
        said.append(f"{name} {old} -> {new}" if new != old else f"{name} {old} (newest)")
    path.write_text("\n".join(out) + "\n")
    return said


def resolve_dev(dev_in: Path) -> dict[str, str]:
    """Every package pip would install for dev_in now, name -> version."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
             "--quiet", "--report", str(report), "-r", str(dev_in)],
            check=True,
        )  # fmt: skip
        data: dict[str, Any] = json.loads(report.read_text())
    return {i["metadata"]["name"]: i["metadata"]["version"] for i in data["install"]}


def update_dev(dev_in: Path, dev_txt: Path) -> list[str]:
    old = {
        m.group(1).lower(): m.group(2)
        for line in dev_txt.read_text().splitlines()
        if (m := re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line))
    } if dev_txt.exists() else {}  # fmt: skip
    new = resolve_dev(dev_in)
    lines = [
        f"# Test and lint tools, pinned with everything they need: {dev_in.name} resolved",
        f"# by `make update-deps` on {datetime.date.today()}. Not shipped in the buildpack.",
    ]
    lines += [f"{n}=={v}" for n, v in sorted(new.items(), key=lambda kv: kv[0].lower())]
    dev_txt.write_text("\n".join(lines) + "\n")
    return [
        f"{n} {old.get(n.lower(), 'new')} -> {v}"
        for n, v in sorted(new.items())
        if old.get(n.lower()) != v
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json-api", default=None, help="PyPI JSON API base (default: pip's)")
    parser.add_argument("--requirements", type=Path, default=RUNTIME, help="runtime pins")
    parser.add_argument("--no-dev", action="store_true", help="leave requirements/dev.txt alone")
    args = parser.parse_args(argv)
    api = (args.json_api or default_json_api()).rstrip("/")
    try:
        for line in update_runtime(args.requirements, api):
            print(f"runtime: {line}")
    except Unavailable as e:
        print(f"error: cannot update {args.requirements.name}: {e}", file=sys.stderr)
        return 1
    if not args.no_dev:
        changed = update_dev(REQUIREMENTS / "dev.in", REQUIREMENTS / "dev.txt")
        for line in changed or ["no change"]:
            print(f"dev: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
