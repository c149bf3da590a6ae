"""GitHub Enterprise Server as the build meets it: the API under `/api/v3` of the appliance,
whose asset URLs answer 302 to `/storage/...` on the same host (subdomain isolation off).
The contract (GitHub): follow the 302 to the storage host WITHOUT the Authorization header;
the token goes to the API only. bin/build as a subprocess against a loopback appliance."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from support import CnbDirs, elf_bytes, write_plan

TOKEN = "ghs_enterpriseTOKEN0123456789abcdef"
DATA = elf_bytes(size=30_000)
ASSET = "probe-linux-amd64"


class Appliance:
    """One host: the API under /api/v3, storage under /storage; every request recorded."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        appliance = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                appliance.requests.append(
                    (self.path, {k.lower(): v for k, v in self.headers.items()})
                )
                base = appliance.url
                if self.path == "/api/v3/repos/acme/probe/releases/tags/v1":
                    asset = {
                        "id": 7, "name": ASSET, "size": len(DATA), "state": "uploaded",
                        "digest": "sha256:" + hashlib.sha256(DATA).hexdigest(),
                        "url": f"{base}/api/v3/repos/acme/probe/releases/assets/7",
                        "content_type": "application/octet-stream",
                        "browser_download_url": f"{base}/acme/probe/releases/download/v1/{ASSET}",
                    }  # fmt: skip
                    body = json.dumps({"tag_name": "v1", "assets": [asset]}).encode()
                    self.answer(200, body, "application/json")
                elif self.path == "/api/v3/repos/acme/probe/releases/assets/7":
                    self.send_response(302)
                    self.send_header("Location", f"{base}/storage/releases/7/{ASSET}?token=signed")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.path.startswith(f"/storage/releases/7/{ASSET}?"):
                    self.answer(200, DATA, "application/octet-stream")
                else:
                    self.answer(404, b'{"message": "Not Found"}', "application/json")

            def answer(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def appliance() -> Iterator[Appliance]:
    a = Appliance()
    yield a
    a.close()


def test_the_token_goes_to_the_api_path_only_not_to_storage_on_the_same_host(
    appliance: Appliance, cnb: CnbDirs
) -> None:
    cnb.project(
        '[[metadata.githubassets]]\nrepo = "acme/probe"\nasset = "probe-{os}-{arch}"\n'
        f'tag = "v1"\napi_url = "{appliance.url}/api/v3"\ntoken_env = "GHE_TOKEN"\n'
    )
    write_plan(cnb)
    r = cnb.build({"GHE_TOKEN": TOKEN, "BP_GITHUB_ASSETS_BACKOFF": "0.01"})
    assert r.rc == 0, r.all
    assert (cnb.layers / "acme_probe" / "bin" / "probe").read_bytes() == DATA
    api = [h for path, h in appliance.requests if path.startswith("/api/v3/")]
    storage = [h for path, h in appliance.requests if path.startswith("/storage/")]
    assert len(api) == 2 and len(storage) == 1, appliance.requests
    assert all(h.get("authorization") == f"Bearer {TOKEN}" for h in api)
    assert "authorization" not in storage[0], "the 302 to storage is followed without the token"
    assert "x-github-api-version" not in storage[0]
