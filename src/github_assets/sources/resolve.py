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


def asset_name(
    spec: AssetSpec,
    target: Target,
    tag: str,
    names: Sequence[str] = (),
    *,
    log: Log | None = None,
    release: str = "",
) -> str:
    """The name of the release asset an entry means on target at tag: the one place it is
    decided. names: the release's asset names, when the resolver has them (the API).

    The entry's 'asset' template, rendered; without 'asset', the one asset the contract's
    selection rules choose among names (assetpick), logged with why. A resolver without
    the release's list (the pins) cannot choose, and leaves the entry to one that has it.
    """
    if spec.asset:
        return spec.render(spec.asset, target, tag)
    from ..assetpick import choose, distro_libc

    chosen = choose(
        names,
        target,
        libc=distro_libc(os.environ),
        files=bool(spec.files),
        repo=spec.repo,
        release=release or f"{spec.repo} {tag}",
    )
    if log is not None:
        log.subprocess(f"Selected {chosen.name} for {target} ({chosen.why})")
    return chosen.name


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
            claims=(entry.claim,), size_from=os.path.basename(lock.path)
        )
    if lock is not None and own:
        raise ConfigError(
            f"{os.path.basename(lock.path)} has no entry for {spec.repo} {spec.shown_asset} "
            f"on {target}",
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
