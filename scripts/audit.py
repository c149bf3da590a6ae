"""Audit the vendored runtime dependencies against PyPI's vulnerability data.

pip-audit cannot run here: it asks PyPI's per-version JSON endpoint, which this
network does not serve (404), and OSV is unreachable. PyPI's project endpoint
is served, and it lists the known vulnerabilities of the newest release; since
the contract wants the newest releases vendored, a pin that is not the newest
is reported as a failure too (it cannot be audited, and it is not current).
"""

from __future__ import annotations

import json
import re
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s]+)")


def pins() -> list[tuple[str, str]]:
    text = (ROOT / "requirements" / "runtime.txt").read_text()
    return [
        (m.group(1), m.group(2)) for line in text.splitlines() if (m := PIN.match(line.strip()))
    ]


def json_api() -> str:
    """PyPI's JSON API base, as pip itself knows it (no host written here)."""
    from pip._internal.models.index import PyPI

    return str(PyPI.pypi_url).rstrip("/")


def main() -> int:
    failed = 0
    for name, version in pins():
        url = f"{json_api()}/{name}/json"
        with urllib.request.urlopen(url, timeout=60) as resp:
            data = json.load(resp)
        newest = data["info"]["version"]
        vulns = data.get("vulnerabilities") or []
        if version != newest:
            print(f"FAIL {name}=={version}: newest is {newest}; update requirements/runtime.txt")
            failed += 1
        elif vulns:
            ids = ", ".join(v.get("id", "?") for v in vulns)
            print(f"FAIL {name}=={version}: known vulnerabilities {ids}")
            failed += 1
        else:
            print(f"ok   {name}=={version}: newest release, no known vulnerability")
    print(f"audit: {len(pins()) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
