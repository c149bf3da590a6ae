"""Where an asset's bytes come from, behind one protocol.

A Source resolves a spec for a target to a source-neutral ResolvedAsset (what the asset
is: its release, name, size, identity, the digest its origin publishes), then fetches
its bytes into a Sink, counting and hashing them. Verifying them is not its business
(verify.py), nor is what becomes of them (pipeline.py). Resolving (resolve.py: the lock
and the pins; github.py: the GitHub API) is apart from fetching (origins.py: which place
may serve which evidence; transport.py: fetching a place by its scheme; github.py: the
API's download protocol); chain.py joins them into the build's Source. HTTP is shared:
http.py (requests and the retry loop), session.py, judge.py, download.py.

Cheap to import: the HTTP stack is imported by the modules that use it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO, Protocol

from ..errors import DownloadError
from ..record import Record

if TYPE_CHECKING:
    from ..config import AssetSpec
    from ..log import Log
    from ..platform import Target
    from ..verify import Claim, Expected, Verified


DEFAULT_API = "https://api.github.com"
"""GitHub's API base, when neither api_url nor GITHUB_API_URL names another."""


class ResolvedAsset(Record):
    """One release asset, as a resolver describes it (the API, the lock, the config's pins)."""

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
    claims: tuple[Claim, ...] = ()
    """What the resolver itself vouches for before the download (the lock's sha256)."""
    etag: str = ""
    """The ETag of the API's answer that resolved it (for If-None-Match on a rebuild)."""
    siblings: tuple[ResolvedAsset, ...] = ()
    """The release's other assets (checksum files among them), as this source can fetch them."""
    size_from: str = ""
    """Who announced size when it was not the origin itself: the lock file's name. Bytes of
    another size are then the lock's staleness (or a mirror's fault), not the network's."""
    public_url: str = ""
    """Its browser_download_url when the API resolved it without a token (so the repo is
    public): the bytes come from there, with no token and no second API request."""


class Unchanged(Exception):
    """The API answered 304 Not Modified to If-None-Match: what it said before holds."""


class Received(Record):
    """What a fetch delivered: the byte count and the hex digests asked for, and from where."""

    size: int
    digests: dict[str, str]
    encoding: str = ""
    """The Content-Encoding the server sent the bytes with ("gzip"); they were taken as
    sent, not decoded. '' when none (or when the fetch was asked to decode)."""
    origin: str = ""
    """Where the bytes came from, as the log and the layer metadata name it ("the GitHub API",
    "mirror https://..."); '' means the source's own name."""
    github: bool = True
    """Whether one of GitHub's own hosts served them (the API, its storage, the web host).
    Bytes from anywhere else (offline package, binding, mirror) that do not verify are that
    place's fault, never a reason to change the pin or the lock."""


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


class MemorySink:
    """Fetched bytes kept in memory (a checksum file, a signature, a bundle), at most limit
    bytes: the size may not be known beforehand (a direct download), so the limit holds as
    they come, and past it the fetch fails with too_large()."""

    def __init__(self, limit: int, too_large: Callable[[], Exception]) -> None:
        self.data = bytearray()
        self._buffer = memoryview(bytearray(min(limit, 1 << 16)))
        self._limit = limit
        self._too_large = too_large

    def buffer(self) -> memoryview:
        return self._buffer

    def commit(self, n: int) -> None:
        if len(self.data) + n > self._limit:
            raise self._too_large()
        self.data += self._buffer[:n]

    def restart(self) -> None:
        self.data.clear()


class Source(Protocol):
    """Resolve specs and fetch assets; errors are BuildpackErrors, cancellation Cancelled."""

    name: str
    """How the build log names it ("the GitHub API")."""
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

    def origin(self, asset: ResolvedAsset, expected: Expected) -> str:
        """Where fetch will take the bytes of asset from first, as the log says it."""
        ...

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
        """The bytes as the origin sent them, hashed with expected.algorithms; with decoded,
        their Content-Encoding undone (asked only after the bytes as sent, which came with
        one, failed verification). Which places may serve them follows from the evidence
        in expected (verify.Kind.before_download); Received.origin says which one did."""
        ...


class Fetched(Record):
    """Bytes that verified, and where they came from ('' for the source's own name)."""

    verified: Verified
    origin: str


def fetch_verified(
    source: Source,
    asset: ResolvedAsset,
    sink: Sink,
    expected: Expected,
    *,
    log: Log,
    cancel: threading.Event | None,
) -> Fetched:
    """Fetch asset into sink and check it against expected: which bytes are the asset.

    The bytes as the server sent them (what size and checksums cover), as curl and Go
    take them. Only when those fail and came with a Content-Encoding (an S3 object's
    metadata, nginx gzip) are the same bytes, decoded, checked against the same claims;
    when neither verifies that is the error at once, never a retry. The one place of this
    policy: downloaders only report the encoding (Received.encoding), verify.py compares.
    """
    received = source.fetch(asset, sink, expected, log=log, cancel=cancel)
    try:
        return Fetched(_check(expected, received), received.origin)
    except DownloadError as as_sent:
        if not received.encoding:
            raise
        log.action(
            f"Content-Encoding: {received.encoding}: the bytes as sent do not verify "
            f"({as_sent.message}); trying them decoded"
        )
        sink.restart()
        try:
            decoded = source.fetch(asset, sink, expected, log=log, cancel=cancel, decoded=True)
            return Fetched(_check(expected, decoded), decoded.origin)
        except DownloadError as e:
            raise DownloadError(
                f"{asset.name} came with Content-Encoding: {received.encoding} and verifies "
                f"neither as sent ({as_sent.message}) nor decoded ({e.message})",
                hint="nothing was installed; the server or mirror must send the asset's own "
                "bytes: remove the Content-Encoding it adds",
            ) from None


def _check(expected: Expected, received: Received) -> Verified:
    """expected.check; bytes from a place that is not GitHub's that do not verify are named
    as that place's, and the advice is to fix it there (the pin and the lock hold)."""
    try:
        return expected.check(received.size, received.digests)
    except DownloadError as e:
        if received.github:
            raise
        raise DownloadError(
            f"{e.message} (from {received.origin})",
            hint=f"nothing was installed; {received.origin} serves other bytes than the release "
            "asset: correct or remove it there (the pin and the lock are right)",
        ) from None
