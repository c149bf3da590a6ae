"""Streaming download of a release asset: redirect without auth, retries, resume, verify.

The bytes go from the socket straight into buffers the sink hands out (no copy per chunk,
no allocation per chunk), are hashed there, and the sink writes or unpacks them while the
next ones arrive (archive.stream). Nothing reads them a second time.
"""

from __future__ import annotations

import hashlib
import http.client
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import requests

from . import USER_AGENT
from .config import Checksum
from .errors import DownloadError
from .github import (
    DEFAULT_POLICY,
    NETWORK_FAULTS,
    TRANSIENT_STATUS,
    Cancelled,
    RateLimit,
    ReleaseAsset,
    RetryPolicy,
    api_headers,
    describe_failure,
    rate_limit,
)
from .log import Log, human_size

CHUNK = 1 << 20
# The asset's own bytes, never a compressed transfer of them: the digest is over those bytes,
# release binaries do not compress much, and a body nothing has to decode is read straight
# into our buffers (see _body_reader).
_IDENTITY = {"Accept-Encoding": "identity"}
_REDIRECTS = (301, 302, 303, 307, 308)


class Sink(Protocol):
    """Where a download's bytes go (a file, or archive.stream.StreamUnpack).

    buffer() gives a writable view of up to CHUNK bytes; the downloader reads the network
    into it, then commit(n) says its first n bytes are the next part of the asset. restart()
    drops every byte committed so far (the download starts over from byte 0).
    """

    def buffer(self) -> memoryview: ...

    def commit(self, n: int) -> None: ...

    def restart(self) -> None: ...


class FileSink:
    """A download into one file."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("wb")
        self._buffer = memoryview(bytearray(CHUNK))

    def buffer(self) -> memoryview:
        return self._buffer

    def commit(self, n: int) -> None:
        self._file.write(self._buffer[:n])

    def restart(self) -> None:
        self._file.seek(0)
        self._file.truncate()

    def close(self) -> None:
        self._file.close()


@dataclass(frozen=True)
class Verified:
    """What a download checked: its size, and its sha256 against the pin or GitHub's digest."""

    size: int
    sha256: str
    verified_by: str  # "pinned sha256", "GitHub digest" or "size only"


@dataclass(frozen=True)
class Fetched:
    """A verified download on disk."""

    path: Path
    size: int
    sha256: str
    verified_by: str  # "pinned sha256", "GitHub digest" or "size only"


class _Transient(Exception):
    """A fault worth another attempt."""


class _RateLimited(Exception):
    """A rate limit on the download; retried after its wait when that is short."""

    def __init__(self, limit: RateLimit) -> None:
        super().__init__(f"rate limited (HTTP {limit.status})")
        self.limit = limit


@dataclass
class _State:
    """Bytes received so far; the sink always holds exactly `written` bytes."""

    written: int = 0
    received: int = 0  # every byte off the network, also those thrown away
    hasher: hashlib._Hash = field(default_factory=hashlib.sha256)
    storage_url: str | None = None
    ranges: bool = False

    def restart(self, sink: Sink) -> None:
        if self.written:
            sink.restart()
        self.written = 0
        self.hasher = hashlib.sha256()


class Downloader:
    """Fetch assets with bounded retries; the token never leaves the API host.

    A dropped connection resumes with `Range` on the storage URL when the server
    advertised `Accept-Ranges: bytes`, else starts over from the API URL (a fresh
    signed URL), and the sink starts over too. Retries follow `policy` (attempts,
    backoff with jitter, timeouts).

    Downloads may run in parallel threads: `session` is then a function giving each
    thread its own requests.Session (sessions are not thread-safe).
    """

    def __init__(
        self,
        session: requests.Session | Callable[[], requests.Session],
        log: Log,
        *,
        policy: RetryPolicy = DEFAULT_POLICY,
        progress_every: float = 3.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if isinstance(session, requests.Session):
            fixed = session
            self._session: Callable[[], requests.Session] = lambda: fixed
        else:
            self._session = session
        self.log = log
        self.policy = policy
        self.progress_every = progress_every
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._rand = rand

    def fetch(
        self,
        asset: ReleaseAsset,
        *,
        token: str | None,
        api_host: str,
        dest: Path,
        pin: Checksum | None,
    ) -> Fetched:
        """Download asset to dest, verify size and checksum; dest is removed on failure."""
        try:
            sink = FileSink(dest)
            try:
                got = self.download(asset, token=token, api_host=api_host, sink=sink, pin=pin)
            finally:
                sink.close()
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        return Fetched(dest, got.size, got.sha256, got.verified_by)

    def download(
        self,
        asset: ReleaseAsset,
        *,
        token: str | None,
        api_host: str,
        sink: Sink,
        pin: Checksum | None,
        log: Log | None = None,
        cancel: threading.Event | None = None,
    ) -> Verified:
        """Stream asset into sink and verify size and checksum (DownloadError if they differ).

        log gets this download's lines (progress, retries); cancel, once set, stops it
        (Cancelled) at the next chunk or during a wait.
        """
        state = _State()
        job = _Job(asset, token, api_host, sink, log or self.log, cancel)
        self._download(job, state)
        return self._verify(asset, state, pin)

    def _pause(self, seconds: float, cancel: threading.Event | None) -> None:
        """Sleep; with a cancel event, wake up as soon as it is set."""
        if cancel is None:
            self._sleep(seconds)
        elif cancel.wait(seconds):
            raise Cancelled

    def _download(self, job: _Job, state: _State) -> None:
        asset = job.asset
        attempts = self.policy.attempts
        for attempt in range(1, attempts + 1):
            if job.cancel is not None and job.cancel.is_set():
                raise Cancelled
            try:
                self._attempt(job, state)
                return
            except _RateLimited as e:
                limit = e.limit
                if limit.wait > self.policy.max_wait or attempt == attempts:
                    raise limit.error(
                        f"the download of {asset.name}", token=bool(job.token), error=DownloadError
                    ) from None
                job.log.action(limit.waiting())
                self._pause(limit.wait, job.cancel)
                continue
            except _Transient as e:
                cause = str(e)
            except NETWORK_FAULTS as e:
                cause = describe_failure(e, self.policy)
            except requests.RequestException as e:
                raise DownloadError(
                    f"failed to download {asset.name}: {type(e).__name__}",
                    hint="the asset URL or its redirect is unusable; check api_url",
                ) from e
            if attempt == attempts:
                raise DownloadError(
                    f"failed to download {asset.name} after {attempts} attempts: {cause}",
                    hint="nothing was installed; the network or GitHub is failing, "
                    "retry the build later",
                )
            delay = self.policy.delay(attempt, self._rand)
            job.log.action(
                f"Retrying in {delay:.1f} s (attempt {attempt + 1} of {attempts}): {cause}"
            )
            self._pause(delay, job.cancel)

    def _attempt(self, job: _Job, state: _State) -> None:
        """One request: resume or start over, stream, and check the length."""
        asset = job.asset
        resp = self._resume(job, state) if state.written else None
        if resp is None:
            if state.written:
                job.log.action(
                    f"Starting over: the server cannot resume at "
                    f"{human_size(state.written)} of {human_size(asset.size)}"
                )
            state.restart(job.sink)
            resp = self._open(job, state)
        with resp:
            self._stream(resp, job, state)
        if state.written != asset.size:
            raise _Transient(f"the connection ended after {state.written} of {asset.size} bytes")

    def _resume(self, job: _Job, state: _State) -> requests.Response | None:
        """The rest of the asset from the storage host with Range, or None when it cannot."""
        asset = job.asset
        if not (state.ranges and state.storage_url):
            return None
        resp = self._session().get(
            state.storage_url,
            headers={
                "User-Agent": USER_AGENT,
                "Range": f"bytes={state.written}-",
                **_IDENTITY,
            },
            stream=True,
            timeout=self.policy.timeouts,
        )
        expected = f"bytes {state.written}-"
        if resp.status_code == 206 and resp.headers.get("content-range", "").startswith(expected):
            job.log.action(f"Resuming at {human_size(state.written)} of {human_size(asset.size)}")
            return resp
        limit = rate_limit(resp, self._wall_clock())
        resp.close()
        if limit is not None:
            raise _RateLimited(limit)
        if resp.status_code in TRANSIENT_STATUS:
            raise _Transient(f"HTTP {resp.status_code}")  # the next attempt resumes again
        # An expired signature, a server that ignores Range: start over for a fresh URL.
        return None

    def _open(self, job: _Job, state: _State) -> requests.Response:
        """The whole asset: the API URL, then its redirect to the storage host."""
        asset = job.asset
        state.storage_url = None
        state.ranges = False
        # The token goes to the API host only; the storage host gets no Authorization.
        auth = job.token if urlsplit(asset.url).netloc == job.api_host else None
        session = self._session()
        resp = session.get(
            asset.url,
            headers={**api_headers(auth, accept="application/octet-stream"), **_IDENTITY},
            stream=True,
            timeout=self.policy.timeouts,
            allow_redirects=False,
        )
        if resp.status_code in _REDIRECTS:
            location = resp.headers.get("location", "")
            resp.close()
            if not location:
                raise _Transient(f"HTTP {resp.status_code} without a Location")
            resp = session.get(
                location,
                headers={
                    "User-Agent": USER_AGENT,
                    "Accept": "application/octet-stream",
                    **_IDENTITY,
                },
                stream=True,
                timeout=self.policy.timeouts,
            )
            state.storage_url = resp.url
        if resp.status_code != 200:
            self._fail_status(resp, asset)
        state.ranges = resp.headers.get("accept-ranges", "").lower() == "bytes"
        return resp

    def _fail_status(self, resp: requests.Response, asset: ReleaseAsset) -> None:
        status = resp.status_code
        limit = rate_limit(resp, self._wall_clock())
        resp.close()
        if limit is not None:
            raise _RateLimited(limit)
        if status in TRANSIENT_STATUS:
            raise _Transient(f"HTTP {status}")
        if status == 401:
            raise DownloadError(
                f"failed to download {asset.name}: the token was rejected (HTTP 401)",
                hint="check the token in token_env / GITHUB_TOKEN",
            )
        raise DownloadError(
            f"failed to download {asset.name}: HTTP {status}",
            hint="check that the asset still exists and the token can read it",
        )

    def _stream(self, resp: requests.Response, job: _Job, state: _State) -> None:
        asset, sink, log, cancel = job.asset, job.sink, job.log, job.cancel
        ctype = resp.headers.get("content-type", "").lower()
        if ctype.startswith("text/html") and not asset.content_type.lower().startswith("text/html"):
            raise _Transient("the server sent an HTML page instead of the asset")
        readinto = _body_reader(resp)
        start = self._clock()
        last_report = start
        base = state.written
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled
            buf = sink.buffer()
            try:
                n = readinto(buf)
            except requests.RequestException:
                raise  # judged by _download, like every request's failure
            except (OSError, http.client.HTTPException) as e:
                raise _Transient(self._read_failure(e)) from e
            if not n:
                return
            state.received += n
            if state.written + n > asset.size:
                state.restart(sink)
                raise _Transient(f"the server sent more than the {asset.size} bytes announced")
            state.hasher.update(buf[:n])
            try:
                sink.commit(n)
            except OSError as e:
                raise DownloadError(
                    f"failed to write {asset.name} to the layers dir: {e.strerror or e}",
                    hint="free disk space in the build container",
                ) from e
            state.written += n
            now = self._clock()
            if now - last_report >= self.progress_every:
                last_report = now
                rate = (state.written - base) / max(now - start, 1e-6)
                pct = 100 * state.written // max(asset.size, 1)
                log.action(f"{pct}% of {human_size(asset.size)}, {human_size(int(rate))}/s")

    def _read_failure(self, error: BaseException) -> str:
        """The cause of a failed read from the socket, as describe_failure words it."""
        if isinstance(error, TimeoutError) or "timed out" in str(error).lower():
            return f"no data for {self.policy.timeout:g} s (read timeout)"
        if isinstance(error, http.client.HTTPException):
            return "the connection broke mid-response"
        return "the connection failed or was reset"

    def _verify(self, asset: ReleaseAsset, state: _State, pin: Checksum | None) -> Verified:
        actual = state.hasher.hexdigest()
        if pin is not None:
            expected, source = pin.hex, "pinned sha256"
        elif asset.digest:
            parsed = Checksum.parse(asset.digest)
            if parsed is None:
                raise DownloadError(
                    f"GitHub published a digest for {asset.name} that is not sha256: "
                    f"{asset.digest}",
                    hint="pin sha256 in the config to verify it yourself",
                )
            expected, source = parsed.hex, "GitHub digest"
        else:
            return Verified(state.written, actual, "size only")
        if actual != expected:
            raise DownloadError(
                f"checksum mismatch for {asset.name}: expected sha256:{expected} "
                f"({source}), got sha256:{actual}",
                hint="nothing was installed; if the release asset was replaced on purpose, "
                "update the sha256 pin",
            )
        return Verified(state.written, actual, source)


@dataclass(frozen=True)
class _Job:
    """One download's inputs, passed down the retry loop."""

    asset: ReleaseAsset
    token: str | None
    api_host: str
    sink: Sink
    log: Log
    cancel: threading.Event | None


def _body_reader(resp: requests.Response) -> Callable[[memoryview], int]:
    """readinto() for the response body.

    When nothing decodes the body (no Content-Encoding: what GitHub's storage sends for
    assets), http.client reads the socket straight into our buffer: urllib3's read() would
    allocate a fresh bytes per chunk (page faults on every MiB) and copy it once more. Any
    other response goes through requests' iter_content, which decodes.
    """
    fp = getattr(resp.raw, "_fp", None)
    encoding = resp.headers.get("content-encoding", "").strip().lower()
    if isinstance(fp, http.client.HTTPResponse) and encoding in ("", "identity"):
        return lambda buf: fp.readinto(buf)
    chunks = resp.iter_content(CHUNK)
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
