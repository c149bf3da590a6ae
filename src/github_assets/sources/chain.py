"""The sources of one asset as one Source: resolve from the lock or the pins (resolve.py),
else through the GitHub API; fetch from the first place the evidence allows (origins.py,
transport.py), with the GitHub API last. A failure of a place other than the API is an
error naming that place, never papered over; the Received names the place that served.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from ..errors import DownloadError
from . import Received, ResolvedAsset, Sink, transport
from .download import STALE_LOCK
from .origins import Origins, places, server_url
from .resolve import without_api

if TYPE_CHECKING:
    from ..config import AssetSpec
    from ..lock import Lock
    from ..log import Log
    from ..platform import Target
    from ..verify import Expected
    from .github import GitHubSource
    from .http import Http


class Chain:
    """The sources of one asset (one config entry), as the Source protocol."""

    def __init__(
        self,
        spec: AssetSpec,
        api: GitHubSource,
        http: Http,
        origins: Origins,
        lock: Lock | None,
        *,
        own: bool,
    ) -> None:
        self.spec = spec
        self.api = api
        self.http = http
        self.origins = origins
        self.lock = lock
        self.own = own
        self.name = api.name
        self.secrets = api.secrets
        self.web = server_url(api.api_url, origins, own_api=bool(spec.api_url))
        """GitHub's web base for this entry's direct downloads."""

    def resolve(
        self,
        spec: AssetSpec,
        target: Target,
        *,
        log: Log,
        cancel: threading.Event | None,
        etag: str = "",
    ) -> ResolvedAsset:
        """From the lock, else (pinned tag and sha256) from the config, else the API."""
        found = without_api(spec, target, lock=self.lock, own=self.own, web=self.web, log=log)
        if found is not None:
            return found
        return self.api.resolve(spec, target, log=log, cancel=cancel, etag=etag)

    def origin(self, asset: ResolvedAsset, expected: Expected) -> str:
        found = places(self.spec, asset, expected, self.origins, self.web)
        return found[0].label if found else self.api.origin(asset, expected)

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
        if (
            self.origins.any
            and not expected.evidence
            and not expected.known_sha256(before_download=True)
        ):
            log.action(
                f"Skipping the offline package, bindings and mirrors: the sha256 of {asset.name} "
                "is not known before the download (pin it, or run github-assets lock)"
            )
        for location in places(self.spec, asset, expected, self.origins, self.web):
            try:
                return transport.fetch(
                    location,
                    asset,
                    sink,
                    algorithms=expected.algorithms,
                    http=self.http,
                    log=log,
                    cancel=cancel,
                    decoded=decoded,
                )
            except transport.NotThere:
                log.action(f"Not found at {location.label} (HTTP 404); asking the GitHub API")
        if not asset.url:  # resolved without the API (lock, pins): it knows the asset's URL
            asset = self._from_api(asset, expected, log, cancel)
        return self.api.fetch(asset, sink, expected, log=log, cancel=cancel, decoded=decoded)

    def _from_api(
        self, asset: ResolvedAsset, expected: Expected, log: Log, cancel: threading.Event | None
    ) -> ResolvedAsset:
        release = self.api.client(log, cancel).release(self.spec.repo, asset.tag)
        found = release.find(asset.name)
        if found is None:
            names = ", ".join(sorted(a.name for a in release.assets)) or "none"
            if expected.evidence:
                key = expected.named_by
                raise DownloadError(
                    f"'{key}' names {asset.name}, which is not an asset of release {asset.tag}",
                    hint="set 'checksums' to one of the assets listed, or to false"
                    if key == "checksums"
                    else f"set the file names in '{key}' to assets listed",
                    details=f"assets: {names}",
                )
            raise DownloadError(
                f"release {asset.tag} of {self.spec.repo} has no asset {asset.name!r}",
                hint="re-run github-assets lock, or check 'tag' and 'asset'",
                details=f"assets: {names}",
            )
        if asset.size_from and asset.size >= 0 and found.size != asset.size:
            raise DownloadError(
                f"{asset.name} of {self.spec.repo} {asset.tag} is {found.size} bytes now, but "
                f"{asset.size_from} says {asset.size} bytes",
                hint=STALE_LOCK,
            )
        return asset._replace(url=found.url, size=found.size, asset_id=found.id)
