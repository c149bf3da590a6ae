"""HTTP as every source uses it: one GET, redirects followed hop by hop (the token only
where it belongs), and one retry loop whose outcomes are typed (judge.GaveUp, Unusable,
LimitTooLong) for each caller to map once.

Split by reason to change: session.py (how we connect: proxies, TLS), judge.py (what an
answer or a failure means, rate limits), download.py (streaming with resume), and this.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urljoin, urlsplit

import requests

from ..log import Log
from ..parallel import check, pause
from ..settings import RetryPolicy
from . import tls
from .judge import (
    MAX_EPOCH,
    GaveUp,
    LimitTooLong,
    RateLimit,
    RateLimited,
    Transient,
    Unusable,
    describe_failure,
    judge,
    netloc,
    rate_limit,
    seconds_until,
)
from .session import new_session

__all__ = [
    "MAX_EPOCH",
    "MAX_REDIRECTS",
    "GaveUp",
    "Http",
    "LimitTooLong",
    "Redirected",
    "Unusable",
    "judge",
    "netloc",
    "new_session",
    "seconds_until",
]

T = TypeVar("T")
REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5
"""Hops one request may take (GitHub needs two: a renamed repo's 301, the asset's 302)."""
# The asset's own bytes, never a compressed transfer of them: the digest is over those
# bytes, release binaries do not compress much, and a body nothing has to decode is read
# straight into our buffers (download.py). A server may encode it anyway: see download.
IDENTITY = {"Accept-Encoding": "identity"}


class Redirected(Exception):
    """A redirect not followed: to another host where that is not allowed, or one too many."""

    def __init__(self, status: int, location: str, *, too_many: bool) -> None:
        super().__init__(f"HTTP {status} to {urlsplit(location).netloc}")
        self.status = status
        self.host = urlsplit(location).netloc
        self.too_many = too_many


class Http:
    """Requests and retries of one build, shared by its sources and threads (downloads:
    download.py).

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
        self, url: str, headers: dict[str, str], log: Log, *, stream: bool = False, shown: str = ""
    ) -> requests.Response:
        """One GET, redirects not followed; logged (method, host, path, or shown instead: a
        binding's URL is a secret) at DEBUG."""
        try:
            parts = urlsplit(url)
            log.debug(f"GET {shown or parts.netloc + parts.path}")
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
            # the first HTTPS connection of the process made the TLS context
            news = tls.TRUST.news()
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
        shown: str = "",
    ) -> requests.Response:
        """GET url and follow its redirects hop by hop, at most MAX_REDIRECTS of them.

        Each hop gets headers(its URL), so a token meant for one host never rides a
        redirect to another. With leave=False a redirect to another host is not followed
        (Redirected). The answer's .url is where it came from, its .history the redirects.
        shown: how the log names url itself (its redirects are the server's, logged as such).
        """
        hops: list[requests.Response] = []
        for _ in range(MAX_REDIRECTS + 1):
            resp = self.get(url, headers(url), log, stream=stream, shown="" if hops else shown)
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
    ) -> T:
        """attempt() until it returns, under the policy.

        Transient and network faults are retried with backoff, then GaveUp; a short rate
        limit is waited out, a long one is LimitTooLong; any other request failure is
        Unusable at once (judge says which is which). Each caller maps these three to its
        own error, once. label names what is retried in the log line. A BuildpackError
        from attempt() goes through.
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
                    log.debug(f"HTTP {limit.status}: rate limit, not waited")
                    raise LimitTooLong(limit) from None
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
                    raise Unusable(*final) from e
                cause, error = describe_failure(e, self.policy), e
            log.debug(f"{cause}: transient ({type(error).__name__}), attempt {n} of {attempts}")
            if n == attempts:
                raise GaveUp(cause, error) from error
            delay = self.policy.delay(n, self.rand)
            log.action(f"Retrying {label}in {delay:.1f} s (attempt {n + 1} of {attempts}): {cause}")
            pause(delay, cancel, self.sleep)
        raise AssertionError("unreachable")
