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
from .github import TIMEOUT, ReleaseAsset, api_headers, rate_limit_wait
from .log import Log, human_size

CHUNK = 1 << 20


@dataclass(frozen=True)
class Fetched:
    """A verified download on disk."""

    path: Path
    size: int
    sha256: str
    verified_by: str  # "pinned sha256", "GitHub digest" or "size only"


class _Transient(Exception):
    """A fault worth another attempt."""


@dataclass
class _State:
    written: int = 0
    hasher: hashlib._Hash = field(default_factory=hashlib.sha256)
    storage_url: str | None = None
    ranges: bool = False


class Downloader:
    """Fetch assets with bounded retries; the token never leaves the API host."""

    def __init__(
        self,
        session: requests.Session,
        log: Log,
        *,
        attempts: int = 5,
        backoff: float = 0.5,
        progress_every: float = 3.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.log = log
        self.attempts = attempts
        self.backoff = backoff
        self.progress_every = progress_every
        self._sleep = sleep
        self._clock = clock
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
        last: Exception | None = None
        for attempt in range(self.attempts):
            if attempt:
                delay = self.backoff * 2 ** (attempt - 1) * (0.5 + random.random())  # noqa: S311
                self.log.debug(f"retry {attempt} of {asset.name} in {delay:.1f} s after: {last}")
                self._sleep(delay)
            try:
                resp = self._open(asset, token, api_host, state)
                with resp:
                    self._stream(resp, asset, out, state)
                if state.written == asset.size:
                    return
                raise _Transient(
                    f"got {state.written} of {asset.size} bytes (the connection ended early)"
                )
            except _Transient as e:
                last = e
            except (requests.ConnectionError, requests.Timeout) as e:
                last = _Transient(f"{type(e).__name__}")
            except requests.exceptions.ChunkedEncodingError as e:
                last = _Transient(f"connection broken ({type(e).__name__})")
        raise DownloadError(
            f"failed to download {asset.name}: {last} after {self.attempts} attempts",
            hint="the network or GitHub is failing; retry the build later",
        )

    def _restart(self, out: BinaryIO, state: _State) -> None:
        out.seek(0)
        out.truncate()
        state.written = 0
        state.hasher = hashlib.sha256()

    def _open(
        self, asset: ReleaseAsset, token: str | None, api_host: str, state: _State
    ) -> requests.Response:
        """Response positioned at state.written (resume) or at 0 (fresh start)."""
        if state.written and state.ranges and state.storage_url:
            resp = self.session.get(
                state.storage_url,
                headers={"User-Agent": USER_AGENT, "Range": f"bytes={state.written}-"},
                stream=True,
                timeout=TIMEOUT,
            )
            expected = f"bytes {state.written}-"
            if resp.status_code == 206 and resp.headers.get("content-range", "").startswith(
                expected
            ):
                self.log.debug(f"resuming {asset.name} at byte {state.written}")
                return resp
            resp.close()
        state.written = 0
        state.hasher = hashlib.sha256()
        state.storage_url = None
        # The token goes to the API host only; the storage host gets no Authorization.
        auth = token if urlsplit(asset.url).netloc == api_host else None
        resp = self.session.get(
            asset.url,
            headers=api_headers(auth, accept="application/octet-stream"),
            stream=True,
            timeout=TIMEOUT,
            allow_redirects=False,
        )
        if resp.status_code in (301, 302, 303, 307, 308):
            location = resp.headers.get("location", "")
            resp.close()
            if not location:
                raise _Transient("redirect without a Location")
            resp = self.session.get(
                location,
                headers={"User-Agent": USER_AGENT, "Accept": "application/octet-stream"},
                stream=True,
                timeout=TIMEOUT,
            )
            state.storage_url = resp.url
        if resp.status_code != 200:
            self._fail_status(resp, asset)
        state.ranges = resp.headers.get("accept-ranges", "").lower() == "bytes"
        return resp

    def _fail_status(self, resp: requests.Response, asset: ReleaseAsset) -> None:
        status = resp.status_code
        wait = rate_limit_wait(resp, time.time())
        resp.close()
        if status >= 500 or status == 408:
            raise _Transient(f"HTTP {status}")
        if wait is not None:
            raise DownloadError(
                f"failed to download {asset.name}: GitHub rate limit (HTTP {status})",
                hint="set GITHUB_TOKEN to raise the limit, or retry later",
            )
        if status == 401:
            raise DownloadError(
                f"failed to download {asset.name}: the token was rejected (HTTP 401)",
                hint="check the token in token_env / GITHUB_TOKEN",
            )
        raise DownloadError(f"failed to download {asset.name}: HTTP {status}")

    def _stream(
        self, resp: requests.Response, asset: ReleaseAsset, out: BinaryIO, state: _State
    ) -> None:
        ctype = resp.headers.get("content-type", "").lower()
        if ctype.startswith("text/html"):
            self._restart(out, state)
            raise _Transient("the server sent an HTML page instead of the asset")
        if resp.status_code == 200 and state.written:
            self._restart(out, state)
        start = self._clock()
        last_report = start
        base = state.written
        for chunk in resp.iter_content(CHUNK):
            if not chunk:
                continue
            state.written += len(chunk)
            if state.written > asset.size:
                self._restart(out, state)
                raise _Transient(f"the server sent more than the {asset.size} bytes announced")
            out.write(chunk)
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
