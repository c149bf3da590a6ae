"""HTTP as every source uses it: the session policy, one retry loop, rate limits, and a
streaming download with resume.

The bytes go from the socket straight into buffers the sink hands out (no copy per
chunk, no allocation per chunk), are hashed there, and the sink writes or unpacks them
while the next ones arrive (archive.stream). Nothing reads them a second time.

One place each for: what a header says (seconds_until), following redirects (Http.open:
hop by hop, the token only where it belongs), what a request's exception means (judge:
retried, or final with what to do), and TLS (tls.TRUST, on every session's adapter).
"""

from __future__ import annotations

import hashlib
import http.client
import math
import random
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
import requests.adapters
import urllib3.exceptions

from .. import USER_AGENT
from ..errors import BuildpackError, DownloadError
from ..log import Log, human_size
from ..parallel import check, pause
from ..settings import RetryPolicy
from . import Received, Sink
from .tls import TRUST

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs

T = TypeVar("T")
TRANSIENT_STATUS = frozenset({408, 500, 502, 503, 504})
NETWORK_FAULTS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
"""Exceptions of a request worth another attempt (the others are our mistake or the URL's)."""
REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5
"""Hops one request may take (GitHub needs two: a renamed repo's 301, the asset's 302)."""
# The asset's own bytes, never a compressed transfer of them: the digest is over those
# bytes, release binaries do not compress much, and a body nothing has to decode is read
# straight into our buffers (see _raw_reader). A server may encode it anyway: see download.
IDENTITY = {"Accept-Encoding": "identity"}
DECODABLE = frozenset({"gzip", "x-gzip", "deflate"})
"""Content-Encodings a download can undo (urllib3's own decoders, no optional module)."""
CHUNK = 1 << 20
CA_HINT = (
    "add the CA that signed it to the build: a binding of type ca-certificates holding the "
    "PEM file (kpack: a Secret in the Image's services), or SSL_CERT_FILE (a PEM bundle) or "
    "SSL_CERT_DIR (a hashed directory), e.g. pack build --env SSL_CERT_FILE=/path/to/ca.pem"
)


class _Adapter(requests.adapters.HTTPAdapter):
    """Every HTTPS connection on the process's one TLS context (tls.TRUST), proxies too."""

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[_HostParams, _PoolKwargs]:
        host, pool = super().build_connection_pool_key_attributes(request, verify, cert)
        if host.get("scheme") == "https":
            pool["ssl_context"] = TRUST.context()  # made by the first HTTPS connection
        return host, pool

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # The context holds the trust; requests would load its certifi bundle into it.
        conn.cert_reqs = "CERT_REQUIRED" if url.lower().startswith("https") else "CERT_NONE"
        conn.ca_certs = None
        conn.ca_cert_dir = None


def new_session(pool_size: int = requests.adapters.DEFAULT_POOLSIZE) -> requests.Session:
    """A session that honours HTTP(S)_PROXY/NO_PROXY per request URL but never reads .netrc,
    and trusts what the build image trusts (tls.py).

    trust_env would do both, and .netrc credentials could then reach the storage
    host; so trust_env is off and each request gets the proxies its own host calls for.

    The threads of a build share it: what they use of it is thread-safe (urllib3's pools,
    the cookie jar's lock; no auth, no environment merge, redirects are Http.open's). Each
    host keeps up to pool_size idle connections: one per thread, so none is dropped.
    """

    class _Session(requests.Session):
        def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
            text = url.decode() if isinstance(url, bytes) else url
            kwargs.setdefault("proxies", requests.utils.get_environ_proxies(text))
            return super().request(method, url, *args, **kwargs)

    session = _Session()
    session.mount("https://", _Adapter(pool_maxsize=pool_size))
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=pool_size))
    session.headers["User-Agent"] = USER_AGENT
    session.trust_env = False
    return session


def describe_failure(error: BaseException, policy: RetryPolicy) -> str:
    """A short cause for a network exception, without its URL (signed URLs stay out of logs)."""
    if isinstance(error, requests.ConnectTimeout):
        return f"could not connect within {policy.timeouts[0]:g} s"
    if isinstance(error, TimeoutError | requests.ReadTimeout) or "timed out" in str(error).lower():
        return f"no data for {policy.timeout:g} s (read timeout)"
    if isinstance(error, requests.exceptions.ProxyError):
        return f"the proxy failed the connection to {_host_of(error)}"
    if isinstance(error, requests.exceptions.SSLError):
        return "the connection was cut during the TLS handshake"
    if isinstance(error, requests.exceptions.ChunkedEncodingError | http.client.HTTPException):
        return "the connection broke mid-response"
    if isinstance(error, requests.ConnectionError | OSError):
        return "the connection failed or was reset"
    return type(error).__name__


def judge(error: requests.RequestException) -> tuple[str, str] | None:
    """None when another attempt may succeed; else what went wrong and what to do.

    Every exception requests raises lands here: timeouts, resets and broken bodies are
    worth another attempt; an untrusted certificate, a failed TLS handshake, a body that
    does not decode, a malformed URL are not (retrying would only delay the same error).
    """
    host = _host_of(error)
    cert = _find(error, ssl.SSLCertVerificationError)
    if cert is not None:
        reason = getattr(cert, "verify_message", "") or getattr(cert, "reason", "") or "unknown"
        return f"the certificate of {host} is not trusted ({reason})", CA_HINT
    if isinstance(error, requests.exceptions.SSLError):
        if _find(error, ssl.SSLEOFError | ssl.SSLZeroReturnError) is not None:
            return None  # the connection was cut mid-handshake
        tls = _find(error, ssl.SSLError)
        reason = str(getattr(tls, "reason", "") or tls or "unknown").lower().replace("_", " ")
        return (
            f"the TLS handshake with {host} failed ({reason})",
            f"check that {host} speaks HTTPS on that port, and any proxy in between",
        )
    if isinstance(error, NETWORK_FAULTS):
        return None
    if isinstance(error, requests.exceptions.ContentDecodingError):
        return (
            "the body does not decode as its Content-Encoding says",
            "the server or mirror must send the asset's own bytes: "
            "remove the Content-Encoding it adds",
        )
    if isinstance(error, requests.exceptions.InvalidProxyURL):
        return "the proxy URL is malformed", "fix HTTPS_PROXY / HTTP_PROXY"
    if isinstance(error, requests.exceptions.MissingSchema | requests.exceptions.InvalidSchema):
        return "a URL that is not http(s)", ""
    if isinstance(error, requests.exceptions.InvalidURL | requests.exceptions.URLRequired):
        return "a malformed URL", ""
    if isinstance(error, requests.exceptions.InvalidHeader):  # our own request's
        return (
            "a request header has a line break or a character outside Latin-1",
            "check the token in token_env / GITHUB_TOKEN for stray characters",
        )
    return type(error).__name__, ""


def _host_of(error: requests.RequestException) -> str:
    url = getattr(getattr(error, "request", None), "url", None)
    return urlsplit(url).netloc if isinstance(url, str) else "the server"


def _find(error: BaseException, kind: Any) -> BaseException | None:
    """The first exception of kind among error and those it wraps (args, reason, causes)."""
    seen: set[int] = set()
    todo: list[BaseException] = [error]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, kind):
            found: BaseException = e
            return found
        wrapped = (*e.args, getattr(e, "reason", None), e.__cause__, e.__context__)
        todo.extend(w for w in wrapped if isinstance(w, BaseException))
    return None


# -- what headers say ----------------------------------------------------------------------

MAX_EPOCH = 253402300799.0
"""9999-12-31 23:59:59 UTC: the last moment a datetime (and so the error line) can show."""
_NUMBER = re.compile(r"[0-9]{1,12}")  # ASCII: str.isdigit() also says yes to "²"


def seconds_until(value: str | None, now: float, *, epoch: bool) -> float | None:
    """The moment (epoch seconds) a header names, or None when it names none a calendar holds.

    value is delta-seconds or an HTTP-date (retry-after, RFC 9110), or with epoch=True
    epoch seconds (x-ratelimit-reset). A number is at most 12 ASCII digits (float() of 400
    digits is inf, of "²" an error); a moment before 1970 or after year 9999 is None.
    """
    text = (value or "").strip()
    try:
        if _NUMBER.fullmatch(text):
            at = float(text) if epoch else now + float(text)
        elif not epoch and text:
            date = parsedate_to_datetime(text)
            if date.tzinfo is None:
                date = date.replace(tzinfo=timezone.utc)
            at = date.timestamp()
        else:
            return None
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        return None
    return at if 0 <= at <= MAX_EPOCH else None


@dataclass(frozen=True)
class RateLimit:
    """A rate-limit answer: how long until it lifts, and when; None when nobody can say."""

    status: int
    wait: float | None
    resets_at: float | None
    secondary: bool

    @classmethod
    def until(cls, status: int, at: float | None, now: float, *, secondary: bool) -> RateLimit:
        wait = None if at is None else max(0.0, at - now)
        return cls(status, wait, at, secondary)

    def waiting(self) -> str:
        """The log line for a limit that is waited out."""
        return f"Rate limited (HTTP {self.status}); waiting {_duration(self.wait)} as GitHub asks"

    def error(self, what: str, *, token: bool, error: type[BuildpackError]) -> BuildpackError:
        """The error for a limit too long to wait out: the reset time and what to do."""
        if self.resets_at is None or self.wait is None:
            when = "at an unknown time"
        else:
            reset = datetime.fromtimestamp(int(self.resets_at), tz=timezone.utc)
            when = f"at {reset:%Y-%m-%d %H:%M:%S} UTC, in {_duration(self.wait)}"
        kind = "secondary rate limit" if self.secondary else "rate limit exceeded"
        advice = (
            "wait for the reset or use another token"
            if token
            else "a token raises the limit: set GITHUB_TOKEN (pack build --env GITHUB_TOKEN)"
        )
        return error(
            f"GitHub API {kind} for {what} (HTTP {self.status}); it resets {when}", hint=advice
        )


def _duration(seconds: float | None) -> str:
    """A wait as people say it, rounded up (a limit never lifts earlier than said)."""
    if seconds is None:
        return "an unknown time"
    s = max(0, math.ceil(seconds))
    if s < 120:
        return f"{s} s"
    minutes = math.ceil(s / 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def rate_limit(resp: requests.Response, now: float) -> RateLimit | None:
    """The rate limit resp announces (403/429 with x-ratelimit-remaining: 0 or retry-after)."""
    status, headers = resp.status_code, resp.headers
    if status not in (403, 429):
        return None
    if "retry-after" in headers:
        at = seconds_until(headers["retry-after"], now, epoch=False)
        return RateLimit.until(status, at, now, secondary=True)
    if headers.get("x-ratelimit-remaining", "").strip() == "0":
        at = seconds_until(headers.get("x-ratelimit-reset"), now, epoch=True)
        return RateLimit.until(status, at, now, secondary=False)
    if status == 429:
        # GitHub's advice for a secondary limit without headers: wait at least a minute.
        return RateLimit.until(429, now + 60.0, now, secondary=True)
    return None


def netloc(url: str) -> str:
    """The host[:port] of url, '' when no parser accepts it (then no token goes there)."""
    try:
        return urlsplit(url).netloc
    except ValueError:
        return ""


def content_encoding(resp: requests.Response) -> str:
    """The codings the body was sent in ("gzip"), '' for the bytes as they are."""
    codings = [c.strip().lower() for c in resp.headers.get("content-encoding", "").split(",")]
    return ", ".join(c for c in codings if c and c != "identity")


class NotFound(DownloadError):
    """The download URL answered 404."""


class Transient(Exception):
    """A fault worth another attempt; its text is the cause the log shows."""


class Redirected(Exception):
    """A redirect not followed: to another host where that is not allowed, or one too many."""

    def __init__(self, status: int, location: str, *, too_many: bool) -> None:
        super().__init__(f"HTTP {status} to {urlsplit(location).netloc}")
        self.status = status
        self.host = urlsplit(location).netloc
        self.too_many = too_many


class RateLimited(Exception):
    """A rate-limit answer; waited out when short, else an error with the reset time."""

    def __init__(self, limit: RateLimit) -> None:
        super().__init__(f"rate limited (HTTP {limit.status})")
        self.limit = limit


class Http:
    """Requests, retries and downloads of one build, shared by its sources and threads.

    `session` gives the requests.Session to use (the build's one session, see new_session).
    sleep/clock/wall_clock/rand are the clock of the retry loop, so tests can control it.
    """

    def __init__(
        self,
        session: Callable[[], requests.Session],
        policy: RetryPolicy,
        *,
        progress_every: float = 3.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.session = session
        self.policy = policy
        self.progress_every = progress_every
        self.sleep = sleep
        self.clock = clock
        self.wall_clock = wall_clock
        self.rand = rand

    def get(
        self, url: str, headers: dict[str, str], log: Log, *, stream: bool = False
    ) -> requests.Response:
        """One GET, redirects not followed; logged (method, host, path) at DEBUG."""
        try:
            parts = urlsplit(url)
            log.debug(f"GET {parts.netloc}{parts.path}")
            return self.session().get(
                url,
                headers=headers,
                stream=stream,
                timeout=self.policy.timeouts,
                allow_redirects=False,
            )
        except requests.RequestException:
            raise
        except UnicodeEncodeError as e:  # http.client: header values are Latin-1
            raise requests.exceptions.InvalidHeader("a header value is not Latin-1") from e
        except ValueError as e:  # urllib.parse, before requests: "http://[::1", a bad port
            raise requests.exceptions.InvalidURL("malformed URL") from e
        finally:
            news = TRUST.news()  # the first HTTPS connection of the process made the TLS context
            if news is not None:
                log.debug(news)

    def open(
        self,
        url: str,
        headers: Callable[[str], dict[str, str]],
        log: Log,
        *,
        stream: bool = False,
        leave: bool = True,
    ) -> requests.Response:
        """GET url and follow its redirects hop by hop, at most MAX_REDIRECTS of them.

        Each hop gets headers(its URL), so a token meant for one host never rides a
        redirect to another. With leave=False a redirect to another host is not followed
        (Redirected). The answer's .url is where it came from, its .history the redirects.
        """
        hops: list[requests.Response] = []
        for _ in range(MAX_REDIRECTS + 1):
            resp = self.get(url, headers(url), log, stream=stream)
            if resp.status_code not in REDIRECTS:
                resp.history = hops
                return resp
            status, location = resp.status_code, resp.headers.get("location", "").strip()
            resp.close()
            hops.append(resp)
            if not location:
                raise Transient(f"HTTP {status} without a Location")
            try:
                target = urljoin(url, location)
                urlsplit(target).port  # noqa: B018 (raises on a port no URL can have)
            except ValueError:
                raise requests.exceptions.InvalidURL("malformed Location") from None
            if not leave and urlsplit(target).netloc != urlsplit(url).netloc:
                raise Redirected(status, target, too_many=False)
            log.debug(f"HTTP {status}: to {urlsplit(target).netloc}{urlsplit(target).path}")
            url = target
        raise Redirected(status, url, too_many=True)

    def rate_limit(self, resp: requests.Response) -> RateLimit | None:
        return rate_limit(resp, self.wall_clock())

    def retry(
        self,
        attempt: Callable[[], T],
        *,
        label: str,
        log: Log,
        cancel: threading.Event | None,
        give_up: Callable[[str, BaseException], BuildpackError],
        unusable: Callable[[str, str], BuildpackError],
        rate_error: Callable[[RateLimit], BuildpackError],
    ) -> T:
        """attempt() until it returns, under the policy.

        Transient and network faults are retried with backoff, then give_up(cause, error);
        a short rate limit is waited out, a long one is rate_error; any other request
        failure is unusable(cause, hint) at once (judge says which is which). label names
        what is retried in the log line. A BuildpackError from attempt() goes through.
        """
        attempts = self.policy.attempts
        error: BaseException
        for n in range(1, attempts + 1):
            check(cancel)
            try:
                return attempt()
            except RateLimited as e:
                limit = e.limit
                if limit.wait is None or limit.wait > self.policy.max_wait or n == attempts:
                    log.debug(
                        f"HTTP {limit.status}: rate limit for {_duration(limit.wait)}, not waited"
                    )
                    raise rate_error(limit) from None
                log.debug(f"HTTP {limit.status}: rate limit for {limit.wait:g} s, waited out")
                log.action(limit.waiting())
                pause(limit.wait, cancel, self.sleep)
                continue
            except Transient as e:
                cause, error = str(e), e
            except requests.RequestException as e:
                final = judge(e)
                if final is not None:
                    log.debug(f"{type(e).__name__}: {final[0]}: not retried")
                    raise unusable(*final) from e
                cause, error = describe_failure(e, self.policy), e
            log.debug(f"{cause}: transient ({type(error).__name__}), attempt {n} of {attempts}")
            if n == attempts:
                raise give_up(cause, error) from error
            delay = self.policy.delay(n, self.rand)
            log.action(f"Retrying {label}in {delay:.1f} s (attempt {n + 1} of {attempts}): {cause}")
            pause(delay, cancel, self.sleep)
        raise AssertionError("unreachable")

    def download(self, job: Download) -> Received:
        """Stream job.url into job.sink under the retry policy; count and hash the bytes.

        The bytes are taken as the server sent them, as curl and Go do: a Content-Encoding
        label is reported in Received.encoding, not undone. job.decode undoes it instead
        (for a caller whose bytes as sent did not verify). Which of the two is the asset
        is the caller's question (pipeline), not the downloader's.
        """
        state = _State(job.algorithms, job.size)

        def give_up(cause: str, error: BaseException) -> BuildpackError:
            return DownloadError(
                f"failed to download {job.name} after {self.policy.attempts} attempts: {cause}",
                hint="nothing was installed; the network or GitHub is failing, "
                "retry the build later",
            )

        def unusable(cause: str, hint: str) -> BuildpackError:
            return DownloadError(
                f"failed to download {job.name}: {cause}",
                hint=hint or "the asset URL or its redirect is unusable; check api_url",
            )

        def rate_error(limit: RateLimit) -> BuildpackError:
            what = f"the download of {job.name}"
            return limit.error(what, token=bool(job.token), error=DownloadError)

        self.retry(
            lambda: self._attempt(job, state),
            label="",
            log=job.log,
            cancel=job.cancel,
            give_up=give_up,
            unusable=unusable,
            rate_error=rate_error,
        )
        digests = {a: h.hexdigest() for a, h in state.hashers.items()}
        return Received(state.written, digests, "" if job.decode else state.encoding)

    def _attempt(self, job: Download, state: _State) -> None:
        """One request: resume or start over, stream, and check the length."""
        resp = self._resume(job, state) if state.written else None
        if resp is None:
            if state.written:
                job.log.action(
                    f"Starting over: the server cannot resume at "
                    f"{human_size(state.written)} of {human_size(state.size)}"
                )
            state.restart(job.sink)
            resp = self._open(job, state)
        with resp:
            self._stream(resp, job, state)
        # An encoded body has a length of its own; http.client saw it complete.
        if state.size >= 0 and state.written != state.size and not state.encoding:
            raise Transient(f"the connection ended after {state.written} of {state.size} bytes")

    def _resume(self, job: Download, state: _State) -> requests.Response | None:
        """The rest of the asset from where the bytes came from, or None when it cannot."""
        if not (state.ranges and state.final_url):
            return None
        headers = {"User-Agent": USER_AGENT, "Range": f"bytes={state.written}-", **IDENTITY}
        resp = self.get(state.final_url, headers, job.log, stream=True)
        expected = f"bytes {state.written}-"
        if (
            resp.status_code == 206
            and resp.headers.get("content-range", "").startswith(expected)
            and content_encoding(resp) == state.encoding
        ):
            job.log.action(f"Resuming at {human_size(state.written)} of {human_size(state.size)}")
            return resp
        limit = self.rate_limit(resp)
        resp.close()
        if limit is not None:
            raise RateLimited(limit)
        if resp.status_code in TRANSIENT_STATUS:
            raise Transient(f"HTTP {resp.status_code}")  # the next attempt resumes again
        # An expired signature, a server that ignores Range: start over for a fresh URL.
        return None

    def _open(self, job: Download, state: _State) -> requests.Response:
        """The whole asset: job.url and its redirects; a refused signed URL is asked anew once."""
        state.final_url = None
        state.ranges = False
        refreshed = False
        while True:
            try:
                resp = self.open(job.url, job.headers, job.log, stream=True)
            except Redirected:
                raise DownloadError(
                    f"failed to download {job.name}: redirected more than {MAX_REDIRECTS} times",
                    hint="the asset URL or its redirects are unusable; check api_url",
                ) from None
            if resp.status_code == 200:
                break
            host = urlsplit(resp.url).netloc
            if not refreshed and self._refused(resp, job) and resp.history:
                resp.close()
                refreshed = True
                issuer = job.issuer or urlsplit(job.url).netloc
                job.log.action(
                    f"{host} refused the signed download URL (HTTP {resp.status_code}), "
                    f"which may have expired; asking {issuer} for a fresh one"
                )
                continue
            self._fail_status(resp, job, refreshed=refreshed)
        state.final_url = resp.url
        state.encoding = content_encoding(resp)
        if job.size < 0 and not state.encoding:  # not known beforehand: as the answer says
            length = resp.headers.get("content-length", "")
            state.size = int(length) if length.isdigit() else -1
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

    def _refused(self, resp: requests.Response, job: Download) -> bool:
        """A 401/403 (not a rate limit) from a host that never gets the token."""
        return (
            resp.status_code in (401, 403)
            and urlsplit(resp.url).netloc != job.token_host
            and self.rate_limit(resp) is None
        )

    def _fail_status(self, resp: requests.Response, job: Download, *, refreshed: bool) -> None:
        status = resp.status_code
        host = urlsplit(resp.url).netloc
        if self._refused(resp, job):
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
        limit = self.rate_limit(resp)
        resp.close()
        if limit is not None:
            raise RateLimited(limit)
        if status in TRANSIENT_STATUS:
            raise Transient(f"HTTP {status}")
        if status == 401 and job.token:
            raise DownloadError(
                f"failed to download {job.name}: the token was rejected (HTTP 401)",
                hint="check the token in token_env / GITHUB_TOKEN",
            )
        if status == 401:
            raise DownloadError(
                f"failed to download {job.name}: {host} asks for a token (HTTP 401)",
                hint="if the repository is private set token_env (or GITHUB_TOKEN) and pass "
                "the variable to the build (pack build --env NAME)",
            )
        raise (NotFound if status == 404 else DownloadError)(
            f"failed to download {job.name}: HTTP {status}",
            hint="check that the asset still exists and the token can read it",
        )

    def _stream(self, resp: requests.Response, job: Download, state: _State) -> None:
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
        start = self.clock()
        last_report = start
        base = state.written
        while True:
            check(job.cancel)
            buf = sink.buffer()
            try:
                n = readinto(buf)
            except requests.RequestException:
                raise  # judged by the retry loop, like every request's failure
            except (OSError, http.client.HTTPException, urllib3.exceptions.HTTPError) as e:
                raise Transient(describe_failure(e, self.policy)) from e
            if not n:
                return
            if state.written + n > limit:
                if decoding:
                    raise DownloadError(
                        f"decoded, {job.name} is more than the {size} bytes announced"
                    )
                if state.encoding:
                    raise DownloadError(
                        f"failed to download {job.name}: the server sent more than {limit} "
                        f"bytes with Content-Encoding: {state.encoding}, for {size} bytes",
                        hint="nothing was installed; the server or mirror must send the "
                        "asset's own bytes: remove the Content-Encoding it adds",
                    )
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
            now = self.clock()
            if now - last_report >= self.progress_every:
                last_report = now
                rate = (state.written - base) / max(now - start, 1e-6)
                pct = 100 * state.written // max(size, 1)
                log.action(f"{pct}% of {human_size(size)}, {human_size(int(rate))}/s")


@dataclass(frozen=True)
class Download:
    """One download: where from, what it must be, where the bytes go.

    The token is sent only to token_host (the API host), never after a redirect.
    """

    name: str
    url: str
    size: int
    """-1: not known beforehand (a direct download of a pinned asset without a lock)."""
    sink: Sink
    log: Log
    cancel: threading.Event | None
    algorithms: frozenset[str] = frozenset({"sha256"})
    token: str | None = None
    token_host: str = ""
    accept: str = "application/octet-stream"
    content_type: str = ""
    extra_headers: tuple[tuple[str, str], ...] = ()
    """Sent, like the token, only to token_host."""
    issuer: str = ""
    """Who answers url with a signed URL, as the log names it ("the GitHub API")."""
    decode: bool = False
    """Undo the body's Content-Encoding (gzip, deflate) instead of taking it as sent."""

    def headers(self, url: str) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Accept": self.accept, **IDENTITY}
        if self.token_host and netloc(url) == self.token_host:
            headers.update(self.extra_headers)
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
        return headers


@dataclass
class _State:
    """Bytes received so far; the sink always holds exactly `written` bytes."""

    algorithms: frozenset[str]
    size: int = -1
    """The asset's size: announced, or (unknown beforehand) the answer's Content-Length."""
    written: int = 0
    hashers: dict[str, Any] = field(default_factory=dict)
    final_url: str | None = None
    ranges: bool = False
    encoding: str = ""
    """The Content-Encoding of the answer the bytes come from."""

    def __post_init__(self) -> None:
        self.hashers = {a: hashlib.new(a) for a in sorted(self.algorithms)}

    def restart(self, sink: Sink) -> None:
        if self.written:
            sink.restart()
        self.written = 0
        self.hashers = {a: hashlib.new(a) for a in sorted(self.algorithms)}


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
