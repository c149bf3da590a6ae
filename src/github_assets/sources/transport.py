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
    if scheme == "file":
        path = Path(unquote(urlsplit(location.url).path))
        received = read_file(path, location.label, asset, sink, algorithms, cancel)
        return received._replace(origin=location.label)
    if scheme not in ("http", "https"):
        raise DownloadError(
            f"{location.label} gives {shown(location.url)}, which is neither file:// nor https://",
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
                sink=sink,
                log=log,
                cancel=cancel,
                algorithms=algorithms,
                issuer=location.label,
                decode=decoded,
                github=location.github,
            ),
        )
    except NotFound as e:
        if location.github:
            raise NotThere from e
        raise DownloadError(f"{e.message} (from {location.label})", hint=e.hint) from e
    except DownloadError as e:
        raise DownloadError(f"{e.message} (from {location.label})", hint=e.hint) from e
    return received._replace(origin=location.label)


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
        with path.open("rb") as file:
            while True:
                check(cancel)
                buf = sink.buffer()
                n = file.readinto(buf)
                if not n:
                    break
                for hasher in hashers.values():
                    hasher.update(buf[:n])
                sink.commit(n)
                written += n
    except FileNotFoundError as e:
        raise DownloadError(
            f"{label} has no file {path} for {asset.name}",
            hint="add it there, or remove the mirror or binding",
        ) from e
    return Received(written, {a: h.hexdigest() for a, h in hashers.items()})
