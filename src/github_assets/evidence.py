"""Who vouches for an asset's bytes, gathered before a byte of the asset is fetched: the
one table of checksum authorities that the build, `github-assets lock`, `install` and
the offline packager read (pipeline.install checks the bytes against all of them).

A new checksum authority is one more function in KNOWN (its word needs no request: the
config, the resolver, the release's metadata) or FROM_RELEASE (it reads something of the
release: a request). Each returns Claims naming their verify.Authority, whose kind says
whether it is trusted (BP_GITHUB_ASSETS_REQUIRE_CHECKSUM) and whether a place other than
GitHub may serve the bytes it vouches for (sources/origins.py); the downloaders, verify.py
and the layer metadata do not change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from . import checksums
from .errors import DownloadError
from .verify import DIGEST, PINNED, Checksum, Claim, Expected

if TYPE_CHECKING:
    from .config import AssetSpec
    from .pipeline import Job
    from .platform import Target
    from .sources import ResolvedAsset


def _pinned(spec: AssetSpec, target: Target, asset: ResolvedAsset) -> Sequence[Claim]:
    """The config's sha256 for the target's arch."""
    pin = spec.pin_for(target.arch)
    return [Claim(pin, PINNED)] if pin is not None else []


def _resolved(spec: AssetSpec, target: Target, asset: ResolvedAsset) -> Sequence[Claim]:
    """What the resolver itself vouches for (the lock's sha256)."""
    return asset.claims


def _digest(spec: AssetSpec, target: Target, asset: ResolvedAsset) -> Sequence[Claim]:
    """The digest GitHub publishes for the asset (null on assets uploaded before mid-2025)."""
    if not asset.digest:
        return []
    published = Checksum.parse(asset.digest)
    if published is None:
        raise DownloadError(
            f"GitHub published a digest for {asset.name} that is not sha256: {asset.digest}",
            hint="pin sha256 in the config to verify it yourself",
        )
    return [Claim(published, DIGEST)]


def _checksum_file(job: Job, asset: ResolvedAsset) -> Sequence[Claim]:
    """The line of the release's checksum file that covers the asset (checksums.py)."""
    return checksums.claims(job.spec, job.target, asset, job.source, log=job.log, cancel=job.cancel)


KNOWN: tuple[Callable[[AssetSpec, Target, ResolvedAsset], Sequence[Claim]], ...] = (
    _pinned,
    _resolved,
    _digest,
)
"""Authorities whose word is known without a request, in the order the log names them."""

FROM_RELEASE: tuple[Callable[[Job, ResolvedAsset], Sequence[Claim]], ...] = (_checksum_file,)
"""Authorities that read something of the release (a request each), after KNOWN."""


def expected_for(spec: AssetSpec, target: Target, asset: ResolvedAsset) -> Expected:
    """The size and every checksum known without a request; all of them must match."""
    claims = [claim for gather in KNOWN for claim in gather(spec, target, asset)]
    return Expected(asset.name, asset.size, tuple(claims))


def evidence(job: Job, asset: ResolvedAsset) -> Expected:
    """Every authority's word on asset, before a byte of it is fetched."""
    expected = expected_for(job.spec, job.target, asset)
    fetched = [claim for gather in FROM_RELEASE for claim in gather(job, asset)]
    return expected._replace(claims=expected.claims + tuple(fetched))
