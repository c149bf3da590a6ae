"""`files`: which archive members to install, and where in the layer each goes."""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Callable, Sequence

from .archive import Unpacked
from .errors import InstallError

Rule = tuple[str, str]
"""(layer path, member pattern); a layer path ending in / receives every match."""


def matches(pattern: str, member: str) -> bool:
    """A member path against a pattern whose `*` and `?` do not cross `/`."""
    if pattern.count("/") != member.count("/"):
        return False
    pairs = zip(member.split("/"), pattern.split("/"), strict=True)
    return all(fnmatch.fnmatchcase(part, pat) for part, pat in pairs)


def selector(rules: Sequence[Rule]) -> Callable[[str], bool]:
    """Whether a member (path after strip_components) is wanted by some rule."""
    return lambda member: any(matches(pattern, member) for _, pattern in rules)


def place(rules: Sequence[Rule], unpacked: Unpacked) -> dict[str, str]:
    """Layer path -> unpacked member, for every rule; an InstallError for a rule that
    matches nothing (listing what the archive has) or a file key that matches several."""
    out: dict[str, str] = {}
    for key, pattern in rules:
        found = [m for m in unpacked.files if matches(pattern, m)]
        links = [m for m in unpacked.links if matches(pattern, m)]
        if not found and links:
            raise InstallError(
                f"'files' value {pattern!r} (for {key}) names {links[0]}, a symlink in the "
                "archive, not a regular file",
                hint="set it to the path of the file the symlink points to",
                details="symlinks it matches: " + ", ".join(links),
            )
        if not found:
            shown = ", ".join(unpacked.seen) or "nothing"
            more = unpacked.seen_total - len(unpacked.seen)
            raise InstallError(
                f"'files' value {pattern!r} (for {key}) matches no member of the archive",
                hint="set it to a member path after strip_components, as listed",
                details=f"the archive has {shown}" + (f" and {more} more" if more > 0 else ""),
            )
        if key.endswith("/"):
            for member in found:
                _add(out, posixpath.join(key, posixpath.basename(member)), member)
        elif len(found) > 1:
            raise InstallError(
                f"'files' value {pattern!r} matches {len(found)} members, but {key} is one file",
                hint=f'end the key with / ("{key}/") to install them all into that directory',
                details="matches: " + ", ".join(found),
            )
        else:
            _add(out, key, found[0])
    return out


def _add(out: dict[str, str], key: str, member: str) -> None:
    if key in out and out[key] != member:
        raise InstallError(
            f"'files' puts both {out[key]} and {member} at {key}",
            hint="give each its own layer path",
        )
    out[key] = member


def rendered(rules: Sequence[Rule], render: Callable[[str], str]) -> list[Rule]:
    return [(key, render(pattern)) for key, pattern in rules]
