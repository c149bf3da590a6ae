"""Audit the pinned runtime dependencies against PyPI's vulnerability data.

The gate depends on the commit, not on what PyPI publishes tomorrow: a pin fails
only when PyPI's advisory data lists a known vulnerability for it, or when that
data cannot be fetched at all. A newer upstream release is a note (`make
update-deps` moves the pins); `--strict`, for release time, fails on it too, except
for a pin held on purpose: a line ending `# held: <why>` (tomli stays below 2.4,
which parses TOML 1.1), which `make update-deps` leaves alone.

Which advisory data: PyPI's per-version JSON (`/<name>/<version>/json`) names the
vulnerabilities of exactly the pinned version; its project JSON (`/<name>/json`)
those of the newest release. When the pin is the newest, the project JSON is that
version's data. When it is not and the per-version JSON is not served (this
network answers 404 for it, which is also why pip-audit cannot run here), the
project JSON's list is the best available: its unfixed advisories apply to older
versions too. The output says which data each line rests on.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "requirements" / "runtime.txt"
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;]+)")
HELD = re.compile(r"\s#\s*held:\s*(.+?)\s*$")
TIMEOUT = 60.0


class Unavailable(Exception):
    """PyPI's data could not be fetched (network, HTTP status other than 404, not JSON)."""


Fetch = Callable[[str], "dict[str, Any] | None"]


def pins(path: Path) -> list[tuple[str, str]]:
    """(name, version) of every `name==version` line of a requirements file."""
    return [
        (m.group(1), m.group(2))
        for line in path.read_text().splitlines()
        if (m := PIN.match(line.strip()))
    ]


def held(path: Path) -> dict[str, str]:
    """Pins held on purpose below the newest release: name -> why (`# held: why`)."""
    out = {}
    for line in path.read_text().splitlines():
        m, h = PIN.match(line.strip()), HELD.search(line)
        if m and h:
            out[m.group(1)] = h.group(1)
    return out


def default_json_api() -> str:
    """PyPI's JSON API base, as pip itself knows it (no host written here)."""
    from pip._internal.models.index import PyPI

    return str(PyPI.pypi_url).rstrip("/")


def fetch_json(url: str) -> dict[str, Any] | None:
    """The JSON document at url; None for a 404; Unavailable for anything else that fails."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as resp:
            data = json.load(resp)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise Unavailable(f"{url}: HTTP {e.code}") from e
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise Unavailable(f"{url}: {reason}") from e
    except ValueError as e:
        raise Unavailable(f"{url}: not JSON") from e
    if not isinstance(data, dict):
        raise Unavailable(f"{url}: not a JSON object")
    return data


def _active(vulns: object) -> list[dict[str, Any]]:
    """Advisories that still stand (withdrawn ones do not)."""
    if not isinstance(vulns, list):
        return []
    return [v for v in vulns if isinstance(v, dict) and not v.get("withdrawn")]


def _describe(vulns: list[dict[str, Any]]) -> str:
    parts = []
    for v in vulns:
        fixed = ", ".join(str(f) for f in v.get("fixed_in") or [])
        parts.append(f"{v.get('id', '?')}" + (f" (fixed in {fixed})" if fixed else ""))
    return "; ".join(parts)


def audit_pin(
    name: str, version: str, api: str, fetch: Fetch, strict: bool, hold: str = ""
) -> tuple[bool, str]:
    """(passed, the line to print) for one pin. Raises Unavailable when nothing can be read."""
    project = fetch(f"{api}/{name}/json")
    if project is None:
        raise Unavailable(f"{api}/{name}/json: HTTP 404 (no such project on the index)")
    try:
        newest = str(project["info"]["version"])
    except (KeyError, TypeError) as e:
        raise Unavailable(f"{api}/{name}/json: no info.version in the answer") from e
    if version == newest:
        vulns, basis = _active(project.get("vulnerabilities")), "advisories of this version"
    else:
        exact = fetch(f"{api}/{name}/{version}/json")
        if exact is not None:
            vulns, basis = _active(exact.get("vulnerabilities")), "advisories of this version"
        else:
            vulns = _active(project.get("vulnerabilities"))
            basis = f"advisories of {newest}; PyPI serves no per-version data here"
    if vulns:
        return False, f"FAIL {name}=={version}: known vulnerabilities {_describe(vulns)}"
    if version != newest:
        if hold:
            return True, f"held {name}=={version} ({newest} is out): {hold} ({basis})"
        if strict:
            return False, f"FAIL {name}=={version}: {newest} is out (--strict): make update-deps"
        return True, f"note {name} {newest} is out (pinned {version}): make update-deps ({basis})"
    return True, f"ok   {name}=={version}: newest release, no known vulnerability"


def run(requirements: Path, api: str, strict: bool, fetch: Fetch = fetch_json) -> int:
    listed = pins(requirements)
    if not listed:
        print(f"FAIL audit: no name==version pins in {requirements}")
        return 1
    holds = held(requirements)
    passed = failed = 0
    for name, version in listed:
        try:
            ok, line = audit_pin(name, version, api, fetch, strict, holds.get(name, ""))
        except Unavailable as e:
            print(f"FAIL audit: cannot fetch PyPI's advisory data for {name}: {e}")
            return 1
        print(line)
        passed += ok
        failed += not ok
    print(f"audit: {passed} passed, {failed} failed")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strict", action="store_true", help="fail on any pin not the newest")
    parser.add_argument("--requirements", type=Path, default=RUNTIME, help="pins to audit")
    parser.add_argument("--json-api", default=None, help="PyPI JSON API base (default: pip's)")
    args = parser.parse_args(argv)
    return run(args.requirements, (args.json_api or default_json_api()).rstrip("/"), args.strict)


if __name__ == "__main__":
    sys.exit(main())
