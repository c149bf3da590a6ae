"""Fetching bytes from one Location by its scheme: file:// read here, http(s) through the
shared Http (download.py). The Received says where they came from (the Location's label).
A new scheme is one more branch of fetch().
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from ..errors import DownloadError
from ..parallel import check
from . import Received, ResolvedAsset, Sink
from .origins import Location, shown

if TYPE_CHECKING:
    from ..log import Log
    from .http import Http


class NotThere(Exception):
    """GitHub's web host answered 404: the API knows better (private repo, renamed asset)."""


def fetch(
    location: Location,
    asset: ResolvedAsset,
    sink: Sink,
    *,
    algorithms: frozenset[str],
    http: Http,
    log: Log,
    cancel: threading.Event | None,
    decoded: bool,
) -> Received:
    """asset's bytes from location into sink, hashed; errors name the location."""
    scheme = urlsplit(location.url).scheme
    if location.given:
        log.debug(f"{location.label} is given by {location.given}")
    if scheme == "file":
        path = Path(unquote(urlsplit(location.url).path))
        received = read_file(path, location.label, asset, sink, algorithms, cancel)
        return received._replace(origin=location.label, github=location.github)
    secret = "binding " in location.label  # a binding's contents: named, never shown
    if scheme not in ("http", "https"):
        given = f"a {scheme or 'schemeless'} URL" if secret else shown(location.url)
        raise DownloadError(
            f"{location.label} gives {given}, which is neither file:// nor https://",
            hint="fix the mirror or binding",
        )
    from .download import Download, NotFound, download

    try:
        received = download(
            http,
            Download(
                name=asset.name,
                url=location.url,
                size=asset.size,
                size_from=asset.size_from,
                sink=sink,
                log=log,
                cancel=cancel,
                algorithms=algorithms,
                issuer=location.label,
                decode=decoded,
                github=location.github,
                shown=location.label if secret else "",
            ),
        )
    except NotFound as e:
        if location.github:
            raise NotThere from e
        raise DownloadError(f"{e.message} (from {location.label})", hint=e.hint) from e
    except DownloadError as e:
        raise DownloadError(f"{e.message} (from {location.label})", hint=e.hint) from e
    return received._replace(origin=location.label, github=location.github)


def read_file(
    path: Path,
    label: str,
    asset: ResolvedAsset,
    sink: Sink,
    algorithms: frozenset[str],
    cancel: threading.Event | None,
) -> Received:
    """An asset from a local file (offline package, file:// mirror or binding), hashed."""
    import hashlib

    hashers = {a: hashlib.new(a) for a in sorted(algorithms)}
    written = 0
    try:
        file = path.open("rb")
    except FileNotFoundError as e:
        message = (
            f"{label} names a file that does not exist, for {asset.name}"
            if "binding " in label  # a binding's contents are secrets: no path from it
            else f"{label} has no file {path} for {asset.name}"
        )
        raise DownloadError(
            message,
            hint="add it there, or remove the mirror or binding",
        ) from e
    except OSError as e:
        raise _unreadable(label, path, asset, e) from e
    with file:
        while True:
            check(cancel)
            buf = sink.buffer()
            try:  # only the source's read: a write of the unpack is the sink's own error
                n = file.readinto(buf)
            except OSError as e:
                raise _unreadable(label, path, asset, e) from e
            if not n:
                break
            for hasher in hashers.values():
                hasher.update(buf[:n])
            sink.commit(n)
            written += n
    return Received(written, {a: h.hexdigest() for a, h in hashers.items()})


def _unreadable(label: str, path: Path, asset: ResolvedAsset, e: OSError) -> DownloadError:
    """The source's file cannot be read: say so, naming it (never advice about writing)."""
    if isinstance(e, IsADirectoryError):
        return DownloadError(
            f"{label} has a directory at {path}, where the file {asset.name} should be",
            hint="put the asset's file there, or fix the mirror or binding",
        )
    return DownloadError(
        f"{label}: cannot read {path} for {asset.name}: {e.strerror or e}",
        hint="make it readable for the build user, or fix the mirror or binding",
    )
