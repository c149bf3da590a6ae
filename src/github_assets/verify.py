"""What an asset must be, on whose word, and the check of what arrived against it.

Orchestration decides the expected size and checksums, each with its authority (a
pin, GitHub's digest, ...); a source only counts and hashes the bytes it delivers;
`Expected.check` compares. An authority is data (Authority: its kind, its name, whether
it is trusted), decided once and carried as it is to the log, the layer metadata, the
lock and the reuse decision. A new authority is one more Claim, never a change to a
downloader. Imported on the detect path (config parses pins into Checksum): stdlib only.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

from .errors import DownloadError
from .record import Record

_HEX = frozenset("0123456789abcdef")
LENGTHS = {"sha256": 64, "sha512": 128}
"""Hex digits of each algorithm we verify with."""


class Kind(Enum):
    """Who vouches for an asset's bytes. The value is how the layer metadata records it."""

    PIN = "pin"
    """A sha256 in the config."""
    LOCK = "lock"
    """The lock file's sha256, which `lock` took from a digest or a checksum file."""
    TOFU = "tofu"
    """The lock file's sha256, hashed by `lock` from a download: trust on first use."""
    DIGEST = "digest"
    """The digest GitHub publishes for the asset."""
    CHECKSUM_FILE = "checksum file"
    """A line of the release's checksum file."""
    SIZE = "size"
    """Nobody: only the size was checked."""
    SIGSTORE = "sigstore"
    """A Sigstore bundle over the asset or its checksum file (a proof of provenance)."""
    ATTESTATION = "attestation"
    """A GitHub artifact attestation of the asset's sha256 (a proof of provenance)."""
    MINISIGN = "minisign"
    """A minisign signature over the asset or its checksum file (a proof of provenance)."""

    @property
    def trusted(self) -> bool:
        """Whether it vouches for the bytes (BP_GITHUB_ASSETS_REQUIRE_CHECKSUM asks for one
        that does): trust on first use guards against change, but vouches for nothing."""
        return self not in (Kind.TOFU, Kind.SIZE)

    @property
    def before_download(self) -> bool:
        """Whether the sha256 is known before any byte of the asset is fetched from a place
        that is not GitHub, and so lets sources 1-3 (offline package, bindings, mirrors)
        serve it: a pin or the lock. Never the asset's own neighbours: a checksum file
        from a mirror would let the mirror vouch for its own bytes."""
        return self in (Kind.PIN, Kind.LOCK, Kind.TOFU)


class Authority(Record):
    """One authority: its kind and its name as the log says it ("pinned", "checksums.txt")."""

    kind: Kind
    name: str

    @property
    def trusted(self) -> bool:
        return self.kind.trusted

    def to_toml(self) -> dict[str, str]:
        return {"kind": self.kind.value, "name": self.name}

    @classmethod
    def from_toml(cls, data: object) -> Authority:
        """The authority a layer's metadata recorded (ValueError when it is none)."""
        if not isinstance(data, Mapping):
            raise ValueError("an authority is a table")
        return cls(Kind(data["kind"]), str(data["name"]))

    @classmethod
    def from_name(cls, name: str) -> Authority:
        """The authority a 0.2 layer recorded only by its name (`verified_by`)."""
        known = {a.name: a for a in (PINNED, DIGEST, LOCKED, TOFU, SIZE_ONLY)}
        return known.get(name) or cls(Kind.CHECKSUM_FILE, name)


PINNED = Authority(Kind.PIN, "pinned")
DIGEST = Authority(Kind.DIGEST, "GitHub digest")
LOCKED = Authority(Kind.LOCK, "lock")
TOFU = Authority(Kind.TOFU, "lock (trust on first use)")
SIZE_ONLY = Authority(Kind.SIZE, "size only")


def checksum_file(name: str) -> Authority:
    """A release's checksum file, named as the release names it."""
    return Authority(Kind.CHECKSUM_FILE, name)


class Checksum(Record):
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
        if LENGTHS.get(algo) != len(text) or not _HEX.issuperset(text):
            return None
        return cls(text, algo)

    def __str__(self) -> str:
        return f"{self.algo}:{self.hex}"


class Claim(Record):
    """One authority's word on the asset's checksum."""

    checksum: Checksum
    authority: Authority

    @property
    def trusted(self) -> bool:
        return self.authority.trusted


class Verified(Record):
    """An asset whose bytes matched every claim (and every proof the pipeline ran)."""

    size: int
    sha256: str
    authorities: tuple[Authority, ...]
    """Who vouched for the sha256; empty when only the size was checked."""

    @property
    def evidence(self) -> tuple[Authority, ...]:
        """The authorities, or SIZE_ONLY when there is none: what the metadata records."""
        return self.authorities or (SIZE_ONLY,)

    @property
    def trusted(self) -> bool:
        return any(a.trusted for a in self.authorities)

    def describe(self) -> str:
        """The parenthesis of the Verified log line: authorities, then the size."""
        from .log import human_size

        return ", ".join([*(a.name for a in self.evidence), human_size(self.size)])


_RELEASE = (
    "what the release publishes and the bytes GitHub served disagree: retry the build, and "
    "if it persists, tell the release's maintainers"
)
_MISMATCH = {
    Kind.PIN: "if the release asset was replaced on purpose, update the sha256 pin",
    Kind.CHECKSUM_FILE: _RELEASE + " (checksums = false skips a wrong checksum file)",
    Kind.LOCK: "if the release asset was replaced on purpose, delete its entry from "
    "github-assets.lock and run github-assets lock",
}
"""What to do when a claim of a kind disagrees with the bytes (the release's own: _RELEASE)."""
_MISMATCH[Kind.TOFU] = _MISMATCH[Kind.LOCK]


class Expected(Record):
    """The size and checksums an asset must have."""

    name: str
    size: int
    claims: tuple[Claim, ...] = ()
    evidence: bool = False
    """These bytes are evidence themselves (a checksum file, fetched for its lines): no
    claim covers them, so only GitHub's own hosts may serve them."""
    named_by: str = "checksums"
    """The config key that names these evidence bytes ('checksums', 'provenance'), for the
    error when the release has no such asset."""

    def known_sha256(self, *, before_download: bool = False) -> str:
        """The sha256 a claim gives (hex), '' when none; before_download: only a claim whose
        kind lets a source other than GitHub serve the bytes (Kind.before_download)."""
        for claim in self.claims:
            if claim.checksum.algo == "sha256" and (
                claim.authority.kind.before_download or not before_download
            ):
                return claim.checksum.hex
        return ""

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
                    f"({claim.authority.name}), got {algo}:{got} (downloaded bytes)",
                    hint="nothing was installed; " + _MISMATCH.get(claim.authority.kind, _RELEASE),
                )
        authorities = tuple(dict.fromkeys(c.authority for c in self.claims))
        return Verified(size, digests["sha256"], authorities)
