"""Resolving an entry to one release asset without fetching a byte: from the lock, from
the config's pins, or (elsewhere: github.py) from the GitHub API. A new forge is a
resolver beside github.py; the places bytes come from are origins.py's business.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import quote

from ..errors import ConfigError
from . import ResolvedAsset

if TYPE_CHECKING:
    from ..config import AssetSpec
    from ..lock import Lock
    from ..log import Log
    from ..platform import Target


def asset_name(spec: AssetSpec, target: Target, tag: str, names: Sequence[str] = ()) -> str:
    """The name of the release asset an entry means on target at tag: the one place it is
    decided. names: the release's asset names, when the resolver has them (the API).

    Today the entry's 'asset' template, rendered. Automatic selection (an entry without
    'asset') chooses among names here, and only here; a resolver without the release's
    list (the pins) cannot, and leaves the entry to one that has it.
    """
    return spec.render(spec.asset, target, tag)


def can_name_without_release(spec: AssetSpec) -> bool:
    """Whether asset_name needs no release list (the entry names its asset)."""
    return bool(spec.asset)


def without_api(
    spec: AssetSpec,
    target: Target,
    *,
    lock: Lock | None,
    own: bool,
    web: str,
    log: Log,
) -> ResolvedAsset | None:
    """From the lock, else (pinned tag and sha256, or a named checksum file) from the
    config; None when only the API can say (latest, a private asset, no evidence).

    own: the entry is the app config's, so the lock must cover it. web: GitHub's web base.
    """
    entry = lock.find(spec, target) if lock is not None else None
    if lock is not None and entry is not None:
        log.debug(f"resolved from {os.path.basename(lock.path)}")
        return known(spec, entry.resolved_tag, entry.name, entry.size, web)._replace(
            claims=(entry.claim,)
        )
    if lock is not None and own:
        raise ConfigError(
            f"{os.path.basename(lock.path)} has no entry for {spec.repo} {spec.asset} on {target}",
            hint="re-run github-assets lock (the config changed since it was written)",
        )
    explicit = spec.checksums not in ("auto", False) and spec.token_env is None
    if (
        spec.tag != "latest"
        and (spec.pin_for(target.arch) is not None or explicit)
        and can_name_without_release(spec)
    ):
        return known(spec, spec.tag, asset_name(spec, target, spec.tag), -1, web)
    return None


def known(spec: AssetSpec, tag: str, name: str, size: int, web: str) -> ResolvedAsset:
    """An asset known without the API: no id, no digest, no URL of the API's."""
    return ResolvedAsset(
        repo=spec.repo,
        tag=tag,
        name=name,
        size=size,
        asset_id=0,
        digest=None,
        release_url=f"{web}/{spec.repo}/releases/tag/{quote(tag, safe='')}",
        url="",
    )
