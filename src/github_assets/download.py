"""Streaming download of a release asset: redirect without auth, retries, resume, verify."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import requests

from . import USER_AGENT
from .config import Checksum
from .errors import DownloadError
from .github import (
    DEFAULT_POLICY,
    NETWORK_FAULTS,
    TRANSIENT_STATUS,
    RateLimit,
    ReleaseAsset,
    RetryPolicy,
    api_headers,
    describe_failure,
    rate_limit,
)
from .log import Log, human_size

CHUNK = 1 << 20
_REDIRECTS = (301, 302, 303, 307, 308)


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
    """Bytes received so far; the file on disk always holds exactly `written` bytes."""

    written: int = 0
    hasher: hashlib._Hash = field(default_factory=hashlib.sha256)
    storage_url: str | None = None
    ranges: bool = False

    def restart(self, out: BinaryIO) -> None:
        out.seek(0)
        out.truncate()
        self.written = 0
        self.hasher = hashlib.sha256()


class Downloader:
    """Fetch assets with bounded retries; the token never leaves the API host.

    A dropped connection resumes with `Range` on the storage URL when the server
    advertised `Accept-Ranges: bytes`, else starts over from the API URL (a fresh
    signed URL). Retries follow `policy` (attempts, backoff with jitter, timeouts).
    """

    def __init__(
        self,
        session: requests.Session,
        log: Log,
        *,
        policy: RetryPolicy = DEFAULT_POLICY,
        progress_every: float = 3.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.session = session
        self.log = log
        self.policy = policy
        self.progress_every = progress_every
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._rand = rand
        self.bytes_downloaded = 0

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
        state = _State()
        try:
            with dest.open("wb") as out:
                self._download(asset, token, api_host, out, state)
            return self._verify(asset, dest, state, pin)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise

    def _download(
        self, asset: ReleaseAsset, token: str | None, api_host: str, out: BinaryIO, state: _State
    ) -> None:
        attempts = self.policy.attempts
        for attempt in range(1, attempts + 1):
            try:
                self._attempt(asset, token, api_host, out, state)
                return
            except _RateLimited as e:
                limit = e.limit
                if limit.wait > self.policy.max_wait or attempt == attempts:
                    raise limit.error(
                        f"the download of {asset.name}", token=bool(token), error=DownloadError
                    ) from None
                self.log.action(limit.waiting())
                self._sleep(limit.wait)
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
            self.log.action(
                f"Retrying in {delay:.1f} s (attempt {attempt + 1} of {attempts}): {cause}"
            )
            self._sleep(delay)

    def _attempt(
        self, asset: ReleaseAsset, token: str | None, api_host: str, out: BinaryIO, state: _State
    ) -> None:
        """One request: resume or start over, stream, and check the length."""
        resp = self._resume(asset, state) if state.written else None
        if resp is None:
            if state.written:
                self.log.action(
                    f"Starting over: the server cannot resume at "
                    f"{human_size(state.written)} of {human_size(asset.size)}"
                )
            state.restart(out)
            resp = self._open(asset, token, api_host, state)
        with resp:
            self._stream(resp, asset, out, state)
        if state.written != asset.size:
            raise _Transient(f"the connection ended after {state.written} of {asset.size} bytes")

    def _resume(self, asset: ReleaseAsset, state: _State) -> requests.Response | None:
        """The rest of the asset from the storage host with Range, or None when it cannot."""
        if not (state.ranges and state.storage_url):
            return None
        resp = self.session.get(
            state.storage_url,
            headers={"User-Agent": USER_AGENT, "Range": f"bytes={state.written}-"},
            stream=True,
            timeout=self.policy.timeouts,
        )
        expected = f"bytes {state.written}-"
        if resp.status_code == 206 and resp.headers.get("content-range", "").startswith(expected):
            self.log.action(f"Resuming at {human_size(state.written)} of {human_size(asset.size)}")
            return resp
        limit = rate_limit(resp, self._wall_clock())
        resp.close()
        if limit is not None:
            raise _RateLimited(limit)
        if resp.status_code in TRANSIENT_STATUS:
            raise _Transient(f"HTTP {resp.status_code}")  # the next attempt resumes again
        # An expired signature, a server that ignores Range: start over for a fresh URL.
        return None

    def _open(
        self, asset: ReleaseAsset, token: str | None, api_host: str, state: _State
    ) -> requests.Response:
        """The whole asset: the API URL, then its redirect to the storage host."""
        state.storage_url = None
        state.ranges = False
        # The token goes to the API host only; the storage host gets no Authorization.
        auth = token if urlsplit(asset.url).netloc == api_host else None
        resp = self.session.get(
            asset.url,
            headers=api_headers(auth, accept="application/octet-stream"),
            stream=True,
            timeout=self.policy.timeouts,
            allow_redirects=False,
        )
        if resp.status_code in _REDIRECTS:
            location = resp.headers.get("location", "")
            resp.close()
            if not location:
                raise _Transient(f"HTTP {resp.status_code} without a Location")
            resp = self.session.get(
                location,
                headers={"User-Agent": USER_AGENT, "Accept": "application/octet-stream"},
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

    def _stream(
        self, resp: requests.Response, asset: ReleaseAsset, out: BinaryIO, state: _State
    ) -> None:
        ctype = resp.headers.get("content-type", "").lower()
        if ctype.startswith("text/html") and not asset.content_type.lower().startswith("text/html"):
            raise _Transient("the server sent an HTML page instead of the asset")
        start = self._clock()
        last_report = start
        base = state.written
        for chunk in resp.iter_content(CHUNK):
            if not chunk:
                continue
            if state.written + len(chunk) > asset.size:
                state.restart(out)
                raise _Transient(f"the server sent more than the {asset.size} bytes announced")
            try:
                out.write(chunk)
            except OSError as e:
                raise DownloadError(
                    f"failed to write {asset.name} to the layers dir: {e.strerror or e}",
                    hint="free disk space in the build container",
                ) from e
            state.written += len(chunk)
            state.hasher.update(chunk)
            self.bytes_downloaded += len(chunk)
            now = self._clock()
            if now - last_report >= self.progress_every:
                last_report = now
                rate = (state.written - base) / max(now - start, 1e-6)
                pct = 100 * state.written // max(asset.size, 1)
                self.log.action(f"{pct}% of {human_size(asset.size)}, {human_size(int(rate))}/s")

    def _verify(
        self, asset: ReleaseAsset, dest: Path, state: _State, pin: Checksum | None
    ) -> Fetched:
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
            return Fetched(dest, state.written, actual, "size only")
        if actual != expected:
            raise DownloadError(
                f"checksum mismatch for {asset.name}: expected sha256:{expected} "
                f"({source}), got sha256:{actual}",
                hint="nothing was installed; if the release asset was replaced on purpose, "
                "update the sha256 pin",
            )
        return Fetched(dest, state.written, actual, source)
