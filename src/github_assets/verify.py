"""What an asset must be, on whose word, and the check of what arrived against it.

Orchestration decides the expected size and checksums, each with its authority (a
pin, GitHub's digest, ...); a source only counts and hashes the bytes it delivers;
`Expected.check` compares. A new authority is one more Claim, never a change to a
downloader. Imported on the detect path (config parses pins into Checksum): stdlib only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

from .errors import DownloadError

_HEX = re.compile(r"^[0-9a-f]+$")
LENGTHS = {"sha256": 64, "sha512": 128}
"""Hex digits of each algorithm we verify with."""

PINNED = "pinned"
DIGEST = "GitHub digest"
SIZE_ONLY = "size only"


class Checksum(NamedTuple):
    """An algorithm and its hex value, parsed once from 'hex' or 'algo:hex'."""

    hex: str
    algo: str = "sha256"

    @classmethod
    def parse(cls, value: str, algo: str = "sha256") -> Checksum | None:
        """The checksum in value ('<hex>' of algo, or '<algo>:<hex>'), or None."""
        text = value.strip().lower()
        prefix, sep, rest = text.partition(":")
        if sep:
            algo, text = prefix, rest
        if LENGTHS.get(algo) != len(text) or not _HEX.match(text):
            return None
        return cls(text, algo)

    def __str__(self) -> str:
        return f"{self.algo}:{self.hex}"


class Claim(NamedTuple):
    """One authority's word on the asset's checksum."""

    checksum: Checksum
    authority: str
    """As the log names it: "pinned", "GitHub digest", a checksum file's name, ..."""
    trusted: bool = True
    """False for trust on first use (a lock entry `lock` hashed from a download): it guards
    against change, but vouches for nothing (BP_GITHUB_ASSETS_REQUIRE_CHECKSUM wants more)."""


class Verified(NamedTuple):
    """An asset whose bytes matched every claim."""

    size: int
    sha256: str
    authorities: tuple[str, ...]
    """Who vouched for the sha256; empty when only the size was checked."""

    def describe(self) -> str:
        """The parenthesis of the Verified log line: authorities, then the size."""
        from .log import human_size

        return ", ".join([*(self.authorities or (SIZE_ONLY,)), human_size(self.size)])


class Expected(NamedTuple):
    """The size and checksums an asset must have."""

    name: str
    size: int
    claims: tuple[Claim, ...] = ()

    @property
    def algorithms(self) -> frozenset[str]:
        """What the bytes must be hashed with: sha256 always, and what the claims use."""
        return frozenset({"sha256", *(c.checksum.algo for c in self.claims)})

    def check(self, size: int, digests: Mapping[str, str]) -> Verified:
        """Verified, or a DownloadError naming both values and the authority they differ from."""
        if self.size >= 0 and size != self.size:  # -1: no one announced it
            raise DownloadError(
                f"size mismatch for {self.name}: expected {self.size} bytes, got {size}",
                hint="nothing was installed; the source served other bytes than announced",
            )
        for claim in self.claims:
            algo = claim.checksum.algo
            got = digests[algo]
            if got != claim.checksum.hex:
                raise DownloadError(
                    f"checksum mismatch for {self.name}: expected {claim.checksum} "
                    f"({claim.authority}), got {algo}:{got} (downloaded bytes)",
                    hint="nothing was installed; if the release asset was replaced on purpose, "
                    "update the sha256 pin",
                )
        authorities = tuple(dict.fromkeys(c.authority for c in self.claims))
        return Verified(size, digests["sha256"], authorities)
