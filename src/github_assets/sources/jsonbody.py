"""The one reader of a server's JSON answer (the API's releases, release, attestation list,
an attestation's bundle document): at most a bounded number of bytes read, and any JSON
that Python cannot take (not JSON, not UTF-8, nested deeper than the interpreter's
recursion limit, as a hostile `[[[[...]]]]` is) becomes one error line naming the host and
what was asked, never a traceback.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import requests

from ..errors import DownloadError

API_MAX_BYTES = 32 * 1024 * 1024
"""A page of 100 releases with their assets is a few MiB; more is no API's answer."""

_STEP = 64 * 1024


class TooLarge(Exception):
    """The body is longer than the limit it was read with."""


def read_capped(resp: requests.Response, limit: int) -> bytes:
    """The body of a streamed answer (content coding undone), at most limit bytes; TooLarge
    as soon as it is longer, without reading the rest. A connection that fails mid-body
    raises requests' own exception, which the retry loop judges like any request's."""
    length = resp.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit and not resp.headers.get("content-encoding"):
        resp.close()
        raise TooLarge
    body = bytearray()
    for chunk in resp.iter_content(_STEP):
        body += chunk
        if len(body) > limit:
            resp.close()
            raise TooLarge
    return bytes(body)


def read_head(resp: requests.Response, limit: int = 4096) -> str:
    """The first limit bytes of an error answer's body, as text for an error's details."""
    body = bytearray()
    try:
        for chunk in resp.iter_content(_STEP):
            body += chunk
            if len(body) >= limit:
                break
    except (requests.RequestException, OSError):
        pass  # details only: what arrived is enough
    finally:
        resp.close()
    return bytes(body[:limit]).decode("utf-8", errors="replace")


def parse(body: bytes | str) -> Any:
    """body as JSON; ValueError with the reason, including for absurd nesting."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply to read") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except ValueError as e:
        raise ValueError(f"not JSON ({e})") from None


def parse_answer(body: bytes, url: str, what: str, *, hint: str = "") -> Any:
    """body, the answer of url to a request for what, as JSON; else a DownloadError that
    names the host (never the path: it may be a signed URL) and what was asked."""
    try:
        return parse(body)
    except ValueError as e:
        raise DownloadError(
            f"unexpected answer from {shown_host(url)} for {what}: {e}",
            hint=hint or "check that the URL points at a GitHub API",
        ) from None


def shown_host(url: str) -> str:
    """host[:port] of url, without credentials."""
    try:
        return urlsplit(url).netloc.rsplit("@", 1)[-1] or url
    except ValueError:
        return "the server"
