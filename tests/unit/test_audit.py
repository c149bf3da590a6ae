"""scripts/audit.py and scripts/update_deps.py against a loopback stand-in of PyPI's JSON API."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HASH = "ab" * 32


class PyPI:
    """Projects by name: newest version, advisories per version, wheel digests."""

    def __init__(self) -> None:
        self.newest: dict[str, str] = {}
        self.vulns: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.per_version = True  # False: per-version JSON answers 404, as on this network
        self.requests: list[str] = []

    def project(self, name: str) -> dict[str, Any]:
        newest = self.newest[name]
        return {
            "info": {"name": name, "version": newest},
            "vulnerabilities": self.vulns.get((name, newest), []),
            "urls": [
                {"packagetype": "sdist", "filename": f"{name}-{newest}.tar.gz",
                 "digests": {"sha256": "00" * 32}},
                {"packagetype": "bdist_wheel", "filename": f"{name}-{newest}-py3-none-any.whl",
                 "digests": {"sha256": HASH}},
            ],
        }  # fmt: skip

    def answer(self, path: str) -> dict[str, Any] | None:
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "pypi" and parts[2] == "json":
            return self.project(parts[1]) if parts[1] in self.newest else None
        if len(parts) == 4 and parts[0] == "pypi" and parts[3] == "json" and self.per_version:
            name, version = parts[1], parts[2]
            return {
                "info": {"version": version},
                "vulnerabilities": self.vulns.get((name, version), []),
            }
        return None


@pytest.fixture
def pypi() -> Iterator[tuple[PyPI, str]]:
    state = PyPI()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            data = state.answer(self.path)
            body = json.dumps(data).encode() if data is not None else b"not found"
            self.send_response(200 if data is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/pypi"
    finally:
        server.shutdown()
        server.server_close()


VULN = {"id": "PYSEC-2026-1", "fixed_in": ["2.0.1"], "withdrawn": None}


def _pins(tmp_path: Path, **pins: str) -> Path:
    path = tmp_path / "runtime.txt"
    lines = ["# pins", *(f"{n}=={v} --hash=sha256:{'cd' * 32}" for n, v in pins.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


def _audit(api: str, reqs: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "audit.py"), "--json-api", api,
         "--requirements", str(reqs), *extra],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_newest_without_advisories_passes(pypi: tuple[PyPI, str], tmp_path: Path) -> None:
    state, api = pypi
    state.newest = {"alpha": "2.0.0", "beta": "1.1"}
    got = _audit(api, _pins(tmp_path, alpha="2.0.0", beta="1.1"))
    assert got.returncode == 0, got.stdout
    assert "ok   alpha==2.0.0: newest release, no known vulnerability" in got.stdout
    assert got.stdout.strip().endswith("audit: 2 passed, 0 failed")


def test_vulnerable_pinned_newest_fails(pypi: tuple[PyPI, str], tmp_path: Path) -> None:
    state, api = pypi
    state.newest = {"alpha": "2.0.0"}
    state.vulns[("alpha", "2.0.0")] = [VULN]
    got = _audit(api, _pins(tmp_path, alpha="2.0.0"))
    assert got.returncode == 1
    assert "FAIL alpha==2.0.0: known vulnerabilities PYSEC-2026-1 (fixed in 2.0.1)" in got.stdout
    assert "audit: 0 passed, 1 failed" in got.stdout


def test_vulnerable_older_pin_fails_on_its_own_advisories(
    pypi: tuple[PyPI, str], tmp_path: Path
) -> None:
    state, api = pypi
    state.newest = {"alpha": "2.0.1"}
    state.vulns[("alpha", "2.0.0")] = [VULN]
    got = _audit(api, _pins(tmp_path, alpha="2.0.0"))
    assert got.returncode == 1
    assert "FAIL alpha==2.0.0: known vulnerabilities PYSEC-2026-1" in got.stdout
    assert "/pypi/alpha/2.0.0/json" in state.requests


def test_newer_release_is_a_note_not_a_failure(pypi: tuple[PyPI, str], tmp_path: Path) -> None:
    state, api = pypi
    state.newest = {"certifi": "2026.10.19.post1"}
    got = _audit(api, _pins(tmp_path, certifi="2026.10.18"))
    assert got.returncode == 0, got.stdout
    assert (
        "note certifi 2026.10.19.post1 is out (pinned 2026.10.18): make update-deps" in got.stdout
    )
    assert "audit: 1 passed, 0 failed" in got.stdout


def test_without_per_version_data_the_newest_advisories_count(
    pypi: tuple[PyPI, str], tmp_path: Path
) -> None:
    state, api = pypi
    state.per_version = False
    state.newest = {"alpha": "2.0.1", "beta": "3"}
    state.vulns[("beta", "3")] = [{"id": "GHSA-x", "fixed_in": [], "withdrawn": None}]
    got = _audit(api, _pins(tmp_path, alpha="2.0.0", beta="2"))
    assert got.returncode == 1
    assert "note alpha 2.0.1 is out (pinned 2.0.0): make update-deps (advisories of 2.0.1;" in (
        got.stdout
    )
    assert "FAIL beta==2: known vulnerabilities GHSA-x" in got.stdout


def test_withdrawn_advisories_do_not_fail(pypi: tuple[PyPI, str], tmp_path: Path) -> None:
    state, api = pypi
    state.newest = {"alpha": "2.0.0"}
    state.vulns[("alpha", "2.0.0")] = [{**VULN, "withdrawn": "2026-01-01T00:00:00Z"}]
    assert _audit(api, _pins(tmp_path, alpha="2.0.0")).returncode == 0


def test_strict_fails_on_a_pin_that_is_not_the_newest(
    pypi: tuple[PyPI, str], tmp_path: Path
) -> None:
    state, api = pypi
    state.newest = {"alpha": "2.0.1"}
    got = _audit(api, _pins(tmp_path, alpha="2.0.0"), "--strict")
    assert got.returncode == 1
    assert "FAIL alpha==2.0.0: 2.0.1 is out (--strict): make update-deps" in got.stdout


def test_unreachable_advisory_data_fails_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    got = _audit(f"http://127.0.0.1:{port}/pypi", _pins(tmp_path, alpha="1", beta="2"))
    assert got.returncode == 1
    lines = got.stdout.strip().splitlines()
    assert len(lines) == 1, got.stdout
    assert lines[0].startswith("FAIL audit: cannot fetch PyPI's advisory data for alpha: ")
    assert "Traceback" not in got.stderr


def test_a_project_unknown_to_the_index_fails(pypi: tuple[PyPI, str], tmp_path: Path) -> None:
    _, api = pypi
    got = _audit(api, _pins(tmp_path, ghost="1.0"))
    assert got.returncode == 1
    assert "cannot fetch PyPI's advisory data for ghost" in got.stdout


def test_update_deps_moves_pins_with_the_wheel_hash(pypi: tuple[PyPI, str], tmp_path: Path) -> None:
    state, api = pypi
    state.newest = {"alpha": "2.0.1", "beta": "1.1"}
    reqs = _pins(tmp_path, alpha="2.0.0", beta="1.1")
    got = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "update_deps.py"), "--json-api", api,
         "--requirements", str(reqs), "--no-dev"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert "runtime: alpha 2.0.0 -> 2.0.1" in got.stdout
    assert "runtime: beta 1.1 (newest)" in got.stdout
    assert reqs.read_text().splitlines() == [
        "# pins",
        f"alpha==2.0.1 --hash=sha256:{HASH}",
        f"beta==1.1 --hash=sha256:{HASH}",
    ]
    assert _audit(api, reqs, "--strict").returncode == 0


def test_a_held_pin_passes_strict_and_update_deps_keeps_it(
    pypi: tuple[PyPI, str], tmp_path: Path
) -> None:
    """tomli stays below 2.4 (TOML 1.1): audit says so, even --strict; update-deps keeps it."""
    state, api = pypi
    state.newest = {"alpha": "2.5.0", "beta": "1.1"}
    reqs = tmp_path / "runtime.txt"
    held = f"alpha==2.3.2 --hash=sha256:{'cd' * 32}  # held: 2.4+ parses TOML 1.1"
    reqs.write_text(f"{held}\nbeta==1.0 --hash=sha256:{'cd' * 32}\n")
    got = _audit(api, reqs, "--strict")
    assert got.returncode == 1  # beta is not held
    assert "held alpha==2.3.2 (2.5.0 is out): 2.4+ parses TOML 1.1 (" in got.stdout
    assert "FAIL beta==1.0: 1.1 is out (--strict)" in got.stdout
    got = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "update_deps.py"), "--json-api", api,
         "--requirements", str(reqs), "--no-dev"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    assert "runtime: alpha 2.3.2 (held: 2.4+ parses TOML 1.1)" in got.stdout
    assert reqs.read_text().splitlines() == [held, f"beta==1.1 --hash=sha256:{HASH}"]
    assert _audit(api, reqs, "--strict").returncode == 0


def test_a_held_pin_with_a_known_vulnerability_still_fails(
    pypi: tuple[PyPI, str], tmp_path: Path
) -> None:
    state, api = pypi
    state.newest = {"alpha": "2.5.0"}
    state.vulns[("alpha", "2.3.2")] = [VULN]
    reqs = tmp_path / "runtime.txt"
    reqs.write_text(f"alpha==2.3.2 --hash=sha256:{'cd' * 32}  # held: reasons\n")
    got = _audit(api, reqs)
    assert got.returncode == 1
    assert "FAIL alpha==2.3.2: known vulnerabilities PYSEC-2026-1" in got.stdout


def test_the_project_pins_every_test_tool_exactly() -> None:
    """The test command installs the same tools tomorrow as today."""
    lines = [
        line.strip()
        for line in (ROOT / "requirements" / "dev.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines and all("==" in line for line in lines), lines
