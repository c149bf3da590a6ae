"""Where an asset's bytes come from, behind one protocol.

A Source resolves a spec for a target to a source-neutral ResolvedAsset (what the asset
is: its release, name, size, identity, the digest its origin publishes), then fetches
its bytes into a Sink, counting and hashing them. Verifying them is not its business
(verify.py), nor is what becomes of them (pipeline.py). Today: sources/github.py (the
GitHub API and its download protocol); sources/http.py holds the HTTP policy any
source over HTTP shares (session, retries, rate limits, streaming with resume).

Cheap to import: the HTTP stack is imported by the modules that use it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, BinaryIO, NamedTuple, Protocol

from ..errors import DownloadError

if TYPE_CHECKING:
    from ..config import AssetSpec
    from ..log import Log
    from ..platform import Target
    from ..verify import Expected, Verified


DEFAULT_API = "https://api.github.com"
"""GitHub's API base, when neither api_url nor GITHUB_API_URL names another."""


class ResolvedAsset(NamedTuple):
    """One release asset, as any source describes it."""

    repo: str
    tag: str
    """The release's tag (what `latest` resolved to)."""
    name: str
    size: int
    asset_id: int
    """GitHub's id of the release asset (a new upload gets a new one); 0 when unknown."""
    digest: str | None
    """The digest the origin publishes ("sha256:<hex>"), None when it publishes none."""
    release_url: str
    url: str
    """Where the source fetches the bytes from (its own business; never logged with a query)."""
    content_type: str = ""
    pinned: str = ""
    """The sha256 the config pins for this asset's target."""
    locked: str = ""
    """The sha256 the lock file holds for this asset, known before the download."""
    locked_by: str = ""
    """Who vouched for the locked sha256 when `lock` ran: digest, checksums file, downloaded."""
    known: str = ""
    """A sha256 some authority gave before the download (a checksum file), as hex."""
    checksum_file: bool = False
    """This is a release's checksum file, fetched for its lines (nothing vouches for it)."""
    etag: str = ""
    """The ETag of the API's answer that resolved it (for If-None-Match on a rebuild)."""
    siblings: tuple[ResolvedAsset, ...] = ()
    """The release's other assets (checksum files among them), as this source can fetch them."""


class Unchanged(Exception):
    """The API answered 304 Not Modified to If-None-Match: what it said before holds."""


class Received(NamedTuple):
    """What a fetch delivered: the byte count and the hex digests asked for."""

    size: int
    digests: dict[str, str]
    encoding: str = ""
    """The Content-Encoding the server sent the bytes with ("gzip"); they were taken as
    sent, not decoded. '' when none (or when the fetch was asked to decode)."""


class Sink(Protocol):
    """Where fetched bytes go (archive.stream.StreamUnpack).

    buffer() gives a writable view of up to a chunk of bytes; the source reads into it,
    then commit(n) says its first n bytes are the next part of the asset. restart()
    drops every byte committed so far (the fetch starts over from byte 0).
    """

    def buffer(self) -> memoryview: ...

    def commit(self, n: int) -> None: ...

    def restart(self) -> None: ...


class FileSink:
    """Fetched bytes into an open binary file, as they come (no unpacking)."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._buffer = memoryview(bytearray(1 << 20))

    def buffer(self) -> memoryview:
        return self._buffer

    def commit(self, n: int) -> None:
        self._file.write(self._buffer[:n])

    def restart(self) -> None:
        self._file.seek(0)
        self._file.truncate()


class Source(Protocol):
    """Resolve specs and fetch assets; errors are BuildpackErrors, cancellation Cancelled."""

    name: str
    """How the build log names it ("GitHub API")."""
    secrets: tuple[str, ...]
    """Values the log must never show (tokens), known before any thread starts."""

    def resolve(
        self,
        spec: AssetSpec,
        target: Target,
        *,
        log: Log,
        cancel: threading.Event | None,
        etag: str = "",
    ) -> ResolvedAsset:
        """What spec means on target; with the etag of an earlier answer, Unchanged (from
        this module) when the API says it still holds."""
        ...

    def origin(self, asset: ResolvedAsset) -> str:
        """Where fetch will take the bytes of asset from first, as the log says it."""
        ...

    def fetch(
        self,
        asset: ResolvedAsset,
        sink: Sink,
        *,
        algorithms: frozenset[str],
        log: Log,
        cancel: threading.Event | None,
        decoded: bool = False,
    ) -> Received:
        """The bytes as the origin sent them; with decoded, their Content-Encoding undone
        (asked only after the bytes as sent, which came with one, failed verification)."""
        ...


def fetch_verified(
    source: Source,
    asset: ResolvedAsset,
    sink: Sink,
    expected: Expected,
    *,
    log: Log,
    cancel: threading.Event | None,
) -> Verified:
    """Fetch asset into sink and check it against expected: which bytes are the asset.

    The bytes as the server sent them (what size and checksums cover), as curl and Go
    take them. Only when those fail and came with a Content-Encoding (an S3 object's
    metadata, nginx gzip) are the same bytes, decoded, checked against the same claims;
    when neither verifies that is the error at once, never a retry. The one place of this
    policy: downloaders only report the encoding (Received.encoding), verify.py compares.
    """
    received = source.fetch(asset, sink, algorithms=expected.algorithms, log=log, cancel=cancel)
    try:
        return expected.check(received.size, received.digests)
    except DownloadError as as_sent:
        if not received.encoding:
            raise
        log.action(
            f"Content-Encoding: {received.encoding}: the bytes as sent do not verify "
            f"({as_sent.message}); trying them decoded"
        )
        sink.restart()
        try:
            decoded = source.fetch(
                asset, sink, algorithms=expected.algorithms, log=log, cancel=cancel, decoded=True
            )
            return expected.check(decoded.size, decoded.digests)
        except DownloadError as e:
            raise DownloadError(
                f"{asset.name} came with Content-Encoding: {received.encoding} and verifies "
                f"neither as sent ({as_sent.message}) nor decoded ({e.message})",
                hint="nothing was installed; the server or mirror must send the asset's own "
                "bytes: remove the Content-Encoding it adds",
            ) from None
