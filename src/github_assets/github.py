"""GitHub Releases API: resolve a tag (or latest) to a release and its assets."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from . import USER_AGENT
from .errors import BuildpackError, GitHubError
from .log import Log

DEFAULT_API = "https://api.github.com"
API_VERSION = "2022-11-28"
TRANSIENT_STATUS = frozenset({408, 500, 502, 503, 504})
NETWORK_FAULTS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
"""Exceptions of a request worth another attempt (the others are our mistake or the URL's)."""


class Cancelled(Exception):
    """Another asset failed, so this one stops (its request or wait ends early)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up; shared by the API client and the downloader.

    Retry n (1-based) waits `backoff * 2**(n-1)`, capped at `max_backoff`, with equal
    jitter (a random point in its upper half) so that many builds failing together do
    not come back together. A rate limit that lifts within `max_wait` is waited out
    instead; a longer one fails at once.
    """

    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 8.0
    timeout: float = 60.0
    """Seconds without a byte from the server (the read timeout)."""
    connect_timeout: float = 10.0
    max_wait: float = 20.0

    @property
    def timeouts(self) -> tuple[float, float]:
        """(connect, read) timeouts for requests."""
        return (min(self.connect_timeout, self.timeout), self.timeout)

    def delay(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number `retry` (1 for the first retry)."""
        step = min(self.max_backoff, self.backoff * 2.0 ** (retry - 1))
        return step * (0.5 + rand() / 2)


DEFAULT_POLICY = RetryPolicy()


@dataclass(frozen=True)
class ReleaseAsset:
    id: int
    name: str
    size: int
    digest: str | None
    url: str
    content_type: str
    browser_download_url: str


@dataclass(frozen=True)
class Release:
    id: int
    tag: str
    html_url: str
    assets: tuple[ReleaseAsset, ...]

    def find(self, name: str) -> ReleaseAsset | None:
        for a in self.assets:
            if a.name == name:
                return a
        return None


def api_headers(token: str | None, accept: str = "application/vnd.github+json") -> dict[str, str]:
    """The headers of every API request; Authorization only with a token."""
    headers = {
        "Accept": accept,
        "X-GitHub-Api-Version": API_VERSION,
        "User-Agent": USER_AGENT,
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def describe_failure(error: Exception, policy: RetryPolicy) -> str:
    """A short cause for a network exception, without its URL (signed URLs stay out of logs)."""
    if isinstance(error, requests.ConnectTimeout):
        return f"could not connect within {policy.timeouts[0]:g} s"
    if isinstance(error, requests.ReadTimeout) or "timed out" in str(error).lower():
        return f"no data for {policy.timeout:g} s (read timeout)"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return "the connection broke mid-response"
    if isinstance(error, requests.ConnectionError):
        return "the connection failed or was reset"
    return type(error).__name__


@dataclass(frozen=True)
class RateLimit:
    """A rate-limit answer: how long until it lifts, and when that is."""

    status: int
    wait: float
    resets_at: float
    secondary: bool

    def waiting(self) -> str:
        """The log line for a limit that is waited out."""
        return f"Rate limited (HTTP {self.status}); waiting {_duration(self.wait)} as GitHub asks"

    def error(self, what: str, *, token: bool, error: type[BuildpackError]) -> BuildpackError:
        """The error for a limit too long to wait out: the reset time and what to do."""
        try:
            reset = datetime.fromtimestamp(int(self.resets_at), tz=timezone.utc)
            when = f"at {reset:%Y-%m-%d %H:%M:%S} UTC"
        except (OverflowError, OSError, ValueError):  # a reset no calendar holds
            when = "at an unknown time"
        kind = "secondary rate limit" if self.secondary else "rate limit exceeded"
        advice = (
            "wait for the reset or use another token"
            if token
            else "a token raises the limit: set GITHUB_TOKEN (pack build --env GITHUB_TOKEN)"
        )
        return error(
            f"GitHub API {kind} for {what} (HTTP {self.status}); "
            f"it resets {when}, in {_duration(self.wait)}",
            hint=advice,
        )


def _duration(seconds: float) -> str:
    """A wait as people say it, rounded up (a limit never lifts earlier than said)."""
    s = max(0, math.ceil(seconds))
    if s < 120:
        return f"{s} s"
    minutes = math.ceil(s / 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def rate_limit(resp: requests.Response, now: float) -> RateLimit | None:
    """The rate limit resp announces (403/429 with x-ratelimit-remaining: 0 or retry-after)."""
    if resp.status_code not in (403, 429):
        return None
    retry_after = resp.headers.get("retry-after", "").strip()
    if retry_after.isdigit():
        wait = float(retry_after)
        return RateLimit(resp.status_code, wait, now + wait, secondary=True)
    if resp.headers.get("x-ratelimit-remaining") == "0":
        reset = resp.headers.get("x-ratelimit-reset", "").strip()
        resets_at = float(reset) if reset.isdigit() else now + 60.0
        return RateLimit(resp.status_code, max(0.0, resets_at - now), resets_at, secondary=False)
    if resp.status_code == 429:
        # GitHub's advice for a secondary limit without headers: wait at least a minute.
        return RateLimit(429, 60.0, now + 60.0, secondary=True)
    return None


def _parse_release(data: Mapping[str, Any]) -> Release:
    assets = tuple(
        ReleaseAsset(
            id=int(a["id"]),
            name=str(a["name"]),
            size=int(a["size"]),
            digest=a.get("digest") or None,
            url=str(a["url"]),
            content_type=str(a.get("content_type") or ""),
            browser_download_url=str(a.get("browser_download_url") or ""),
        )
        for a in data.get("assets", [])
        if a.get("state", "uploaded") == "uploaded"
    )
    return Release(
        id=int(data.get("id", 0)),
        tag=str(data["tag_name"]),
        html_url=str(data.get("html_url") or ""),
        assets=assets,
    )


class GitHub:
    """A small client for one API base URL; the token goes only to this API host.

    Connection faults, timeouts and 5xx answers are retried under `policy`; a rate limit
    that lifts within `policy.max_wait` is waited out, a longer one fails at once with
    the reset time. A 401 is never retried.
    """

    def __init__(
        self,
        session: requests.Session,
        api_url: str,
        token: str | None,
        *,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        log: Log | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.session = session
        self.log = log
        self.cancel = cancel
        self.api_url = api_url.rstrip("/")
        self.api_host = urlsplit(self.api_url).netloc
        self.token = token
        self.policy = policy
        self._sleep = sleep
        self._clock = clock
        self._rand = rand

    def _get(self, path: str, what: str) -> requests.Response:
        """GET an API path; the answer is final (not transient, not a short rate limit)."""
        url = f"{self.api_url}{path}"
        attempts = self.policy.attempts
        for attempt in range(1, attempts + 1):
            if self.cancel is not None and self.cancel.is_set():
                raise Cancelled
            last = attempt == attempts
            try:
                resp = self.session.get(
                    url,
                    headers=api_headers(self.token),
                    timeout=self.policy.timeouts,
                    allow_redirects=False,
                )
            except NETWORK_FAULTS as e:
                if last:
                    raise GitHubError(
                        f"failed to reach the GitHub API at {self.api_url} for {what} "
                        f"after {attempts} attempts: {describe_failure(e, self.policy)}",
                        hint="check GITHUB_API_URL / api_url and the network, or retry later",
                    ) from e
                self._retry(attempt, describe_failure(e, self.policy))
                continue
            except requests.RequestException as e:
                raise GitHubError(
                    f"failed to reach the GitHub API at {self.api_url} for {what}: "
                    f"{type(e).__name__}",
                    hint="check GITHUB_API_URL / api_url",
                ) from e
            limit = rate_limit(resp, self._clock())
            if limit is not None:
                resp.close()
                if limit.wait > self.policy.max_wait or last:
                    raise limit.error(what, token=bool(self.token), error=GitHubError)
                self._note(limit.waiting())
                self._pause(limit.wait)
                continue
            if resp.status_code in TRANSIENT_STATUS:
                resp.close()
                if last:
                    raise GitHubError(
                        f"GitHub API answered HTTP {resp.status_code} for {what} "
                        f"{attempts} times in a row",
                        hint="GitHub is failing; retry the build later",
                    )
                self._retry(attempt, f"HTTP {resp.status_code}")
                continue
            return resp
        raise AssertionError("unreachable")

    def _retry(self, attempt: int, cause: str) -> None:
        delay = self.policy.delay(attempt, self._rand)
        self._note(
            f"Retrying the GitHub API in {delay:.1f} s "
            f"(attempt {attempt + 1} of {self.policy.attempts}): {cause}"
        )
        self._pause(delay)

    def _pause(self, seconds: float) -> None:
        """Sleep; with a cancel event, wake up as soon as it is set."""
        if self.cancel is None:
            self._sleep(seconds)
        elif self.cancel.wait(seconds):
            raise Cancelled

    def _note(self, text: str) -> None:
        if self.log is not None:
            self.log.action(text)

    def repo_exists(self, repo: str) -> bool:
        """Whether the repository is visible (its release list answers 200)."""
        resp = self._get(f"/repos/{repo}/releases?per_page=1", f"repository {repo}")
        return resp.status_code == 200

    def release(self, repo: str, tag: str) -> Release:
        """The release for tag, or GitHub's latest (no drafts, no prereleases)."""
        latest = tag == "latest"
        path = (
            f"/repos/{repo}/releases/latest"
            if latest
            else f"/repos/{repo}/releases/tags/{quote(tag, safe='')}"
        )
        what = f"{repo} {'latest release' if latest else 'tag ' + tag}"
        resp = self._get(path, what)
        if resp.status_code == 200:
            try:
                return _parse_release(resp.json())
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                raise GitHubError(
                    f"unexpected answer from the GitHub API for {what}: not a release",
                    hint="check GITHUB_API_URL / api_url points at a GitHub API",
                ) from e
        if resp.status_code == 401:
            raise GitHubError(
                f"GitHub rejected the token for {repo} (HTTP 401 Bad credentials)",
                hint="check the token in token_env / GITHUB_TOKEN; it may be expired or revoked",
            )
        if resp.status_code == 404:
            raise self._not_found(repo, tag)
        raise GitHubError(
            f"GitHub API answered HTTP {resp.status_code} for {what}",
            hint="check GITHUB_API_URL / api_url and that the token can read this repository",
            details=resp.text[:500],
        )

    def _not_found(self, repo: str, tag: str) -> GitHubError:
        if not self.repo_exists(repo):
            hint = (
                "check the name; if the repository is private set token_env (or GITHUB_TOKEN)"
                " and pass the variable to the build (pack build --env NAME)"
                if not self.token
                else "check the name and that the token can read this repository"
            )
            return GitHubError(f"repository {repo} not found at {self.api_url}", hint=hint)
        if tag == "latest":
            return GitHubError(
                f"repository {repo} has no latest release "
                "(GitHub's latest excludes drafts and prereleases)",
                hint='pin a tag with tag = "..."',
            )
        return GitHubError(
            f"release tag {tag} not found in {repo}",
            hint="check the tag name on the repository's releases page (tags are case-sensitive)",
        )
