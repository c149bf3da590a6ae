"""What GitHub could give as a tag or a release asset's name, for the inputs that claim to
be GitHub's word (the API's release JSON, the lock file): their tags and names reach the
log, URLs and, for an asset chosen by selection, the installed file's name."""

from __future__ import annotations


def breaks_lines(text: str) -> bool:
    """Whether text holds a control character or a line separator (a fake log line, a
    terminal escape); any other Unicode is a name GitHub may serve."""
    return any(ord(c) < 32 or 127 <= ord(c) < 160 or c in "\u2028\u2029" for c in text)


def is_tag(tag: str) -> bool:
    return bool(tag) and not breaks_lines(tag)


def is_asset_name(name: str) -> bool:
    """A release asset's plain file name: GitHub never serves a path."""
    return (
        name not in ("", ".", "..")
        and "/" not in name
        and "\\" not in name
        and not breaks_lines(name)
    )
