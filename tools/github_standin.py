"""A loopback GitHub stand-in for tests, demos and benchmarks (stdlib only).

Two real HTTP/1.1 servers on 127.0.0.1 with keep-alive:

* the API host answers ``/repos/{owner}/{repo}/releases/latest``,
  ``/releases/tags/{tag}``, ``/releases/{id}``, ``/releases`` and
  ``/releases/assets/{id}`` with GitHub's field names; with
  ``Accept: application/octet-stream`` an asset answers 302 to a signed-looking
  URL on the storage host;
* the storage host serves the asset bytes (``Range`` aware) at the signed path
  and at ``browser_download_url``;
* ``/repos/{owner}/{repo}/attestations/sha256:{hex}`` lists the artifact attestations
  added with ``add_attestation``: each with its Sigstore bundle inline, or only a
  ``bundle_url`` on the storage host serving the bundle Snappy-compressed (block format,
  ``application/x-snappy``), as GitHub answers since mid-2026.

Every request is recorded (before any fault is applied), so a test can assert
for instance that ``Authorization`` never reaches the storage host. Faults are
queued on demand and each one is consumed by one matching request.

Optional behaviours, as real servers show them: HTTPS on both hosts
(``StandIn(tls=server_context)``, handshakes counted per host), a renamed
repository (``rename``: the old name answers 301/307/308 to
``/repositories/<id>/...`` as GitHub does), and a storage host that sends
``Content-Encoding: gzip`` (``content_encoding``/``encode_body``).

CLI: ``python tools/github_standin.py --release OWNER/REPO TAG FILE [FILE...]``
(repeatable) prints the API URL as its first stdout line and serves until
Ctrl-C or SIGTERM; ``--tls-cert CERT.pem --tls-key KEY.pem`` serves HTTPS.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gzip
import hashlib
import json
import os
import secrets
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import traceback
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, quote, unquote, urlsplit

__all__ = ["Recorded", "StandIn", "main"]

CHUNK = 1024 * 1024
API = "api"
STORAGE = "storage"
WEB = "web"
_HOSTS = (API, STORAGE, WEB)
_JSON = "application/json; charset=utf-8"
_DOCS = "https://docs.github.com/rest/releases"
_DOC_LATEST = f"{_DOCS}/releases#get-the-latest-release"
_DOC_TAG = f"{_DOCS}/releases#get-a-release-by-tag-name"
_DOC_RELEASE = f"{_DOCS}/releases#get-a-release"
_DOC_LIST = f"{_DOCS}/releases#list-releases"
_DOC_ASSET = f"{_DOCS}/assets#get-a-release-asset"
_DOC_ATTESTATIONS = "https://docs.github.com/rest/repos/repos#list-attestations"
_DOC_REST = "https://docs.github.com/rest"
_DOC_REDIRECT = (
    "https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api"
    "#follow-redirects"
)
_RATE_LIMIT_MESSAGE = (
    "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated "
    "requests get a higher rate limit. Check out the documentation for more details.)"
)
_RATE_LIMIT_DOC = "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"
_HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Unicorn! &middot; GitHub</title></head>"
    b"<body><h1>No server is currently available to service your request.</h1>"
    b"<p>Sorry about that. Please try refreshing and contact us if the problem persists."
    b"</p></body></html>\n"
)


@dataclass
class Recorded:
    """One request as a server saw it."""

    host: str  # "api" or "storage"
    method: str
    path: str  # path + query, as sent
    headers: dict[str, str]  # header names lower-cased


@dataclass
class _Fault:
    host: str
    kind: str  # "fail", "rate_limit", "delay", "drop", "truncate", "html"
    times: int
    path_contains: str = ""
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    nbytes: int = 0
    seconds: float = 0.0
    reset: bool = False


@dataclass
class _Asset:
    id: int
    repo_key: str
    name: str
    data: bytes | None
    path: Path | None
    size: int
    json: dict[str, Any]


@dataclass
class _Release:
    id: int
    repo_key: str
    tag: str
    draft: bool
    prerelease: bool
    json: dict[str, Any]
    assets: dict[str, _Asset]


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _content_type(name: str) -> str:
    lower = name.lower()
    if lower.endswith((".tar.gz", ".tgz")):
        return "application/gzip"
    if lower.endswith(".zip"):
        return "application/zip"
    return "application/octet-stream"


_digest_cache: dict[tuple[str, int, int, int], str] = {}
_digest_cache_lock = threading.Lock()


def _sha256_file(path: Path) -> str:
    """sha256 of a file, cached per (path, size, mtime, inode) for repeated benchmarks."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    with _digest_cache_lock:
        cached = _digest_cache.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    hexdigest = digest.hexdigest()
    with _digest_cache_lock:
        _digest_cache[key] = hexdigest
    return hexdigest


def _rename_urls(obj: dict[str, Any], old: str, new: str) -> None:
    """Rewrite, in place, every URL of a release's JSON from repository old to new."""
    for key, value in obj.items():
        if isinstance(value, str):
            obj[key] = value.replace(f"/repos/{old}/", f"/repos/{new}/").replace(
                f"/{old}/releases/", f"/{new}/releases/"
            )
        elif isinstance(value, dict):
            _rename_urls(value, old, new)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    _rename_urls(item, old, new)


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _literal(data: bytes) -> bytes:
    out = bytearray()
    for start in range(0, len(data), 65536):
        piece = data[start : start + 65536]
        n = len(piece) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + n.to_bytes(2, "little")
        out += piece
    return bytes(out)


def snappy_compress(data: bytes) -> bytes:
    """Snappy block format, greedy: literals and 2-byte-offset copies of 4-64 bytes (what
    GitHub's storage serves bundle_url documents as; any valid encoding decodes the same)."""
    out = bytearray(_varint(len(data)))
    last: dict[bytes, int] = {}
    i = start = 0
    while i + 4 <= len(data):
        key = data[i : i + 4]
        seen = last.get(key)
        last[key] = i
        if seen is None or i - seen > 65535:
            i += 1
            continue
        length = 4
        while i + length < len(data) and length < 64 and data[seen + length] == data[i + length]:
            length += 1
        out += _literal(data[start:i]) if i > start else b""
        out += bytes([(length - 1) << 2 | 2]) + (i - seen).to_bytes(2, "little")
        i += length
        start = i
    out += _literal(data[start:]) if start < len(data) else b""
    return bytes(out)


def _json_bytes(obj: object) -> bytes:
    return json.dumps(obj, indent=2).encode("utf-8") + b"\n"


def _not_found(doc: str = _DOC_REST) -> dict[str, Any]:
    return {"message": "Not Found", "documentation_url": doc, "status": "404"}


def _etag_matches(header: str, etag: str) -> bool:
    for part in header.split(","):
        candidate = part.strip()
        if candidate == "*":
            return True
        candidate = candidate.removeprefix("W/")
        if candidate == etag:
            return True
    return False


def _download_path(path: str) -> tuple[str, str, str] | None:
    """(repo key, tag, name) of /<owner>/<repo>/releases/download/<tag...>/<name>."""
    parts = [unquote(p) for p in urlsplit(path).path.split("/")[1:]]
    if len(parts) >= 6 and parts[2] == "releases" and parts[3] == "download":
        return f"{parts[0]}/{parts[1]}".lower(), "/".join(parts[4:-1]), parts[-1]
    return None


def _parse_range(header: str, size: int) -> tuple[int, int] | str | None:
    """Return (start, end) inclusive, "unsatisfiable", or None to ignore the header."""
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0 or size == 0:
                return "unsatisfiable"
            return max(0, size - suffix), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size:
        return "unsatisfiable"
    if start < 0 or end < start:
        return None
    return start, min(end, size - 1)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, standin: StandIn, kind: str, tls: ssl.SSLContext | None = None) -> None:
        self.standin = standin
        self.kind = kind
        self.tls = tls
        self.accepted = 0
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # Runs on the connection's own thread: a TLS handshake here never stalls accept().
        with self.connections_lock:
            self.accepted += 1
        # No Nagle, from the first byte of the TLS handshake on (the handler would set it only
        # after): small answers would wait ~40 ms for the client's delayed ACK.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is not None:
            request.settimeout(10)
            request = self.tls.wrap_socket(request, server_side=True)
        super().finish_request(request, client_address)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a DNS lookup that can
        # stall for seconds on machines without a resolver.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError | ValueError):  # client went away, socket closed, TLS refused
            return
        traceback.print_exc()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 120
    server_version = "github-standin"
    sys_version = ""

    # -- plumbing ---------------------------------------------------------

    @property
    def _srv(self) -> _Server:
        return cast(_Server, self.server)

    def setup(self) -> None:
        super().setup()
        srv = self._srv
        with srv.connections_lock:
            srv.connections.add(self.connection)

    def finish(self) -> None:
        srv = self._srv
        with srv.connections_lock:
            srv.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        return

    def version_string(self) -> str:
        return "GitHub.com" if self._srv.kind == API else "github-standin-storage"

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        try:
            self._handle()
        except OSError:
            self.close_connection = True

    def _discard_request_body(self) -> None:
        length = self.headers.get("Content-Length")
        if not length:
            return
        try:
            remaining = int(length)
        except ValueError:
            self.close_connection = True
            return
        while remaining > 0:
            got = self.rfile.read(min(remaining, CHUNK))
            if not got:
                break
            remaining -= len(got)

    def _reply(
        self,
        status: int,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        close: bool = False,
    ) -> None:
        self.send_response(status)
        hdrs = dict(headers or {})
        for name, value in hdrs.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        if body and self.command != "HEAD" and status != 304:
            self.wfile.write(body)
        if close:
            self.close_connection = True

    def _reply_json(
        self, status: int, obj: object, headers: Mapping[str, str] | None = None
    ) -> None:
        hdrs = {"Content-Type": _JSON}
        hdrs.update(headers or {})
        self._reply(status, _json_bytes(obj), hdrs)

    def _abort(self, *, reset: bool) -> None:
        """Close the connection without finishing the response."""
        self.close_connection = True
        conn = self.connection
        try:
            if reset:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.rfile.close()
                conn.close()
            else:
                conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- request handling -------------------------------------------------

    def _handle(self) -> None:
        srv = self._srv
        st = srv.standin
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        download = _download_path(self.path)
        kind = WEB if download and srv.kind == API else srv.kind
        st._record(Recorded(kind, self.command, self.path, headers))
        self._discard_request_body()
        if kind in st.down:
            self._abort(reset=True)
            return

        delay = st._take_fault(srv.kind, self.path, ("delay",))
        if delay is not None and st._closed.wait(delay.seconds):
            self._abort(reset=False)
            return
        fault = st._take_fault(srv.kind, self.path, ("fail", "rate_limit"))
        if fault is not None:
            self._reply(fault.status, fault.body, fault.headers)
            return
        if kind == WEB:
            self._web(download)
        elif srv.kind == API:
            self._api()
        else:
            self._storage()

    def _web(self, download: tuple[str, str, str] | None) -> None:
        """A release download URL, as github.com answers it: 302 to a signed storage URL."""
        st = self._srv.standin
        asset = None
        if download is not None and self.command in ("GET", "HEAD"):
            repo_key, tag, name = download
            if st._authorized(repo_key, self.headers.get("Authorization")):
                asset = st._browser_asset(repo_key, tag, name)
        if asset is None:
            self._reply(404, b"Not Found", {"Content-Type": "text/plain; charset=utf-8"})
            return
        self._reply(302, b"", {"Location": st._sign(asset)})

    def _ratelimit_headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "4999",
            "x-ratelimit-reset": str(int(time.time()) + 3600),
            "x-ratelimit-used": "1",
            "x-ratelimit-resource": "core",
            "X-GitHub-Media-Type": "github.v3; format=json",
        }

    def _api(self) -> None:
        st = self._srv.standin
        rl = self._ratelimit_headers()
        path = urlsplit(self.path).path
        parts = [unquote(p) for p in path.split("/")[1:]]
        if self.command not in ("GET", "HEAD"):
            self._reply_json(404, _not_found(), rl)
            return
        if len(parts) >= 3 and parts[0] == "repos":
            moved = st._moved_to(f"{parts[1]}/{parts[2]}")
            if moved is not None:
                # GitHub's answer for a renamed repository: its id, not its new name.
                new_repo, status = moved
                tail = path.split("/", 4)[4:]
                query = urlsplit(self.path).query
                location = f"{st.api_url}/repositories/{st._repo_id(new_repo)}"
                location += "".join(f"/{t}" for t in tail) + (f"?{query}" if query else "")
                body = {"message": "Moved Permanently", "url": location}
                body["documentation_url"] = _DOC_REDIRECT
                self._reply_json(status, body, {"Location": location, **rl})
                return
        if len(parts) >= 2 and parts[0] == "repositories" and parts[1].isdigit():
            repo = st._repo_by_id(int(parts[1]))
            if repo is None or not st._authorized(repo.lower(), self.headers.get("Authorization")):
                self._reply_json(404, _not_found(), rl)
                return
            if len(parts) == 2:
                self._reply_json(200, st._repo_json(repo), rl)
                return
            parts = ["repos", *repo.split("/"), *parts[2:]]
        if len(parts) == 5 and parts[0] == "repos" and parts[3] == "attestations":
            repo_key = f"{parts[1]}/{parts[2]}".lower()
            listed = None
            if st._authorized(repo_key, self.headers.get("Authorization")):
                listed = st._attestations.get((repo_key, parts[4].lower()))
            if not listed:
                self._reply_json(404, _not_found(_DOC_ATTESTATIONS), rl)
                return
            self._reply_json(200, {"attestations": listed}, rl)
            return
        if len(parts) < 4 or parts[0] != "repos" or parts[3] != "releases":
            self._reply_json(404, _not_found(), rl)
            return
        repo_key = f"{parts[1]}/{parts[2]}".lower()
        rest = parts[4:]
        authorized = st._authorized(repo_key, self.headers.get("Authorization"))
        doc = _DOC_REST
        obj: object = None
        if rest == ["latest"]:
            doc = _DOC_LATEST
            release = st._latest(repo_key) if authorized else None
            obj = release.json if release else None
        elif len(rest) >= 2 and rest[0] == "tags":
            doc = _DOC_TAG
            tag = "/".join(rest[1:])
            release = st._by_tag(repo_key, tag, include_drafts=False) if authorized else None
            obj = release.json if release else None
        elif rest == []:
            doc = _DOC_LIST
            listed = st._list(repo_key) if authorized else None
            if listed is not None:
                # Pages as GitHub serves them: ?per_page (max 100, default 30) &page, and a
                # Link header with rel="next" while more follow.
                query = parse_qs(urlsplit(self.path).query)
                per_page = min(100, int((query.get("per_page") or ["30"])[0] or 30))
                page = max(1, int((query.get("page") or ["1"])[0] or 1))
                obj = listed[(page - 1) * per_page : page * per_page]
                if page * per_page < len(listed):
                    nxt = f"{st.api_url}{path}?per_page={per_page}&page={page + 1}"
                    rl = {**rl, "Link": f'<{nxt}>; rel="next"'}
        elif len(rest) == 1 and rest[0].isdigit():
            doc = _DOC_RELEASE
            release = st._release_by_id(repo_key, int(rest[0])) if authorized else None
            obj = release.json if release else None
        elif len(rest) == 2 and rest[0] == "assets" and rest[1].isdigit():
            doc = _DOC_ASSET
            asset = st._asset_by_id(repo_key, int(rest[1])) if authorized else None
            if asset is not None:
                accept = self.headers.get("Accept", "").lower()
                if "application/octet-stream" in accept:
                    location = st._sign(asset)
                    self._reply(302, b"", {"Location": location, **rl})
                    return
                obj = asset.json
        if obj is None:
            self._reply_json(404, _not_found(doc), rl)
            return
        body = _json_bytes(obj)
        etag = '"' + hashlib.sha256(body).hexdigest() + '"'
        hdrs = {"Content-Type": _JSON, "ETag": etag, "Cache-Control": "private, max-age=60"}
        hdrs.update(rl)
        inm = self.headers.get("If-None-Match")
        if inm and _etag_matches(inm, etag):
            self._reply(304, b"", hdrs)
            return
        self._reply(200, body, hdrs)

    def _storage(self) -> None:
        st = self._srv.standin
        split = urlsplit(self.path)
        parts = [unquote(p) for p in split.path.split("/")[1:]]
        asset: _Asset | None = None
        denied = False
        if self.command in ("GET", "HEAD") and len(parts) == 2 and parts[0] == "attestations":
            document = st._documents.get(parts[1])
            if document is None:
                self._reply(404, b"Not Found", {"Content-Type": "text/plain; charset=utf-8"})
                return
            self._reply(200, document, {"Content-Type": "application/x-snappy"})
            return
        if self.command in ("GET", "HEAD"):
            if len(parts) == 3 and parts[0] == "github-production-release-asset":
                sigs = parse_qs(split.query).get("X-Amz-Signature", [])
                if parts[1].isdigit() and sigs:
                    asset = st._check_signature(sigs[0], int(parts[1]), parts[2])
                if asset is None:
                    denied = True
            elif len(parts) >= 6 and parts[2] == "releases" and parts[3] == "download":
                repo_key = f"{parts[0]}/{parts[1]}".lower()
                if st._authorized(repo_key, self.headers.get("Authorization")):
                    tag = "/".join(parts[4:-1])
                    asset = st._browser_asset(repo_key, tag, parts[-1])
        if denied:
            body = (
                b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                b"<Message>Request has expired or the signature does not match</Message>"
                b"</Error>\n"
            )
            self._reply(403, body, {"Content-Type": "application/xml"})
            return
        if asset is None:
            self._reply(404, b"Not Found", {"Content-Type": "text/plain; charset=utf-8"})
            return
        self._serve_asset(asset)

    def _serve_asset(self, asset: _Asset) -> None:
        st = self._srv.standin
        size = asset.size
        start, end, status = 0, size - 1, 200
        range_ok = st.range_supported
        hdrs: dict[str, str] = {
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f"attachment; filename={quote(asset.name)}",
            "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT",
        }
        if range_ok:
            hdrs["Accept-Ranges"] = "bytes"
            header = self.headers.get("Range")
            if header:
                parsed = _parse_range(header, size)
                if parsed == "unsatisfiable":
                    hdrs["Content-Range"] = f"bytes */{size}"
                    del hdrs["Content-Disposition"]
                    hdrs["Content-Type"] = "application/xml"
                    self._reply(416, b"", hdrs)
                    return
                if isinstance(parsed, tuple):
                    start, end = parsed
                    status = 206
        head = self.command == "HEAD"
        fault = None if head else st._take_fault(STORAGE, self.path, ("drop", "truncate", "html"))
        if fault is not None and fault.kind == "html":
            self._reply(200, _HTML_PAGE, {"Content-Type": "text/html; charset=utf-8"})
            return
        encoding = st.content_encoding
        if encoding is not None and st.encode_body:
            # Compressed on the way out (nginx gzip, gzip_static): Range is ignored.
            hdrs.pop("Accept-Ranges", None)
            hdrs["Content-Encoding"] = encoding
            body = gzip.compress(self._asset_bytes(asset), mtime=0)
            if fault is not None and fault.kind in ("drop", "truncate"):
                body = body[: fault.nbytes]
            self._reply(200, body, hdrs, close=fault is not None)
            return
        if encoding is not None:
            hdrs["Content-Encoding"] = encoding  # a label on the bytes as they are (S3 metadata)
        length = end - start + 1
        to_send = length
        if fault is not None and fault.kind == "truncate":
            to_send = min(fault.nbytes, length)
            length = to_send
            if status == 206:
                hdrs["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}"
            hdrs["Connection"] = "close"
        elif fault is not None and fault.kind == "drop":
            to_send = min(fault.nbytes, length)
        if status == 206 and "Content-Range" not in hdrs:
            hdrs["Content-Range"] = f"bytes {start}-{end}/{size}"
        self.send_response(status)
        for name, value in hdrs.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if head:
            return
        complete = self._send_body(asset, start, to_send)
        if fault is not None and fault.kind == "drop":
            self._abort(reset=fault.reset)
        elif fault is not None and fault.kind == "truncate":
            self.close_connection = True
        elif not complete:
            self._abort(reset=False)

    def _asset_bytes(self, asset: _Asset) -> bytes:
        if asset.data is not None:
            return asset.data
        assert asset.path is not None
        return asset.path.read_bytes()

    def _write_counted(self, piece: memoryview) -> None:
        # Count first, so that bytes_served is final once the client has every byte.
        st = self._srv.standin
        st._add_served(len(piece))
        try:
            self.wfile.write(piece)
        except OSError:
            st._add_served(-len(piece))
            raise

    def _send_body(self, asset: _Asset, start: int, count: int) -> bool:
        """Send count bytes of the asset from start; False if it could not."""
        st = self._srv.standin
        rate = st.throttle_bytes_per_sec
        chunk = CHUNK if not rate else max(1, min(CHUNK, rate // 20))
        began = time.monotonic()
        sent = 0

        def pace() -> bool:
            if not rate:
                return True
            wait = began + sent / rate - time.monotonic()
            return wait <= 0 or not st._closed.wait(wait)

        if asset.data is not None:
            view = memoryview(asset.data)
            while sent < count:
                n = min(chunk, count - sent)
                self._write_counted(view[start + sent : start + sent + n])
                sent += n
                if not pace():
                    return False
            return True
        assert asset.path is not None
        buf = bytearray(chunk)
        bview = memoryview(buf)
        with asset.path.open("rb") as f:
            f.seek(start)
            while sent < count:
                n = f.readinto(bview[: min(chunk, count - sent)])
                if not n:
                    return False  # the file shrank under us
                self._write_counted(bview[:n])
                sent += n
                if not pace():
                    return False
        return True


class StandIn:
    """A GitHub API host, a storage host and a web host (github.com), all on 127.0.0.1.

    With ``tls`` (a server-side SSLContext holding a certificate for 127.0.0.1) both
    hosts speak HTTPS only.
    """

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.requests: list[Recorded] = []
        self.bytes_served = 0
        self.throttle_bytes_per_sec: int | None = None
        self.range_supported = True
        self.content_encoding: str | None = None
        """Storage: send this Content-Encoding (e.g. "gzip") with every asset."""
        self.encode_body = True
        """With content_encoding: encode the body (nginx gzip); False: only the label (S3)."""
        self._next_id = 1000
        self._releases: dict[str, list[_Release]] = {}
        self._assets: dict[int, _Asset] = {}
        self._private: dict[str, str] = {}
        self._signatures: dict[str, int] = {}
        self._faults: list[_Fault] = []
        self._repo_ids: dict[str, int] = {}
        self._repo_names: dict[int, str] = {}
        self._moved: dict[str, tuple[str, int]] = {}
        self._attestations: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._documents: dict[str, bytes] = {}
        self.down: set[str] = set()
        """Hosts (API, STORAGE, WEB) that drop every connection, as an unreachable host."""
        self._api = _Server(self, API, tls)
        self._storage = _Server(self, STORAGE, tls)
        self._web = _Server(self, WEB, tls)
        scheme = "https" if tls is not None else "http"
        self.api_url = f"{scheme}://127.0.0.1:{self._api.server_port}"
        self.storage_url = f"{scheme}://127.0.0.1:{self._storage.server_port}"
        self.web_url = f"{scheme}://127.0.0.1:{self._web.server_port}"
        """github.com's part: /<owner>/<repo>/releases/download/<tag>/<name> -> 302 to storage.
        The API host answers those paths too (a base serving both), recorded as WEB."""
        self._servers = (self._api, self._storage, self._web)
        self._threads = [
            threading.Thread(
                target=srv.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"github-standin-{srv.kind}",
                daemon=True,
            )
            for srv in self._servers
        ]
        for thread in self._threads:
            thread.start()

    # -- lifecycle --------------------------------------------------------

    def __enter__(self) -> StandIn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop both servers and cut open connections; safe to call twice."""
        if self._closed.is_set():
            return
        self._closed.set()
        # Stop the accept loops at once: each shutdown() waits up to a poll interval.
        stoppers = [threading.Thread(target=srv.shutdown, daemon=True) for srv in self._servers]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        for srv in self._servers:
            srv.server_close()
            with srv.connections_lock:
                conns = list(srv.connections)
            for conn in conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=2)

    # -- recording --------------------------------------------------------

    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self.requests.append(rec)

    def _add_served(self, n: int) -> None:
        with self._lock:
            self.bytes_served += n

    def connections_accepted(self, host: str) -> int:
        """TCP connections accepted by host ("api" or "storage"), TLS handshakes or not."""
        srv = self._api if host == API else self._storage
        with srv.connections_lock:
            return srv.accepted

    def api_requests(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.host == API]

    def web_requests(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.host == WEB]

    def storage_requests(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.host == STORAGE]

    # -- content ----------------------------------------------------------

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def add_release(
        self,
        repo: str,
        tag: str,
        assets: Mapping[str, bytes | Path],
        *,
        draft: bool = False,
        prerelease: bool = False,
        null_digest: Collection[str] = (),
        content_types: Mapping[str, str] | None = None,
        digests: Mapping[str, str | None] | None = None,
    ) -> dict[str, Any]:
        """Publish a release; return (a copy of) its JSON.

        ``digests`` overrides the ``digest`` field of some assets verbatim (for
        instance a wrong ``"sha256:..."`` to test a mismatch, or None), and spares
        hashing them; ``null_digest`` is shorthand for None.
        """
        owner, sep, name = repo.partition("/")
        if not owner or not sep or not name or "/" in name:
            raise ValueError(f"repo must be 'owner/name', got {repo!r}")
        if not tag:
            raise ValueError("tag must not be empty")
        content_types = dict(content_types or {})
        overrides: dict[str, str | None] = dict.fromkeys(null_digest, None)
        overrides.update(digests or {})
        for label, names in (
            ("null_digest", null_digest),
            ("content_types", content_types),
            ("digests", overrides),
        ):
            unknown = set(names) - set(assets)
            if unknown:
                raise ValueError(f"{label} names unknown assets: {sorted(unknown)}")
        repo_key = repo.lower()
        qtag = quote(tag, safe="")
        now = _now_iso()
        prepared: list[tuple[str, bytes | None, Path | None, int, str | None]] = []
        sha: str | None
        for asset_name, content in assets.items():
            if not asset_name or "/" in asset_name:
                raise ValueError(f"bad asset name {asset_name!r}")
            data: bytes | None = None
            path: Path | None = None
            if isinstance(content, bytes | bytearray | memoryview):
                data = bytes(content)
                size = len(data)
                if asset_name in overrides:
                    sha = overrides[asset_name]
                else:
                    sha = "sha256:" + hashlib.sha256(data).hexdigest()
            else:
                path = Path(content)
                size = path.stat().st_size
                if asset_name in overrides:
                    sha = overrides[asset_name]
                else:
                    sha = "sha256:" + _sha256_file(path)
            prepared.append((asset_name, data, path, size, sha))

        with self._lock:
            if repo_key not in self._repo_ids:
                self._repo_ids[repo_key] = repo_id = 5_000_000 + len(self._repo_ids) + 1
                self._repo_names[repo_id] = repo
            release_id = self._new_id()
            api_repo = f"{self.api_url}/repos/{repo}"
            release_assets: dict[str, _Asset] = {}
            for asset_name, data, path, size, sha in prepared:
                asset_id = self._new_id()
                asset_json: dict[str, Any] = {
                    "url": f"{api_repo}/releases/assets/{asset_id}",
                    "id": asset_id,
                    "node_id": f"RA_standin{asset_id}",
                    "name": asset_name,
                    "label": "",
                    "content_type": content_types.get(asset_name, _content_type(asset_name)),
                    "state": "uploaded",
                    "size": size,
                    "digest": sha,
                    "download_count": 0,
                    "created_at": now,
                    "updated_at": now,
                    "browser_download_url": (
                        f"{self.storage_url}/{repo}/releases/download/{qtag}/"
                        f"{quote(asset_name, safe='')}"
                    ),
                }
                asset = _Asset(asset_id, repo_key, asset_name, data, path, size, asset_json)
                release_assets[asset_name] = asset
                self._assets[asset_id] = asset
            release_json: dict[str, Any] = {
                "url": f"{api_repo}/releases/{release_id}",
                "assets_url": f"{api_repo}/releases/{release_id}/assets",
                "html_url": f"{self.storage_url}/{repo}/releases/tag/{qtag}",
                "id": release_id,
                "node_id": f"RE_standin{release_id}",
                "tag_name": tag,
                "target_commitish": "main",
                "name": tag,
                "draft": draft,
                "prerelease": prerelease,
                "created_at": now,
                "published_at": None if draft else now,
                "assets": [a.json for a in release_assets.values()],
                "tarball_url": f"{api_repo}/tarball/{qtag}",
                "zipball_url": f"{api_repo}/zipball/{qtag}",
                "body": f"Release {tag} (served by the GitHub stand-in).",
            }
            release = _Release(
                release_id, repo_key, tag, draft, prerelease, release_json, release_assets
            )
            self._releases.setdefault(repo_key, []).append(release)
            return copy.deepcopy(release_json)

    def add_attestation(
        self,
        repo: str,
        sha256: str,
        bundle: bytes,
        *,
        inline: bool = True,
        document: bytes | None = None,
        listed: object = None,
    ) -> None:
        """An artifact attestation in repo of the artifact whose sha256 (hex) is given:
        listed with its bundle (JSON bytes) inline, or (inline=False) only its
        bundle_url on the storage host, Snappy-compressed. document: what the storage
        host serves there instead (b"": nothing, it answers 404). listed: the item the
        list holds instead (a malformed one); bundle is then unused."""
        key = (repo.lower(), f"sha256:{sha256.lower()}")
        with self._lock:
            repo_id = self._repo_ids.get(repo.lower(), 5_000_000)
            name = secrets.token_hex(16)
            served = snappy_compress(bundle) if document is None else document
            if served:
                self._documents[name] = served
            item: dict[str, Any] = {
                "bundle": json.loads(bundle) if inline and listed is None else None,
                "repository_id": repo_id,
                "bundle_url": f"{self.storage_url}/attestations/{name}",
            }
            self._attestations.setdefault(key, []).append(item if listed is None else listed)

    def rename(self, old: str, new: str, *, status: int = 301) -> None:
        """Rename a repository as GitHub does: its releases move to the new name (URLs in
        the JSON included), and the old name answers ``status`` (301, or 307/308) to
        ``/repositories/<id>/...`` on every API path."""
        if status not in (301, 302, 307, 308):
            raise ValueError(f"status must be a redirect, got {status}")
        old_key, new_key = old.lower(), new.lower()
        with self._lock:
            if old_key not in self._releases:
                raise ValueError(f"no repository {old!r}")
            releases = self._releases.pop(old_key)
            for release in releases:
                release.repo_key = new_key
                _rename_urls(release.json, old, new)  # asset dicts are shared with the release
                for asset in release.assets.values():
                    asset.repo_key = new_key
            self._releases[new_key] = releases
            if old_key in self._private:
                self._private[new_key] = self._private.pop(old_key)
            repo_id = self._repo_ids.pop(old_key)
            self._repo_ids[new_key] = repo_id
            self._repo_names[repo_id] = new
            self._moved[old_key] = (new, status)

    def _moved_to(self, repo: str) -> tuple[str, int] | None:
        with self._lock:
            return self._moved.get(repo.lower())

    def _repo_id(self, repo: str) -> int:
        with self._lock:
            return self._repo_ids[repo.lower()]

    def _repo_by_id(self, repo_id: int) -> str | None:
        with self._lock:
            return self._repo_names.get(repo_id)

    def _repo_json(self, repo: str) -> dict[str, Any]:
        owner, name = repo.split("/")
        with self._lock:
            private = repo.lower() in self._private
            repo_id = self._repo_ids[repo.lower()]
        return {
            "id": repo_id,
            "node_id": f"R_standin{repo_id}",
            "name": name,
            "full_name": repo,
            "owner": {"login": owner},
            "private": private,
            "html_url": f"{self.storage_url}/{repo}",
            "url": f"{self.api_url}/repos/{repo}",
        }

    def make_private(self, repo: str, token: str) -> None:
        """Answer 404 for this repo unless ``Authorization: Bearer|token <token>``."""
        with self._lock:
            self._private[repo.lower()] = token

    def _authorized(self, repo_key: str, authorization: str | None) -> bool:
        with self._lock:
            token = self._private.get(repo_key)
        if token is None:
            return True
        if not authorization:
            return False
        scheme, _, value = authorization.strip().partition(" ")
        return scheme.lower() in ("bearer", "token") and value.strip() == token

    def _latest(self, repo_key: str) -> _Release | None:
        with self._lock:
            for release in reversed(self._releases.get(repo_key, [])):
                if not release.draft and not release.prerelease:
                    return release
        return None

    def _by_tag(self, repo_key: str, tag: str, *, include_drafts: bool) -> _Release | None:
        with self._lock:
            for release in reversed(self._releases.get(repo_key, [])):
                if release.tag == tag and (include_drafts or not release.draft):
                    return release
        return None

    def _release_by_id(self, repo_key: str, release_id: int) -> _Release | None:
        with self._lock:
            for release in self._releases.get(repo_key, []):
                if release.id == release_id:
                    return release
        return None

    def _list(self, repo_key: str) -> list[dict[str, Any]] | None:
        with self._lock:
            if repo_key not in self._releases:
                return None
            return [r.json for r in reversed(self._releases[repo_key])]

    def _asset_by_id(self, repo_key: str, asset_id: int) -> _Asset | None:
        with self._lock:
            asset = self._assets.get(asset_id)
        if asset is None or asset.repo_key != repo_key:
            return None
        return asset

    def _browser_asset(self, repo_key: str, tag: str, name: str) -> _Asset | None:
        release = self._by_tag(repo_key, tag, include_drafts=False) or self._by_tag(
            repo_key, tag, include_drafts=True
        )
        return release.assets.get(name) if release else None

    def _sign(self, asset: _Asset) -> str:
        signature = secrets.token_hex(32)
        with self._lock:
            self._signatures[signature] = asset.id
        return (
            f"{self.storage_url}/github-production-release-asset/{asset.id}/"
            f"{quote(asset.name, safe='')}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Credential=STANDIN%2F20240101%2Fus-east-1%2Fs3%2Faws4_request"
            f"&X-Amz-Date=20240101T000000Z&X-Amz-Expires=300"
            f"&X-Amz-Signature={signature}&X-Amz-SignedHeaders=host"
        )

    def _check_signature(self, signature: str, asset_id: int, name: str) -> _Asset | None:
        with self._lock:
            if self._signatures.get(signature) != asset_id:
                return None
            asset = self._assets.get(asset_id)
        if asset is None or asset.name != name:
            return None
        return asset

    # -- faults -----------------------------------------------------------

    def _queue(self, fault: _Fault) -> None:
        if fault.host not in _HOSTS:
            raise ValueError(f"host must be 'api' or 'storage', got {fault.host!r}")
        if fault.times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, host: str, path: str, kinds: Collection[str]) -> _Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.host == host and fault.kind in kinds and fault.path_contains in path:
                    fault.times -= 1
                    if fault.times <= 0:
                        del self._faults[i]
                    return fault
        return None

    def pending_faults(self) -> int:
        """How many fault responses are still queued (sum of remaining times)."""
        with self._lock:
            return sum(f.times for f in self._faults)

    def fail(
        self,
        host: str,
        status: int,
        times: int = 1,
        *,
        path_contains: str = "",
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        """Answer ``status`` to the next ``times`` matching requests on ``host``.

        An empty ``body`` means a default one: GitHub-style JSON ``{"message": ...}``
        on the API host, an S3-style XML error on storage.
        """
        hdrs = dict(headers or {})
        if not body:
            if host == API:
                phrase = _Handler.responses.get(status, ("Error",))[0]
                body = _json_bytes({"message": phrase, "status": str(status)})
            else:
                body = (
                    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError'
                    b"</Code><Message>We encountered an internal error. Please try again."
                    b"</Message></Error>\n"
                )
        if not any(k.lower() == "content-type" for k in hdrs):
            hdrs["Content-Type"] = _JSON if host == API else "application/xml"
        fault = _Fault(host, "fail", times, path_contains=path_contains, status=status)
        fault.headers, fault.body = hdrs, body
        self._queue(fault)

    def rate_limit(
        self,
        status: int = 403,
        *,
        reset_epoch: int,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """API host: answer a primary rate limit error ``times`` times."""
        hdrs = {
            "Content-Type": _JSON,
            "x-ratelimit-limit": "60",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(int(reset_epoch)),
            "x-ratelimit-used": "60",
            "x-ratelimit-resource": "core",
        }
        if retry_after is not None:
            hdrs["retry-after"] = str(retry_after)
        body = _json_bytes({"message": _RATE_LIMIT_MESSAGE, "documentation_url": _RATE_LIMIT_DOC})
        self._queue(_Fault(API, "rate_limit", times, status=status, headers=hdrs, body=body))

    def drop_after(self, nbytes: int, times: int = 1, *, reset: bool = False) -> None:
        """Storage: send the headers and ``nbytes`` of body, then cut the connection.

        The default closes with FIN (the client sees a premature end of body);
        ``reset=True`` closes with an RST (connection reset by peer).
        """
        self._queue(_Fault(STORAGE, "drop", times, nbytes=max(0, nbytes), reset=reset))

    def truncate(self, nbytes: int, times: int = 1) -> None:
        """Storage: honest ``Content-Length: nbytes`` and only those bytes, then close."""
        self._queue(_Fault(STORAGE, "truncate", times, nbytes=max(0, nbytes)))

    def serve_html(self, times: int = 1) -> None:
        """Storage: answer 200 with an HTML error page instead of the asset."""
        self._queue(_Fault(STORAGE, "html", times))

    def delay(self, host: str, seconds: float, times: int = 1) -> None:
        """Sleep ``seconds`` before answering the next ``times`` requests on ``host``."""
        self._queue(_Fault(host, "delay", times, seconds=float(seconds)))


# -- CLI ------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Serve GitHub releases from local files on loopback.",
    )
    parser.add_argument(
        "--release",
        action="append",
        nargs="+",
        default=[],
        metavar="ARG",
        help="OWNER/REPO TAG FILE [FILE...] (repeatable)",
    )
    parser.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate")
    parser.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    args = parser.parse_args(argv)
    tls = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    releases: list[list[str]] = args.release
    for spec in releases:
        if len(spec) < 3:
            parser.error("--release needs OWNER/REPO TAG FILE [FILE...]")
        for name in spec[2:]:
            if not os.path.isfile(name):
                parser.error(f"no such file: {name}")

    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with StandIn(tls=tls) as standin:
        for spec in releases:
            repo, tag, files = spec[0], spec[1], spec[2:]
            release = standin.add_release(repo, tag, {Path(f).name: Path(f) for f in files})
            for asset in release["assets"]:
                print(f"{repo} {tag} {asset['name']} -> {asset['url']}", file=sys.stderr)
        print(standin.api_url, flush=True)
        print(f"storage: {standin.storage_url}", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
