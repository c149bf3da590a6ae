"""A download with resume: stream a URL into a Sink under the retry policy, counting and
hashing the bytes as they arrive, resuming where they stopped (a Range request), asking
the issuer anew for an expired signed URL. Its failures are DownloadErrors that name the
host that answered; only the GitHub API's rate limit advises a token.

The bytes go from the socket straight into buffers the sink hands out (no copy per
chunk, no allocation per chunk), are hashed there, and the sink writes or unpacks them
while the next ones arrive (archive.stream). Nothing reads them a second time.
"""

from __future__ import annotations

import hashlib
import http.client
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from .. import USER_AGENT
from ..errors import DownloadError
from ..log import Log, human_size
from ..parallel import check
from ..record import Record
from . import Received, Sink
from .http import IDENTITY, MAX_REDIRECTS, Http, Redirected
from .judge import (
    TRANSIENT_STATUS,
    GaveUp,
    LimitTooLong,
    RateLimited,
    Transient,
    Unusable,
    api_limit_error,
    content_encoding,
    describe_failure,
    host_limit_error,
    netloc,
)

DECODABLE = frozenset({"gzip", "x-gzip", "deflate"})
"""Content-Encodings a download can undo (urllib3's own decoders, no optional module)."""
CHUNK = 1 << 20


STALE_LOCK = (
    "nothing was installed; the release asset was replaced since the lock was written: "
    "if that is expected, delete its entry and re-run github-assets lock"
)


class NotFound(DownloadError):
    """The download URL answered 404."""


def _other_size(job: Download, host: str, size: int | str) -> DownloadError:
    """The answer is of another size than the lock says: final, never retried. From
    GitHub the lock is stale; from a mirror or binding, the mirror is wrong."""
    return DownloadError(
        f"{host} serves {job.name} as {size} bytes, but {job.size_from} says {job.size} bytes",
        hint=STALE_LOCK
        if job.github
        else "nothing was installed; the mirror or binding "
        "serves other bytes than the release asset: correct or remove it there",
    )


def download(net: Http, job: Download) -> Received:
    """Stream job.url into job.sink under the retry policy; count and hash the bytes.

    The bytes are taken as the server sent them, as curl and Go do: a Content-Encoding
    label is reported in Received.encoding, not undone. job.decode undoes it instead
    (for a caller whose bytes as sent did not verify). Which of the two is the asset
    is the caller's question (pipeline), not the downloader's.
    """
    state = _State(job.algorithms, job.size)

    try:
        net.retry(lambda: _attempt(net, job, state), label="", log=job.log, cancel=job.cancel)
    except GaveUp as e:
        failing = "GitHub" if job.github else netloc(job.url)
        raise DownloadError(
            f"failed to download {job.name} after {net.policy.attempts} attempts: {e.cause}",
            hint=f"nothing was installed; the network or {failing} is failing, "
            "retry the build later",
        ) from e.error
    except Unusable as e:
        raise DownloadError(
            f"failed to download {job.name}: {e.cause}",
            hint=e.hint or "the asset URL or its redirect is unusable; check api_url",
        ) from e.__cause__
    except LimitTooLong as e:
        what = f"the download of {job.name}"
        if e.limit.host == job.token_host:  # the GitHub API itself
            raise api_limit_error(
                e.limit, what, token=bool(job.token), error=DownloadError
            ) from None
        raise host_limit_error(e.limit, what) from None
    digests = {a: h.hexdigest() for a, h in state.hashers.items()}
    return Received(state.written, digests, "" if job.decode else state.encoding)


def _attempt(net: Http, job: Download, state: _State) -> None:
    """One request: resume or start over, stream, and check the length."""
    resp = _resume(net, job, state) if state.written else None
    if resp is None:
        if state.written:
            job.log.action(
                f"Starting over: the server cannot resume at "
                f"{human_size(state.written)} of {human_size(state.size)}"
            )
        state.restart(job.sink)
        resp = _open(net, job, state)
    with resp:
        _stream(net, resp, job, state)
    # An encoded body has a length of its own; http.client saw it complete.
    if state.size >= 0 and state.written != state.size and not state.encoding:
        raise Transient(f"the connection ended after {state.written} of {state.size} bytes")


def _resume(net: Http, job: Download, state: _State) -> requests.Response | None:
    """The rest of the asset from where the bytes came from, or None when it cannot."""
    if not (state.ranges and state.final_url):
        return None
    headers = {"User-Agent": USER_AGENT, "Range": f"bytes={state.written}-", **IDENTITY}
    shown = job.shown if state.final_url == job.url else ""
    resp = net.get(state.final_url, headers, job.log, stream=True, shown=shown)
    expected = f"bytes {state.written}-"
    if (
        resp.status_code == 206
        and resp.headers.get("content-range", "").startswith(expected)
        and content_encoding(resp) == state.encoding
    ):
        job.log.action(f"Resuming at {human_size(state.written)} of {human_size(state.size)}")
        return resp
    limit = net.rate_limit(resp)
    resp.close()
    if limit is not None:
        raise RateLimited(limit._replace(github=job.github))
    if resp.status_code in TRANSIENT_STATUS:
        raise Transient(f"HTTP {resp.status_code}")  # the next attempt resumes again
    # An expired signature, a server that ignores Range: start over for a fresh URL.
    return None


def _open(net: Http, job: Download, state: _State) -> requests.Response:
    """The whole asset: job.url and its redirects; a refused signed URL is asked anew once."""
    state.final_url = None
    state.ranges = False
    refreshed = False
    while True:
        try:
            resp = net.open(job.url, job.headers, job.log, stream=True, shown=job.shown)
        except Redirected:
            raise DownloadError(
                f"failed to download {job.name}: redirected more than {MAX_REDIRECTS} times",
                hint="the asset URL or its redirects are unusable; check api_url",
            ) from None
        if resp.status_code == 200:
            break
        host = urlsplit(resp.url).netloc
        if not refreshed and _refused(net, resp, job) and resp.history:
            resp.close()
            refreshed = True
            issuer = job.issuer or urlsplit(job.url).netloc
            job.log.action(
                f"{host} refused the signed download URL (HTTP {resp.status_code}), "
                f"which may have expired; asking {issuer} for a fresh one"
            )
            continue
        _fail_status(net, resp, job, refreshed=refreshed)
    state.final_url = resp.url
    state.encoding = content_encoding(resp)
    length = resp.headers.get("content-length", "")
    if job.size < 0 and not state.encoding:  # not known beforehand: as the answer says
        state.size = int(length) if length.isdigit() else -1
    elif job.size_from and not state.encoding and length.isdigit() and int(length) != job.size:
        resp.close()
        raise _other_size(job, urlsplit(resp.url).netloc, length)
    if job.decode and state.encoding:
        bad = [c for c in state.encoding.split(", ") if c not in DECODABLE]
        if bad:
            resp.close()
            raise DownloadError(
                f"cannot decode {job.name}: Content-Encoding {', '.join(bad)}",
                hint="the server or mirror must send the asset's own bytes: "
                "remove the Content-Encoding it adds",
            )
    # Decoded bytes cannot resume: a Range counts bytes as sent.
    decoding = job.decode and bool(state.encoding)
    state.ranges = not decoding and resp.headers.get("accept-ranges", "").lower() == "bytes"
    return resp


def _refused(net: Http, resp: requests.Response, job: Download) -> bool:
    """A 401/403 (not a rate limit) from a host that never gets the token."""
    return (
        resp.status_code in (401, 403)
        and urlsplit(resp.url).netloc != job.token_host
        and net.rate_limit(resp) is None
    )


def _fail_status(net: Http, resp: requests.Response, job: Download, *, refreshed: bool) -> None:
    status = resp.status_code
    host = urlsplit(resp.url).netloc
    if _refused(net, resp, job):
        resp.close()
        again = f", a fresh one from {job.issuer or urlsplit(job.url).netloc} too"
        raise DownloadError(
            f"failed to download {job.name}: {host} refused the "
            f"{'signed download URL' if resp.history else 'download'} "
            f"(HTTP {status}){again if refreshed else ''}",
            hint="nothing was installed; no token is sent to that host, so this is not "
            "about the token: check that a proxy does not alter the request, "
            "or retry the build later",
        )
    limit = net.rate_limit(resp)
    resp.close()
    if limit is not None:
        raise RateLimited(limit._replace(github=job.github))
    if status in TRANSIENT_STATUS:
        raise Transient(f"HTTP {status}")
    if status == 401 and job.token:
        raise DownloadError(
            f"failed to download {job.name}: the token was rejected (HTTP 401)",
            hint=f"check {job.credential_origin}; it may be expired or revoked",
        )
    if status == 401:
        raise DownloadError(
            f"failed to download {job.name}: {host} asks for a token (HTTP 401)",
            hint="if the repository is private set token_env (or GITHUB_TOKEN) and pass "
            "the variable to the build (pack build --env NAME)",
        )
    if not job.token_host or host != job.token_host:  # a host that never gets the token
        hint = f"check that the asset still exists at {host}"
    elif job.token:
        hint = "check that the asset still exists and the token can read it"
    else:  # the API hides a private repo's assets from a request without a token
        hint = (
            "check that the asset still exists; if the repository is private set token_env "
            "(or GITHUB_TOKEN) and pass the variable to the build (pack build --env NAME)"
        )
    raise (NotFound if status == 404 else DownloadError)(
        f"failed to download {job.name}: HTTP {status} from {host}", hint=hint
    )


def _stream(net: Http, resp: requests.Response, job: Download, state: _State) -> None:
    sink, log = job.sink, job.log
    ctype = resp.headers.get("content-type", "").lower()
    if ctype.startswith("text/html") and not job.content_type.lower().startswith("text/html"):
        raise Transient("the server sent an HTML page instead of the asset")
    decoding = job.decode and bool(state.encoding)
    readinto = _decoded_reader(resp) if decoding else _raw_reader(resp)
    # Encoded, the bytes as sent may be a little longer than the asset (gzip of a
    # .tar.gz); more than that they cannot be, and no decoding makes them it.
    size = state.size if state.size >= 0 else 1 << 62  # unknown and no Content-Length
    limit = size + size // 64 + 65536 if state.encoding and not decoding else size
    start = net.clock()
    last_report = start
    base = state.written
    # A read blocks until its slice of the buffer is full: on a slow link a whole 1 MiB
    # buffer takes ~10 s at 100 KB/s, longer than the progress interval. So each read asks
    # for what arrives in well under that interval (measured), and a fast link's reads grow
    # to the whole buffer within a few reads.
    step = _FIRST_STEP
    while True:
        check(job.cancel)
        buf = sink.buffer()
        began = net.clock()
        try:
            n = readinto(buf[:step])
        except requests.RequestException:
            raise  # judged by the retry loop, like every request's failure
        except (OSError, http.client.HTTPException, urllib3.exceptions.HTTPError) as e:
            raise Transient(describe_failure(e, net.policy)) from e
        if not n:
            return
        if state.written + n > limit:
            if decoding:
                raise DownloadError(f"decoded, {job.name} is more than the {size} bytes announced")
            if state.encoding:
                raise DownloadError(
                    f"failed to download {job.name}: the server sent more than {limit} "
                    f"bytes with Content-Encoding: {state.encoding}, for {size} bytes",
                    hint="nothing was installed; the server or mirror must send the "
                    "asset's own bytes: remove the Content-Encoding it adds",
                )
            if job.size_from:
                raise _other_size(job, urlsplit(resp.url).netloc, f"more than {size}")
            state.restart(sink)
            raise Transient(f"the server sent more than the {size} bytes announced")
        view = buf[:n]
        for hasher in state.hashers.values():
            hasher.update(view)
        try:
            sink.commit(n)
        except OSError as e:
            raise DownloadError(
                f"failed to write {job.name} to the layers dir: {e.strerror or e}",
                hint="free disk space in the build container",
            ) from e
        state.written += n
        now = net.clock()
        took = now - began
        if took < net.progress_every / 8:
            step = min(step * 2, len(buf))
        elif took > net.progress_every / 4:
            step = max(step // 2, _LEAST_STEP)
        if now - last_report >= net.progress_every:
            last_report = now
            rate = human_size(int((state.written - base) / max(now - start, 1e-6)))
            # Named: parallel downloads interleave, and a log line stands on its own.
            if state.size >= 0:
                pct = 100 * state.written // max(state.size, 1)
                log.action(f"{job.name}: {pct}% of {human_size(state.size)}, {rate}/s")
            else:  # no Content-Length: how far, not how much is left
                log.action(f"{job.name}: {human_size(state.written)}, {rate}/s")


class Download(Record):
    """One download: where from, what it must be, where the bytes go.

    The token is sent only to the API (token_host, under token_base), never to a host or
    path a redirect leads to outside it.
    """

    name: str
    url: str
    size: int
    """-1: not known beforehand (a direct download of a pinned asset without a lock)."""
    sink: Sink
    log: Log
    cancel: threading.Event | None
    size_from: str = ""
    """Who announced size when not the server (the lock file's name): an answer of another
    size is final (the lock is stale, or the mirror wrong), never a retry."""
    algorithms: frozenset[str] = frozenset({"sha256"})
    token: str | None = None
    credential_origin: str = "the token"
    """Where the token came from, as a hint names it (config.token_named)."""
    token_host: str = ""
    token_base: str = ""
    """The API's base URL: on token_host only URLs under it are the API's (GitHub
    Enterprise Server answers 302 to /storage/... on the same host; no token goes there)."""
    accept: str = "application/octet-stream"
    content_type: str = ""
    extra_headers: tuple[tuple[str, str], ...] = ()
    """Sent, like the token, only to token_host."""
    issuer: str = ""
    """Who answers url with a signed URL, as the log names it ("the GitHub API")."""
    github: bool = True
    """The URL is GitHub's (its API and storage hosts, its web host), not a mirror's: the
    wording of a failure may speak of GitHub."""
    decode: bool = False
    """Undo the body's Content-Encoding (gzip, deflate) instead of taking it as sent."""
    shown: str = ""
    """How the DEBUG log names url instead of its host and path (a binding's URL)."""

    def headers(self, url: str) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Accept": self.accept, **IDENTITY}
        base = self.token_base.rstrip("/")
        if (
            self.token_host
            and netloc(url) == self.token_host
            and (not base or url.startswith(base + "/"))
        ):
            headers.update(self.extra_headers)
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
        return headers


class _State:
    """Bytes received so far; the sink always holds exactly `written` bytes.

    A plain class, as every value type of a download: dataclasses imports inspect, ast, dis
    and tokenize, ~26M instructions of every build that downloads (docs/performance.md)."""

    __slots__ = ("algorithms", "encoding", "final_url", "hashers", "ranges", "size", "written")

    def __init__(self, algorithms: frozenset[str], size: int = -1) -> None:
        self.algorithms = algorithms
        self.size = size
        """The asset's size: announced, or (unknown beforehand) the answer's Content-Length."""
        self.written = 0
        self.hashers: dict[str, Any] = {a: hashlib.new(a) for a in sorted(algorithms)}
        self.final_url: str | None = None
        self.ranges = False
        self.encoding = ""
        """The Content-Encoding of the answer the bytes come from."""

    def restart(self, sink: Sink) -> None:
        if self.written:
            sink.restart()
        self.written = 0
        self.hashers = {a: hashlib.new(a) for a in sorted(self.algorithms)}


_FIRST_STEP = 64 * 1024
_LEAST_STEP = 4 * 1024


def _raw_reader(resp: requests.Response) -> Callable[[memoryview], int]:
    """readinto() for the body exactly as sent, whatever its Content-Encoding.

    http.client reads the socket straight into our buffer (it undoes the chunked transfer
    coding, never a content coding): urllib3's read() would allocate a fresh bytes per
    chunk (page faults on every MiB) and copy it once more.
    """
    fp = getattr(resp.raw, "_fp", None)
    if isinstance(fp, http.client.HTTPResponse):
        return fp.readinto
    return _reader(resp.raw.stream(CHUNK, decode_content=False))


def _decoded_reader(resp: requests.Response) -> Callable[[memoryview], int]:
    """readinto() for the body with its Content-Encoding undone (requests' decoders)."""
    return _reader(resp.iter_content(CHUNK))


def _reader(chunks: Any) -> Callable[[memoryview], int]:
    pending = memoryview(b"")

    def readinto(buf: memoryview) -> int:
        nonlocal pending
        while not pending:
            chunk = next(chunks, None)
            if chunk is None:
                return 0
            pending = memoryview(chunk)
        n = min(len(buf), len(pending))
        buf[:n] = pending[:n]
        pending = pending[n:]
        return n

    return readinto
