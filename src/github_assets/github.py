"""GitHub Releases API: resolve a tag (or latest) to a release and its assets."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from . import USER_AGENT
from .errors import GitHubError

DEFAULT_API = "https://api.github.com"
API_VERSION = "2022-11-28"
TIMEOUT = (10.0, 60.0)


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


def _reset_text(reset: str | None) -> str:
    if not reset or not reset.isdigit():
        return "later"
    when = datetime.fromtimestamp(int(reset), tz=timezone.utc)
    return f"at {when:%Y-%m-%d %H:%M:%S} UTC"


def rate_limit_wait(resp: requests.Response, now: float) -> float | None:
    """Seconds until the limit lifts, when resp is a rate-limit answer; else None."""
    if resp.status_code not in (403, 429):
        return None
    retry_after = resp.headers.get("retry-after", "")
    if retry_after.isdigit():
        return float(retry_after)
    if resp.headers.get("x-ratelimit-remaining") == "0":
        reset = resp.headers.get("x-ratelimit-reset", "")
        return max(0.0, float(reset) - now) if reset.isdigit() else 60.0
    if resp.status_code == 429:
        return 60.0
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
    """A small client for one API base URL.

    `max_wait` is how long a rate limit may be waited out; longer ones fail at
    once with the reset time. The token goes only to this API host.
    """

    def __init__(
        self,
        session: requests.Session,
        api_url: str,
        token: str | None,
        *,
        max_wait: float = 20.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.session = session
        self.api_url = api_url.rstrip("/")
        self.api_host = urlsplit(self.api_url).netloc
        self.token = token
        self.max_wait = max_wait
        self._sleep = sleep
        self._clock = clock
        self.calls = 0

    def _get(self, path: str, what: str) -> requests.Response:
        url = f"{self.api_url}{path}"
        for attempt in range(4):
            self.calls += 1
            try:
                resp = self.session.get(
                    url, headers=api_headers(self.token), timeout=TIMEOUT, allow_redirects=False
                )
            except requests.RequestException as e:
                if attempt == 3:
                    raise GitHubError(
                        f"failed to reach the GitHub API at {self.api_url} for {what}: "
                        f"{type(e).__name__}",
                        hint="check GITHUB_API_URL / api_url and the network",
                    ) from e
                self._sleep(0.5 * 2**attempt)
                continue
            wait = rate_limit_wait(resp, self._clock())
            if wait is not None:
                if wait <= self.max_wait and attempt < 3:
                    self._sleep(wait)
                    continue
                reset = _reset_text(resp.headers.get("x-ratelimit-reset"))
                advice = (
                    "a token raises the limit: set GITHUB_TOKEN (pack build --env GITHUB_TOKEN)"
                    if not self.token
                    else "wait for the reset or use another token"
                )
                raise GitHubError(
                    f"GitHub API rate limit exceeded for {what} (HTTP {resp.status_code}); "
                    f"it resets {reset}",
                    hint=advice,
                )
            if resp.status_code >= 500 and attempt < 3:
                self._sleep(0.5 * 2**attempt)
                continue
            return resp
        raise AssertionError("unreachable")

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
            except (ValueError, KeyError, TypeError) as e:
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
            hint="retry later; if it persists check GITHUB_API_URL / api_url",
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
