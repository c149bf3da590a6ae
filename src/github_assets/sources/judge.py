"""What a request's failure or an answer means: retried or final (judge), the cause the
log shows (describe_failure), what headers say (rate limits, Retry-After), and the
typed outcomes of the retry loop that each caller maps to its own error once.

Nothing here speaks for GitHub unless the answer came from GitHub: a RateLimit knows the
host that answered, and only the GitHub API's limit advises a token.
"""

from __future__ import annotations

import http.client
import math
import re
import ssl
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from ..errors import BuildpackError, DownloadError
from ..record import Record
from ..settings import RetryPolicy

TRANSIENT_STATUS = frozenset({408, 500, 502, 503, 504})
NETWORK_FAULTS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
"""Exceptions of a request worth another attempt (the others are our mistake or the URL's)."""
CA_HINT = (
    "add the CA that signed it to the build: a binding of type ca-certificates holding the "
    "PEM file (kpack: a Secret in the Image's services), or SSL_CERT_FILE (a PEM bundle) or "
    "SSL_CERT_DIR (a hashed directory), e.g. pack build --env SSL_CERT_FILE=/path/to/ca.pem"
)


# -- outcomes of one attempt, and of the retry loop ------------------------------------------


class Transient(Exception):
    """A fault worth another attempt; its text is the cause the log shows."""


class RateLimited(Exception):
    """A rate-limit answer; waited out when short, else LimitTooLong."""

    def __init__(self, limit: RateLimit) -> None:
        super().__init__(f"rate limited (HTTP {limit.status})")
        self.limit = limit


class GaveUp(Exception):
    """Every attempt failed with a transient fault; cause is the last one's."""

    def __init__(self, cause: str, error: BaseException) -> None:
        super().__init__(cause)
        self.cause = cause
        self.error = error


class Unusable(Exception):
    """A failure no other attempt can mend: what went wrong, and what to do ('' unknown)."""

    def __init__(self, cause: str, hint: str) -> None:
        super().__init__(cause)
        self.cause = cause
        self.hint = hint


class LimitTooLong(Exception):
    """A rate limit that lifts later than the policy waits (or at an unknown time)."""

    def __init__(self, limit: RateLimit) -> None:
        super().__init__(f"rate limited (HTTP {limit.status})")
        self.limit = limit


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
            "check the token (token_env, a github binding or GITHUB_TOKEN) for stray characters",
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
_NUMBER = r"[0-9]{1,12}"  # ASCII: str.isdigit() also says yes to "²"; compiled when used


def seconds_until(value: str | None, now: float, *, epoch: bool) -> float | None:
    """The moment (epoch seconds) a header names, or None when it names none a calendar holds.

    value is delta-seconds or an HTTP-date (retry-after, RFC 9110), or with epoch=True
    epoch seconds (x-ratelimit-reset). A number is at most 12 ASCII digits (float() of 400
    digits is inf, of "²" an error); a moment before 1970 or after year 9999 is None.
    """
    text = (value or "").strip()
    try:
        if re.fullmatch(_NUMBER, text):
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


class RateLimit(Record):
    """A rate-limit answer: how long until it lifts, and when; None when nobody can say."""

    status: int
    wait: float | None
    resets_at: float | None
    secondary: bool
    host: str = ""
    """The host that answered (host[:port])."""
    github: bool = True
    """Whether that host is GitHub's (its API, storage or web host), whose limits and
    advice the wording may speak of."""

    @classmethod
    def until(
        cls, status: int, at: float | None, now: float, *, secondary: bool, host: str = ""
    ) -> RateLimit:
        wait = None if at is None else max(0.0, at - now)
        return cls(status, wait, at, secondary, host)

    def waiting(self) -> str:
        """The log line for a limit that is waited out."""
        who = "GitHub" if self.github else self.host
        return f"Rate limited (HTTP {self.status}); waiting {_duration(self.wait)} as {who} asks"

    @property
    def kind(self) -> str:
        return "secondary rate limit" if self.secondary else "rate limit exceeded"

    def when(self) -> str:
        """When it resets, as the error says it."""
        if self.resets_at is None or self.wait is None:
            return "at an unknown time"
        reset = datetime.fromtimestamp(int(self.resets_at), tz=timezone.utc)
        return f"at {reset:%Y-%m-%d %H:%M:%S} UTC, in {_duration(self.wait)}"


def api_limit_error(
    limit: RateLimit, what: str, *, token: bool, error: type[BuildpackError]
) -> BuildpackError:
    """The error for a GitHub API limit too long to wait out: the reset, and what to do."""
    advice = (
        "wait for the reset or use another token"
        if token
        else "a token raises the limit: set GITHUB_TOKEN (pack build --env GITHUB_TOKEN)"
    )
    answered = f"HTTP {limit.status} from {limit.host}" if limit.host else f"HTTP {limit.status}"
    return error(
        f"GitHub API {limit.kind} for {what} ({answered}); it resets {limit.when()}",
        hint=advice,
    )


def host_limit_error(limit: RateLimit, what: str) -> DownloadError:
    """The error for a limit of a host that never receives a token (storage, web, mirror)."""
    return DownloadError(
        f"{limit.host} rate limited {what} (HTTP {limit.status}); it resets {limit.when()}",
        hint=f"no token is sent to {limit.host}, so none lifts it: wait for the reset and "
        "retry the build",
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
    host = netloc(resp.url or "")
    if "retry-after" in headers:
        at = seconds_until(headers["retry-after"], now, epoch=False)
        return RateLimit.until(status, at, now, secondary=True, host=host)
    if headers.get("x-ratelimit-remaining", "").strip() == "0":
        at = seconds_until(headers.get("x-ratelimit-reset"), now, epoch=True)
        return RateLimit.until(status, at, now, secondary=False, host=host)
    if status == 429:
        # GitHub's advice for a secondary limit without headers: wait at least a minute.
        return RateLimit.until(429, now + 60.0, now, secondary=True, host=host)
    return None


def content_encoding(resp: requests.Response) -> str:
    """The codings the body was sent in ("gzip"), '' for the bytes as they are."""
    codings = [c.strip().lower() for c in resp.headers.get("content-encoding", "").split(",")]
    return ", ".join(c for c in codings if c and c != "identity")


def netloc(url: str) -> str:
    """The host[:port] of url, '' when no parser accepts it (then no token goes there)."""
    try:
        return urlsplit(url).netloc
    except ValueError:
        return ""
