"""The GitHub API as a source: resolve a tag (or latest) to a release asset, and fetch it
through the asset's API URL, which answers 302 to a storage host (followed without the
token). The token goes to the API host only.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import requests

from .. import USER_AGENT
from ..errors import BuildpackError, GitHubError
from ..log import Log
from ..names import is_asset_name, is_tag
from ..platform import Target
from ..record import Record
from . import Received, ResolvedAsset, Sink, Unchanged
from .download import Download, download
from .http import MAX_REDIRECTS, Http, Redirected
from .jsonbody import API_MAX_BYTES, TooLarge, parse_answer, read_capped, read_head
from .judge import (
    TRANSIENT_STATUS,
    GaveUp,
    LimitTooLong,
    RateLimited,
    Transient,
    Unusable,
    api_limit_error,
    netloc,
)
from .resolve import asset_name

if TYPE_CHECKING:
    from ..config import AssetSpec
    from ..verify import Expected

API_VERSION = "2022-11-28"
_NOT_AN_API = "check GITHUB_API_URL / api_url points at a GitHub API"


class _Answer(Record):
    """An API answer, read: its status, headers, url and history, and its body (a 200's
    whole, at most the limit asked; the head of any other, for an error's details)."""

    resp: requests.Response
    body: bytes


class ReleaseAsset(Record):
    id: int
    name: str
    size: int
    digest: str | None
    url: str
    content_type: str
    browser_url: str = ""
    """browser_download_url: GitHub's web host serves the asset there, without the API."""


class Release(Record):
    tag: str
    html_url: str
    assets: tuple[ReleaseAsset, ...]
    etag: str = ""
    """The answer's ETag: a later If-None-Match with it is answered 304 while it holds."""

    def find(self, name: str) -> ReleaseAsset | None:
        for a in self.assets:
            if a.name == name:
                return a
        return None


def api_headers(token: str | None, accept: str = "application/vnd.github+json") -> dict[str, str]:
    """The headers of every API request; Authorization only with a token."""
    headers = {"Accept": accept, "X-GitHub-Api-Version": API_VERSION, "User-Agent": USER_AGENT}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _repo_in(html_url: str) -> str | None:
    """owner/name from a release's html_url (https://HOST/owner/name/releases/tag/...)."""
    parts = urlsplit(html_url).path.strip("/").split("/")
    if "releases" not in parts:
        return None
    at = parts.index("releases")
    return "/".join(parts[at - 2 : at]) if at >= 2 and all(parts[at - 2 : at]) else None


def _count(value: object) -> int:
    """A JSON integer >= 0 (an id, a size); anything else is not GitHub's answer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"not a count: {value!r}")
    return value


MAX_PAGES = 10
"""Pages of 100 releases read to find a prefixed latest: 1,000 releases back."""


def _next_page(link: str, api_url: str) -> str:
    """The rel="next" URL of a Link header, when it is on the API (the token goes there)."""
    for part in link.split(","):
        url, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", ""):
            url = url.strip().strip("<>")
            return url if url.startswith(api_url + "/") else ""
    return ""


def _name(value: object) -> str:
    """A release asset's name as GitHub gives it: a plain file name (else not its answer)."""
    if not isinstance(value, str) or not is_asset_name(value):
        raise ValueError(f"not an asset name: {value!r}")
    return value


def _parse_release(data: Mapping[str, Any]) -> Release:
    tag = data["tag_name"]
    if not isinstance(tag, str) or not is_tag(tag):
        raise ValueError(f"not a tag: {tag!r}")
    assets = tuple(
        ReleaseAsset(
            id=_count(a["id"]),
            name=_name(a["name"]),
            size=_count(a["size"]),
            # a digest that is no string still reaches the check, which names it
            digest=str(a["digest"]) if a.get("digest") else None,
            url=str(a["url"]),
            content_type=str(a.get("content_type") or ""),
            browser_url=str(a.get("browser_download_url") or ""),
        )
        for a in data.get("assets", [])
        if a.get("state", "uploaded") == "uploaded"
    )
    return Release(tag=tag, html_url=str(data.get("html_url") or ""), assets=assets)


class GitHub:
    """A small client for one API base URL and token.

    Connection faults, timeouts and 5xx answers are retried under the policy of `http`;
    a rate limit that lifts within its max_wait is waited out, a longer one fails at once
    with the reset time. A 401 is never retried.
    """

    def __init__(
        self,
        http: Http,
        api_url: str,
        token: str | None,
        *,
        log: Log,
        cancel: threading.Event | None = None,
        named: str = "the token in token_env / GITHUB_TOKEN",
    ) -> None:
        self.named = named
        """Where the token came from, as a hint names it ("the token in GITHUB_TOKEN")."""
        self.http = http
        self.api_url = api_url.rstrip("/")
        self.api_host = netloc(self.api_url)
        self.token = token
        self.log = log
        self.cancel = cancel
        self._etag = ""

    def _get(self, path: str, what: str, max_bytes: int = API_MAX_BYTES) -> _Answer:
        """GET an API path (or a URL of the API, e.g. a next page); the answer is final (not
        transient, not a short rate limit), its body read (a 200's at most max_bytes,
        streamed: a longer one is an error before the rest arrives).

        Redirects are followed on the API host only, the token along (a renamed
        repository answers 301/307/308); a redirect to another host is an error.
        """
        url = path if path.startswith(self.api_url + "/") else f"{self.api_url}{path}"
        attempts = self.http.policy.attempts

        def attempt() -> _Answer:
            try:
                resp = self.http.open(url, self._headers, self.log, stream=True, leave=False)
            except Redirected as e:
                raise self._redirect_error(e, what) from None
            limit = self.http.rate_limit(resp)
            if limit is not None:
                resp.close()
                raise RateLimited(limit)
            if resp.status_code in TRANSIENT_STATUS:
                resp.close()
                raise Transient(f"HTTP {resp.status_code}")
            if resp.status_code != 200:
                return _Answer(resp, read_head(resp).encode())
            try:  # within the attempt: a connection cut mid-body is retried
                return _Answer(resp, read_capped(resp, max_bytes))
            except TooLarge:
                raise GitHubError(
                    f"the GitHub API at {self.api_url} answered more than {max_bytes} "
                    f"bytes for {what}",
                    hint=_NOT_AN_API,
                ) from None

        try:
            return self.http.retry(
                attempt, label="the GitHub API ", log=self.log, cancel=self.cancel
            )
        except GaveUp as e:
            if isinstance(e.error, Transient):
                raise GitHubError(
                    f"GitHub API answered {e.cause} for {what} {attempts} times in a row",
                    hint="GitHub is failing; retry the build later",
                ) from e.error
            raise GitHubError(
                f"failed to reach the GitHub API at {self.api_url} for {what} "
                f"after {attempts} attempts: {e.cause}",
                hint="check GITHUB_API_URL / api_url and the network, or retry later",
            ) from e.error
        except Unusable as e:
            raise GitHubError(
                f"failed to reach the GitHub API at {self.api_url} for {what}: {e.cause}",
                hint=e.hint or "check GITHUB_API_URL / api_url",
            ) from e.__cause__
        except LimitTooLong as e:
            raise api_limit_error(
                e.limit, what, token=bool(self.token), error=GitHubError
            ) from None

    def _headers(self, url: str) -> dict[str, str]:
        headers = api_headers(self.token)  # every hop stays on the API host (leave=False)
        if self._etag:
            headers["If-None-Match"] = self._etag
        return headers

    def _redirect_error(self, e: Redirected, what: str) -> GitHubError:
        check = "check api_url / GITHUB_API_URL"
        if e.too_many:
            return GitHubError(
                f"the GitHub API at {self.api_url} redirected {what} more than "
                f"{MAX_REDIRECTS} times",
                hint=check,
            )
        return GitHubError(
            f"the GitHub API at {self.api_url} redirected {what} to another host, "
            f"{e.host} (HTTP {e.status})",
            hint=f"not followed, so the token never leaves the API host; {check}"
            if self.token
            else f"not followed; {check}",
        )

    def _moved(self, repo: str, resp: requests.Response, release: Release | None) -> None:
        """Log the new name of a repository the API redirected (renamed or transferred).

        The name comes from the redirect itself when it names one (/repos/owner/name/...),
        else from the release it led to (its html_url), else from /repositories/<id>,
        where GitHub's redirects point.
        """
        base = urlsplit(self.api_url).path
        path = urlsplit(resp.url).path.removeprefix(base)
        if not resp.history or path.lower().startswith(f"/repos/{repo.lower()}/"):
            return
        parts = path.strip("/").split("/")
        new = None
        if len(parts) >= 3 and parts[0] == "repos":
            new = f"{parts[1]}/{parts[2]}"
        elif release is not None:
            new = _repo_in(release.html_url)
        if new is None and len(parts) >= 2 and parts[0] == "repositories":
            new = self._full_name(parts[1])
        if new is None:
            self.log.subprocess(
                f"Moved: {repo} was renamed or moved; update 'repo' to its new name"
            )
        elif new.lower() != repo.lower():
            self.log.subprocess(f"Moved: {repo} is now {new}; update 'repo'")

    def _full_name(self, repo_id: str) -> str | None:
        try:
            what = f"repository {repo_id}"
            resp, body = self._get(f"/repositories/{quote(repo_id, safe='')}", what)
            data = parse_answer(body, resp.url, what) if resp.status_code == 200 else None
            name = data.get("full_name") if isinstance(data, Mapping) else None
        except BuildpackError:
            return None
        return name if isinstance(name, str) and name.count("/") == 1 else None

    def repo_exists(self, repo: str) -> bool:
        """Whether the repository is visible (its release list answers 200)."""
        resp = self._get(f"/repos/{repo}/releases?per_page=1", f"repository {repo}").resp
        return resp.status_code == 200

    def latest_with_prefix(self, repo: str, prefix: str, etag: str = "") -> Release:
        """The newest published non-prerelease release whose tag starts with prefix (monorepos
        release several components; GitHub's `latest` may be another one's).

        Found on the first page (the newest releases), it carries that page's ETag: a new
        release or a replaced asset changes the page. With etag, a 304 raises Unchanged.
        """
        what = f"{repo} releases"
        url = f"/repos/{repo}/releases?per_page=100"
        for page in range(MAX_PAGES):
            self._etag = etag if page == 0 else ""
            try:
                resp, body = self._get(url, what)
            finally:
                self._etag = ""
            if resp.status_code == 304 and etag:
                resp.close()
                raise Unchanged(etag)
            if resp.status_code != 200:
                resp.close()
                return self.release(repo, "latest")  # the same errors as for latest
            page_data = parse_answer(body, resp.url, what, hint=_NOT_AN_API)
            if not isinstance(page_data, list):
                raise GitHubError(
                    f"unexpected answer from the GitHub API for {what}: not a list",
                    hint=_NOT_AN_API,
                )
            listed = [r for r in page_data if isinstance(r, Mapping)]
            for data in listed:
                tag = str(data.get("tag_name", ""))
                if tag.startswith(prefix) and not data.get("draft") and not data.get("prerelease"):
                    try:
                        release = _parse_release(data)
                    except (ValueError, KeyError, TypeError, AttributeError) as e:
                        raise GitHubError(
                            f"unexpected answer from the GitHub API for {what}: not a release",
                            hint=_NOT_AN_API,
                        ) from e
                    self._moved(repo, resp, release)
                    first = resp.headers.get("etag", "") if page == 0 else ""
                    return release._replace(etag=first)
            url = _next_page(resp.headers.get("link", ""), self.api_url)
            if not url:
                break
        raise GitHubError(
            f"repository {repo} has no published release whose tag starts with {prefix!r}",
            hint="check 'version_prefix', or pin a tag with tag = \"...\"",
        )

    def release(self, repo: str, tag: str, etag: str = "") -> Release:
        """The release for tag, or GitHub's latest (no drafts, no prereleases).

        With etag (from an earlier answer), a 304 Not Modified raises Unchanged.
        """
        latest = tag == "latest"
        path = (
            f"/repos/{repo}/releases/latest"
            if latest
            else f"/repos/{repo}/releases/tags/{quote(tag, safe='')}"
        )
        what = f"{repo} {'latest release' if latest else 'tag ' + tag}"
        self._etag = etag
        try:
            resp, body = self._get(path, what)
        finally:
            self._etag = ""
        if resp.status_code == 304 and etag:
            resp.close()
            raise Unchanged(etag)
        if resp.status_code == 200:
            data = parse_answer(body, resp.url, what, hint=_NOT_AN_API)
            try:
                release = _parse_release(data)
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                raise GitHubError(
                    f"unexpected answer from the GitHub API for {what}: not a release",
                    hint=_NOT_AN_API,
                ) from e
            self._moved(repo, resp, release)
            return release._replace(etag=resp.headers.get("etag", ""))
        resp.close()
        self._moved(repo, resp, None)
        if resp.status_code == 401 and self.token:
            raise GitHubError(
                f"GitHub rejected the token for {repo} (HTTP 401 Bad credentials)",
                hint=f"check {self.named}; it may be expired or revoked",
            )
        if resp.status_code == 401:
            raise GitHubError(
                f"the GitHub API at {self.api_url} asks for a token for {what} (HTTP 401)",
                hint="set token_env (or GITHUB_TOKEN) and pass the variable to the build "
                "(pack build --env NAME), or give the token in a binding of type github",
            )
        if resp.status_code == 404:
            raise self._not_found(repo, tag)
        raise GitHubError(
            f"GitHub API answered HTTP {resp.status_code} for {what}",
            hint="check GITHUB_API_URL / api_url and that the token can read this repository",
            details=body[:500].decode("utf-8", errors="replace"),
        )

    def _not_found(self, repo: str, tag: str) -> GitHubError:
        if not self.repo_exists(repo):
            hint = (
                "check the name; if the repository is private set token_env (or GITHUB_TOKEN)"
                " and pass the variable to the build (pack build --env NAME), or give the token"
                " in a binding of type github"
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

    def attestations(self, repo: str, sha256: str, limit: int) -> bytes:
        """The API's list of the artifact attestations of a sha256 (JSON, at most limit
        bytes); an empty list when GitHub has none (it answers 404 then)."""
        what = f"the attestations of sha256:{sha256} in {repo}"
        resp, body = self._get(
            f"/repos/{repo}/attestations/sha256:{sha256}?per_page=100", what, limit
        )
        if resp.status_code == 404:
            return b'{"attestations": []}'
        if resp.status_code != 200:
            raise GitHubError(
                f"GitHub API answered HTTP {resp.status_code} for {what}",
                hint="check that the token (if any) can read this repository",
            )
        return body


class GitHubSource:
    """Assets through the GitHub API of one base URL, with one token (or none)."""

    name = "the GitHub API"
    """As the log, the layer metadata and the SBOMs name it (one spelling everywhere)."""

    def __init__(
        self,
        http: Http,
        api_url: str,
        token: str | None,
        *,
        missing: BuildpackError | None = None,
        named: str = "the token in token_env / GITHUB_TOKEN",
    ) -> None:
        self.http = http
        self.named = named
        """Where the token came from, as hints name it (config.token_named)."""
        self.missing = missing
        """Why the token the entry asks for cannot be had (its token_env is not set), raised
        at the first request to the API: the places besides it need no token."""
        self.api_url = api_url.rstrip("/")
        self.api_host = netloc(self.api_url)
        # A token read from a file (<platform>/env/GITHUB_TOKEN) often ends in a newline,
        # which no header may carry.
        self.token = (token or "").strip() or None
        self.secrets: tuple[str, ...] = tuple(dict.fromkeys(t for t in (token, self.token) if t))
        # One entry's release, asked once for all its targets (`lock` resolves linux/amd64
        # and linux/arm64 at once): one API call per entry, not one per target.
        self._releases: dict[tuple[str, str, str], Release] = {}
        self._asking = threading.Lock()

    def client(self, log: Log, cancel: threading.Event | None) -> GitHub:
        if self.missing is not None:
            raise self.missing
        return GitHub(self.http, self.api_url, self.token, log=log, cancel=cancel, named=self.named)

    def resolve(
        self,
        spec: AssetSpec,
        target: Target,
        *,
        log: Log,
        cancel: threading.Event | None,
        etag: str = "",
    ) -> ResolvedAsset:
        client = self.client(log, cancel)
        key = (spec.repo, spec.tag, spec.version_prefix or "")
        with self._asking:
            release = None if etag else self._releases.get(key)
            if release is None:
                if spec.tag == "latest" and spec.version_prefix:
                    release = client.latest_with_prefix(spec.repo, spec.version_prefix, etag)
                else:
                    release = client.release(spec.repo, spec.tag, etag)
                self._releases[key] = release
        name = asset_name(spec, target, release.tag, [a.name for a in release.assets], log=log)
        asset = release.find(name)
        if asset is None:
            names = ", ".join(a.name for a in release.assets) or "none"
            raise GitHubError(
                f"release {release.tag} of {spec.repo} has no asset {name!r}",
                hint="set 'asset' (and 'replacements' for {os}/{arch}) to one of the assets listed",
                details=f"assets of {spec.repo} {release.tag}: {names}",
            )
        assets = [
            ResolvedAsset(
                repo=spec.repo,
                tag=release.tag,
                name=a.name,
                size=a.size,
                asset_id=a.id,
                digest=a.digest,
                release_url=release.html_url,
                url=a.url,
                content_type=a.content_type,
                etag=release.etag,
                # Resolved without a token, so the repo is public: every asset of the
                # release (checksum files too) comes from its browser_download_url, not
                # from a second API request each (60 an hour without a token, shared by
                # a CI runner's jobs).
                public_url="" if self.token else a.browser_url,
            )
            for a in release.assets
        ]
        chosen = next(a for a in assets if a.asset_id == asset.id)
        return chosen._replace(siblings=tuple(a for a in assets if a is not chosen))

    def origin(self, asset: ResolvedAsset, expected: Expected) -> str:
        return self.name

    def fetch(
        self,
        asset: ResolvedAsset,
        sink: Sink,
        expected: Expected,
        *,
        log: Log,
        cancel: threading.Event | None,
        decoded: bool = False,
    ) -> Received:
        if self.missing is not None:
            raise self.missing
        received = download(
            self.http,
            Download(
                name=asset.name,
                url=asset.url,
                size=asset.size,
                sink=sink,
                log=log,
                cancel=cancel,
                algorithms=expected.algorithms,
                token=self.token,
                credential_origin=self.named,
                token_host=self.api_host,
                token_base=self.api_url,
                content_type=asset.content_type,
                extra_headers=(("X-GitHub-Api-Version", API_VERSION),),
                issuer=self.name,
                decode=decoded,
            ),
        )
        return received._replace(origin=self.name)
