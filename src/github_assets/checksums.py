"""Checksum files of a release: which to read, and the line that covers an asset.

Formats, as real releases publish them: GNU (`<hex>  name`, `<hex> *name`, also with one
space), BSD (`SHA256 (name) = <hex>`, also padded `SHA256  (name)`), and a lone hex
sidecar (`<asset>.sha256` holding just the digest). sha256 and sha512; lines of other
algorithms (MD5, SHA1, SHA3-256, ...) are skipped: a BSD line names its algorithm, a GNU
line's is told by its length. A line's name matches the asset by its last path
component too (`<hex>  dist/tini` covers `tini`).
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .errors import DownloadError
from .platform import Target
from .record import Record
from .sources import MemorySink, fetch_verified
from .verify import LENGTHS, Checksum, Claim, Expected, checksum_file

if TYPE_CHECKING:
    from .config import AssetSpec
    from .log import Log
    from .sources import ResolvedAsset, Source

AUTO = "auto"
ALGOS = frozenset({"sha256"})
MAX_SIZE = 1 << 20
"""Bytes a checksum file may have; real ones are a few KiB."""

# Patterns that re compiles (and caches) when a checksum file is first read: a build with
# a pinned sha256 and no checksum file compiles none.
_BSD = r"^([A-Za-z0-9-]+)\s*\((.+)\)\s*=\s*([0-9A-Fa-f]+)$"
_GNU = r"^([0-9A-Fa-f]+)\s+[ *]?(.+)$"
_HEX = r"^[0-9A-Fa-f]+$"
_BY_LENGTH = {n: algo for algo, n in LENGTHS.items()}
_BSD_ALGOS = {"SHA256": "sha256", "SHA512": "sha512", "SHA2-256": "sha256", "SHA2-512": "sha512"}


class Found(Record):
    checksum: Checksum | None
    """The asset's checksum in the file (its sha256 when it has one), or None when no line
    covers it."""
    parsed: bool
    """Whether the file looked like a checksum file at all."""
    conflict: tuple[Checksum, ...] = ()
    """Lines for the asset that disagree (of one algorithm): the file is ambiguous."""


def candidates(asset: str, names: Sequence[str]) -> list[str]:
    """The release's files `auto` tries for asset, in the contract's order."""
    fixed = [f"{asset}.sha256", f"{asset}.sha256sum", "checksums.txt"]
    any_checksums = sorted(n for n in names if n.endswith("checksums.txt") and n != "checksums.txt")
    order = [*fixed, *any_checksums, "checksums.sha256", "SHA256SUMS", "sha256sums.txt"]
    present = set(names)
    return [n for n in dict.fromkeys(order) if n in present]


def _covers(name: str, asset: str) -> int:
    """How a line's name covers asset: 2 exactly, 1 by its last path component, 0 not."""
    name = name.strip()
    if name == asset or name.lstrip("*") == asset:
        return 2
    return 1 if name.rsplit("/", 1)[-1] == asset else 0


def find(text: str, asset: str, *, sidecar: bool) -> Found:
    """The checksum of asset in a checksum file's text.

    sidecar: the file is named after the asset (`<asset>.sha256`), so a lone digest, or a
    line whose name differs only by a path, covers it. Every line for the asset counts,
    as `sha256sum -c` checks each: lines naming it exactly, else those naming it by its
    last path component; when two of one algorithm disagree, Found.conflict has them.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("#")]
    if sidecar and len(lines) == 1 and re.match(_HEX, lines[0]):
        lone = Checksum.parse(lines[0], _BY_LENGTH.get(len(lines[0]), ""))
        return Found(lone, lone is not None)
    parsed = False
    hits: list[tuple[int, Checksum]] = []
    for line in lines:
        bsd = re.match(_BSD, line)
        if bsd:
            parsed = True
            algo = _BSD_ALGOS.get(bsd.group(1).upper(), "")
            value = Checksum.parse(bsd.group(3), algo) if algo else None
            how = _covers(bsd.group(2), asset)
            if value is not None and how:
                hits.append((how, value))
            continue
        gnu = re.match(_GNU, line)
        if gnu:
            value = Checksum.parse(gnu.group(1), _BY_LENGTH.get(len(gnu.group(1)), ""))
            parsed = parsed or value is not None
            how = _covers(gnu.group(2), asset) or (2 if sidecar and len(lines) == 1 else 0)
            if value is not None and how:
                hits.append((how, value))
    best = max((how for how, _ in hits), default=0)
    found = list(dict.fromkeys(value for how, value in hits if how == best))
    for algo in sorted({c.algo for c in found}):
        values = [c for c in found if c.algo == algo]
        if len(values) > 1:
            return Found(None, True, tuple(values))
    found.sort(key=lambda c: c.algo != "sha256")  # sha256 first: what the lock records
    return Found(found[0] if found else None, parsed)


def _too_large(name: str) -> DownloadError:
    return DownloadError(
        f"checksum file {name} is larger than {MAX_SIZE} bytes",
        hint="set 'checksums' to the release's checksum file, or to false",
    )


def claims(
    spec: AssetSpec,
    target: Target,
    asset: ResolvedAsset,
    source: Source,
    *,
    log: Log,
    cancel: threading.Event | None,
) -> list[Claim]:
    """What the release's checksum file says of asset: [] or one Claim named after the file.

    `auto` tries the candidates present and takes the first with a line for the asset
    (the others are notes); an explicit file that is missing or has no line is an error.
    """
    if spec.checksums is False:
        return []
    by_name = {s.name: s for s in asset.siblings}
    explicit = spec.checksums != AUTO
    if explicit:
        name = spec.render(str(spec.checksums), target, asset.tag, asset=asset.name)
        if name not in by_name and asset.asset_id == 0:
            # Resolved without the API (lock, pins): fetched from GitHub (origins.places).
            by_name[name] = asset._replace(name=name, size=-1, url="", claims=(), siblings=())
        if name not in by_name:
            raise DownloadError(
                f"'checksums' names {name}, which is not an asset of release {asset.tag}",
                hint="set 'checksums' to one of the assets listed, or to false",
                details="assets: " + ", ".join(sorted(by_name)),
            )
        names = [name]
    else:
        names = candidates(asset.name, list(by_name))
    for name in names:
        sibling = by_name[name]
        if sibling.size > MAX_SIZE:
            if explicit:
                raise DownloadError(f"checksum file {name} is larger than {MAX_SIZE} bytes")
            log.action(f"Note: {name} is too large for a checksum file; skipped")
            continue
        sink = MemorySink(MAX_SIZE, functools.partial(_too_large, name))
        # as the asset is: the bytes as sent, or decoded when only those have its size
        evidence = Expected(name, sibling.size, evidence=True)
        fetch_verified(source, sibling, sink, evidence, log=log, cancel=cancel)
        text = bytes(sink.data).decode("utf-8", "replace")
        found = find(text, asset.name, sidecar=name.startswith(asset.name + "."))
        if not found.parsed and sibling.size < 0:
            # No announced size tells an encoded body from the file (a direct download): a
            # body that is no checksum file as sent is read once more, decoded.
            sink.restart()
            source.fetch(sibling, sink, evidence, log=log, cancel=cancel, decoded=True)
            text = bytes(sink.data).decode("utf-8", "replace")
            found = find(text, asset.name, sidecar=name.startswith(asset.name + "."))
        if found.conflict:
            # Not a mismatch of the bytes: the file contradicts itself, so it vouches for nothing.
            raise DownloadError(
                f"checksum file {name} is ambiguous: its lines for {asset.name} disagree "
                f"({', '.join(map(str, found.conflict))})",
                hint="nothing was installed; the release's checksum file must list one value "
                "per asset: set 'checksums' to another file, or pin sha256 yourself",
            )
        if found.checksum is not None:
            return [Claim(found.checksum, checksum_file(name))]
        why = f"has no line for {asset.name}" if found.parsed else "is not a checksum file we read"
        if explicit:
            raise DownloadError(
                f"checksum file {name} {why}",
                hint="set 'checksums' to the file that lists this asset, or to false",
            )
        log.action(f"Note: {name} {why}")
    return []
