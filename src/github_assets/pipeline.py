"""One asset, from spec to checked files in a work dir: resolve -> evidence (evidence.py)
-> fetch -> verify -> proofs -> unpack -> place -> check. Free of CNB: it imports nothing of cnb/,
layers, install or build, so any caller (the build, `github-assets install`) installs an
asset and then hands the Staged result to a destination of its own (destinations.py).

Every BuildpackError raised on the way leaves here with the asset's entry (file, entry,
repo) at the start of its first line.
"""

from __future__ import annotations

import os
import posixpath
import stat
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from . import selection
from .archive import Unpacked
from .config import AssetSpec
from .errors import BuildpackError, DownloadError, InstallError, about, os_error
from .evidence import evidence, expected_for
from .log import Log, human_size
from .platform import Target
from .record import Record
from .settings import Settings
from .sources import ResolvedAsset, Sink, Source, Unchanged, fetch_verified
from .verify import Authority, Expected, Verified

if TYPE_CHECKING:
    from .elf import ElfInfo

__all__ = [
    "Job",
    "Proof",
    "ResolvedAsset",
    "Source",
    "Staged",
    "Unchanged",
    "Watched",
    "Watcher",
    "evidence",
    "expected_for",
]

_LONE = ("raw", "gzip", "xz", "bzip2")
"""Kinds that unpack to a single file."""


class Proof(Protocol):
    """A proof of provenance (a signature, an attestation) for bytes that verified.

    Runs after the bytes matched every checksum and before the unpacked files are
    finished: it gets the verified sha256 and size, and the release's other assets
    (asset.siblings, fetched with job.source). It returns the authority it adds (named on
    the Verified line and in the metadata) or raises a BuildpackError: nothing is
    installed then. Made per entry by services.Services.proofs_for.
    """

    def prepare(self, job: Job, asset: ResolvedAsset) -> Watcher | None:
        """Before the download: read what the proof needs (a signature file), failing early;
        what must see the asset's bytes as they arrive (a signature over them), or None."""
        ...

    def __call__(self, job: Job, asset: ResolvedAsset, verified: Verified) -> Authority: ...


class Watcher(Protocol):
    """Sees an asset's bytes as they arrive (the asset is never held whole)."""

    def update(self, data: memoryview) -> None: ...

    def reset(self) -> None:
        """The fetch started over: forget what was seen."""
        ...


class Watched:
    """A sink that shows the bytes committed to it to watchers first."""

    def __init__(self, sink: Sink, watchers: Sequence[Watcher]) -> None:
        self._sink = sink
        self._watchers = watchers
        self._view = memoryview(b"")

    def buffer(self) -> memoryview:
        self._view = self._sink.buffer()
        return self._view

    def commit(self, n: int) -> None:
        for watcher in self._watchers:
            watcher.update(self._view[:n])
        self._sink.commit(n)

    def restart(self) -> None:
        for watcher in self._watchers:
            watcher.reset()
        self._sink.restart()


class Job(Record):
    """One asset's work: what it is, for which target, from which source, logged where."""

    spec: AssetSpec
    target: Target
    source: Source
    log: Log
    cancel: threading.Event | None = None
    settings: Settings = Settings()
    clock: Callable[[], float] = time.monotonic
    proofs: tuple[Proof, ...] = ()


class Staged(Record):
    """One asset unpacked and checked in the work dir, not yet in its destination."""

    asset: ResolvedAsset
    verified: Verified
    origin: str
    """Where the bytes came from, as the log named it."""
    kind: str
    """What the bytes were: raw, gzip, tar.gz, zip, ..."""
    destination: str
    """Where it goes, relative to the destination's root: an archive's dir, a file's path."""
    files: tuple[str, ...]
    executables: tuple[str, ...]
    main: str
    """The executable `process` and `link` use ('' when none)."""
    src: Path
    """The dir (archive) or the file (raw) to move to destination."""
    elves: tuple[tuple[str, ElfInfo], ...] = ()
    """(file, its ELF facts) of each ELF file: libc needs and Go build info."""

    @property
    def is_archive(self) -> bool:
        return self.kind not in _LONE


@contextmanager
def naming(spec: AssetSpec, doing: str = "install the asset") -> Iterator[None]:
    """Errors raised inside name the asset's entry first; OS errors become one such line."""
    try:
        yield
    except BuildpackError as e:
        raise about(e, spec.where) from e.__cause__
    except OSError as e:
        raise about(os_error(e, doing), spec.where) from e


def resolve(job: Job, etag: str = "") -> ResolvedAsset:
    """What job.spec means for job.target, as the source knows it (Unchanged: as etag said)."""
    with naming(job.spec):
        return job.source.resolve(job.spec, job.target, log=job.log, cancel=job.cancel, etag=etag)


def resolved_line(asset: ResolvedAsset) -> str:
    """The log line that says what an entry resolved to (the build and `install` print it)."""
    facts = [f"asset {asset.asset_id}"] if asset.asset_id else []
    facts += [human_size(asset.size)] if asset.size >= 0 else []
    shown = f" ({', '.join(facts)})" if facts else ""
    via = " from the lock" if asset.claims else ""
    return f"Resolved {asset.repo} {asset.tag}: {asset.name}{shown}{via}"


def installed_name(spec: AssetSpec, asset_name: str) -> str:
    """<name>: from 'asset', else cut from the asset the build chose (assetpick)."""
    if spec.asset:
        return spec.name
    from .assetpick import derived_name

    return derived_name(asset_name)


def install_path(spec: AssetSpec, archive: bool, name: str = "") -> str:
    """Where the asset goes, relative to its root: an archive's directory, or a raw file's path.

    name: the raw file's <name> (installed_name); spec.name when not given.
    """
    name = name or spec.name
    if archive:
        return (spec.destination or ".").rstrip("/") or "."
    if spec.destination is None:
        return f"bin/{name}"
    if spec.destination.endswith("/") or spec.destination == ".":
        # Only a leading "./" goes: ".local/bin/" keeps its dot.
        return posixpath.normpath(f"{spec.destination}/{name}")
    return spec.destination


def pick_main(spec: AssetSpec, executables: Sequence[str], name: str = "") -> str:
    """The executable `process` and `link` use: the one named like the asset, else the only one."""
    if not executables:
        if spec.process or spec.link:
            raise InstallError(
                "the asset installs no executable, so 'process'/'link' have nothing to run",
                hint="check 'asset' and 'files', or drop process/link",
            )
        return ""
    name = name or spec.name
    for e in executables:
        if Path(e).name == name:
            return e
    if len(executables) == 1:
        return executables[0]
    if spec.process or spec.link:
        raise InstallError(
            f"the archive has {len(executables)} executables and none is named "
            f"{name!r}, so 'process'/'link' cannot tell which to use",
            hint="name the asset after its executable or drop process/link",
            details="executables: " + ", ".join(executables),
        )
    return executables[0]


def install(job: Job, asset: ResolvedAsset, *, work: Path, shown_root: Path) -> Staged:
    """Fetch, verify and unpack asset into the empty dir `work`, and check its ELF files.

    shown_root is where the files will be seen once moved (for the log). Unpacking runs
    while the bytes arrive, inside work; nothing is usable before size and checksums
    are verified (and every proof held), and on failure the caller throws work away.
    """
    spec, log = job.spec, job.log
    name = installed_name(spec, asset.name)
    with naming(spec, f"install {asset.name}"):
        started = job.clock()
        expected = evidence(job, asset)
        if not any(c.trusted for c in expected.claims) and job.settings.require_checksum:
            raise DownloadError(
                f"only the size of {asset.name} could be checked (no pin, digest or checksum "
                "file) and BP_GITHUB_ASSETS_REQUIRE_CHECKSUM is set",
                hint=_pin_advice(spec),
            )
        # A pin without a lock gives the sha256, not the size: the line says so, without
        # promising a size it will not print; the Verified line (and progress) give it.
        size = human_size(asset.size) if asset.size >= 0 else "size not known before the download"
        log.subprocess(
            f"Downloading {asset.name} ({size}) from {job.source.origin(asset, expected)}"
        )
        rules = selection.rendered(spec.files, lambda p: spec.render(p, job.target, asset.tag))
        verified, origin, result = _fetch(job, asset, work, expected, rules, name)
        if not verified.authorities:
            log.subprocess(
                f"Warning: only the size of {asset.name} was checked; {_pin_advice(spec)}"
            )
        placed = _place(spec, asset, result, rules, work, name)
        log.subprocess(
            f"Unpacked {result.kind}: {len(placed.files)} file{'s' * (len(placed.files) != 1)}"
        )
        executables, elves = _check_elves(job, asset, placed, shown_root)
        main = pick_main(spec, executables, name)
        for rel in executables:
            log.subprocess(f"Installed {shown_root / rel}")
        log.subprocess(f"Done in {job.clock() - started:.1f} s")
        return Staged(
            asset=asset,
            verified=verified,
            origin=origin or job.source.name,
            kind=result.kind,
            destination=placed.destination,
            files=placed.files,
            executables=tuple(executables),
            main=main,
            src=placed.src,
            elves=elves,
        )


def _pin_advice(spec: AssetSpec) -> str:
    return (
        f'pin it with sha256 = "<hex>" in the entry of {spec.repo} (a table by arch for '
        "several targets), or name the release's checksum file with 'checksums'"
    )


def _fetch(
    job: Job,
    asset: ResolvedAsset,
    work: Path,
    expected: Expected,
    rules: Sequence[selection.Rule],
    name: str,
) -> tuple[Verified, str, Unpacked]:
    """The asset's bytes, verified and proven, unpacked into work/unpack (only `files`
    when set); and where they came from."""
    from .archive import stream_unpack

    watchers = [w for p in job.proofs if (w := p.prepare(job, asset)) is not None]
    unpack_dir = work / "unpack"
    unpack_dir.mkdir()
    sink = stream_unpack(
        unpack_dir,
        strip_components=job.spec.strip_components,
        raw_path=name,
        limits=job.settings.limits,
        spool=work / "asset",
        select=selection.selector(rules) if rules else None,
    )
    try:
        fetched = fetch_verified(
            job.source,
            asset,
            Watched(sink, watchers) if watchers else sink,
            expected,
            log=job.log,
            cancel=job.cancel,
        )
        verified = _prove(job, asset, fetched.verified)
        job.log.subprocess(f"Verified sha256:{verified.sha256} ({verified.describe()})")
        result = sink.finish()
    finally:
        sink.close()
    job.log.debug(f"sniffed {result.kind} from the first bytes of {asset.name}")
    return verified, fetched.origin, result


def _prove(job: Job, asset: ResolvedAsset, verified: Verified) -> Verified:
    """Run every proof of provenance on bytes that verified; each adds its authority."""
    for proof in job.proofs:
        authority = proof(job, asset, verified)
        verified = verified._replace(authorities=(*verified.authorities, authority))
    return verified


class _Placed(Record):
    destination: str
    files: tuple[str, ...]
    local: dict[str, Path]
    """Each file (relative to the destination's root) where it is in the work dir."""
    src: Path


def _place(
    spec: AssetSpec,
    asset: ResolvedAsset,
    result: Unpacked,
    rules: Sequence[selection.Rule],
    work: Path,
    name: str,
) -> _Placed:
    """Where what was unpacked goes: the `files` picked, an archive's dir, a file's path."""
    unpack_dir = work / "unpack"
    archive = result.kind not in _LONE
    if rules and not archive:
        raise InstallError(
            f"'files' picks members of an archive, but {asset.name} is a single file "
            f"({result.kind})",
            hint="drop 'files' (use 'destination' to name the file)",
        )
    if rules:
        from .destinations import make_dirs

        src = work / "picked"
        src.mkdir()
        local = {}
        for key, member in sorted(selection.place(rules, result).items()):
            dest = src / key
            make_dirs(dest.parent)
            os.link(unpack_dir / member, dest)  # a member may go to two places
            local[key] = dest
        return _Placed(".", tuple(sorted(local)), local, src)
    place = install_path(spec, archive, name)
    if archive:
        local = {f"{place}/{f}".removeprefix("./"): unpack_dir / f for f in result.files}
        return _Placed(place, tuple(sorted(local)), local, unpack_dir)
    return _Placed(place, (place,), {place: unpack_dir / name}, unpack_dir / name)


def _check_elves(
    job: Job, asset: ResolvedAsset, placed: _Placed, shown_root: Path
) -> tuple[list[str], tuple[tuple[str, ElfInfo], ...]]:
    """The executables among the placed files, and the facts of every ELF file, each
    checked for the target's arch and its run image's libc."""
    executables, elves = [], []
    if placed.files:
        from .elf import check as elf_check
        from .elf import check_abi
    for rel in placed.files:
        path = placed.local[rel]
        st = path.lstat()
        if not stat.S_ISREG(st.st_mode):
            continue
        info = elf_check(path, job.target.arch, rel)
        if st.st_mode & 0o111 or info is not None:
            executables.append(rel)
        if info is not None:
            job.log.action(f"ELF {info.machine} {info.linkage}: {shown_root / rel}")
            shown = f"{asset.name}: {rel}"
            warning = check_abi(info, job.target.distro, shown, enforce=job.spec.abi_check)
            if warning:
                job.log.subprocess(f"Warning: {warning}")
            elves.append((rel, info))
    return executables, tuple(elves)
