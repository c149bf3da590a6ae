"""One asset, from spec to checked files in a work dir: resolve -> fetch -> verify ->
unpack -> check. Knows nothing of CNB layers, so any caller (the build, a command line)
can install an asset into a directory of its own.

Every BuildpackError raised on the way leaves here with the asset's entry (file, entry,
repo) at the start of its first line.
"""

from __future__ import annotations

import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from .archive import Limits
from .config import AssetSpec
from .errors import BuildpackError, DownloadError, InstallError, about
from .layers import Installed
from .log import Log, human_size
from .platform import Target
from .sources import ResolvedAsset, Sink, Source
from .verify import DIGEST, PINNED, SIZE_ONLY, Checksum, Claim, Expected, Verified

_LONE = ("raw", "gzip", "xz", "bzip2")
"""Kinds that unpack to a single file."""


class Staged(NamedTuple):
    """One asset unpacked and checked in the work dir, not yet in its destination."""

    installed: Installed
    src: Path
    """The dir (archive) or the file (raw) to move to installed.destination."""

    @property
    def is_archive(self) -> bool:
        return self.installed.kind not in _LONE


@contextmanager
def naming(spec: AssetSpec) -> Iterator[None]:
    """Errors raised inside name the asset's entry first."""
    try:
        yield
    except BuildpackError as e:
        raise about(e, spec.where) from e.__cause__


def resolve(
    spec: AssetSpec, target: Target, source: Source, *, log: Log, cancel: threading.Event | None
) -> ResolvedAsset:
    """What spec means for target, as the source knows it."""
    with naming(spec):
        return source.resolve(spec, target, log=log, cancel=cancel)


def expected_for(spec: AssetSpec, target: Target, asset: ResolvedAsset) -> Expected:
    """The size and every checksum some authority vouches for; all of them must match."""
    claims = []
    pin = spec.pin_for(target.arch)
    if pin is not None:
        claims.append(Claim(pin, PINNED))
    if asset.digest:
        published = Checksum.parse(asset.digest)
        if published is None:
            raise DownloadError(
                f"GitHub published a digest for {asset.name} that is not sha256: {asset.digest}",
                hint="pin sha256 in the config to verify it yourself",
            )
        claims.append(Claim(published, DIGEST))
    return Expected(asset.name, asset.size, tuple(claims))


def install_path(spec: AssetSpec, archive: bool) -> str:
    """Where the asset goes, relative to its root: an archive's directory, or a raw file's path."""
    if archive:
        return (spec.destination or ".").rstrip("/") or "."
    if spec.destination is None:
        return f"bin/{spec.name}"
    if spec.destination.endswith("/") or spec.destination == ".":
        return f"{spec.destination.rstrip('/')}/{spec.name}".lstrip("./") or spec.name
    return spec.destination


def pick_main(spec: AssetSpec, executables: Sequence[str]) -> str:
    """The executable `process` and `link` use: the one named like the asset, else the only one."""
    if not executables:
        return ""
    for e in executables:
        if Path(e).name == spec.name:
            return e
    if len(executables) == 1:
        return executables[0]
    if spec.process or spec.link:
        raise InstallError(
            f"the archive has {len(executables)} executables and none is named "
            f"{spec.name!r}, so 'process'/'link' cannot tell which to use",
            hint="name the asset after its executable or drop process/link",
            details="executables: " + ", ".join(executables),
        )
    return executables[0]


def install(
    spec: AssetSpec,
    asset: ResolvedAsset,
    source: Source,
    *,
    work: Path,
    target: Target,
    limits: Limits,
    log: Log,
    cancel: threading.Event | None,
    shown_root: Path,
    clock: Callable[[], float],
) -> Staged:
    """Fetch, verify and unpack asset into the empty dir `work`, and check its ELF files.

    shown_root is where the files will be seen once moved (for the log). Unpacking runs
    while the bytes arrive, inside work; nothing is usable before size and checksums
    are verified, and on failure the caller throws work away.
    """
    with naming(spec):
        return _install(spec, asset, source, work, target, limits, log, cancel, shown_root, clock)


def _install(
    spec: AssetSpec,
    asset: ResolvedAsset,
    source: Source,
    work: Path,
    target: Target,
    limits: Limits,
    log: Log,
    cancel: threading.Event | None,
    shown_root: Path,
    clock: Callable[[], float],
) -> Staged:
    from .archive import stream_unpack

    started = clock()
    log.subprocess(f"Downloading {asset.name} ({human_size(asset.size)})")
    _prefetch_elf()
    expected = expected_for(spec, target, asset)
    unpack_dir = work / "unpack"
    unpack_dir.mkdir()
    sink = stream_unpack(
        unpack_dir,
        strip_components=spec.strip_components,
        raw_path=spec.name,
        limits=limits,
        spool=work / "asset",
    )
    try:
        verified = _fetch_verified(source, asset, sink, expected, log, cancel)
        log.subprocess(f"Verified sha256:{verified.sha256} ({verified.describe()})")
        result = sink.finish()
    finally:
        sink.close()
    log.debug(f"sniffed {result.kind} from the first bytes of {asset.name}")
    archive = result.kind not in _LONE
    place = install_path(spec, archive)
    if archive:
        files = tuple(sorted(f"{place}/{f}".removeprefix("./") for f in result.files))
        local = {f"{place}/{f}".removeprefix("./"): unpack_dir / f for f in result.files}
        src = unpack_dir
    else:
        files = (place,)
        src = unpack_dir / spec.name
        local = {place: src}
    log.subprocess(f"Unpacked {result.kind}: {len(files)} file{'s' * (len(files) != 1)}")
    executables = []
    if files:
        from .elf import check as elf_check
    for rel in files:
        path = local[rel]
        st = path.lstat()
        if not stat.S_ISREG(st.st_mode):
            continue
        info = elf_check(path, target.arch, rel)
        if st.st_mode & 0o111 or info is not None:
            executables.append(rel)
        if info is not None:
            linkage = "static" if info.static else f"dynamic, interpreter {info.interpreter}"
            log.action(f"ELF {info.machine} {linkage}: {shown_root / rel}")
    main = pick_main(spec, executables)
    for rel in executables:
        log.subprocess(f"Installed {shown_root / rel}")
    log.subprocess(f"Done in {clock() - started:.1f} s")
    installed = Installed(
        repo=spec.repo,
        tag=spec.tag,
        resolved_tag=asset.tag,
        asset=asset.name,
        asset_id=asset.asset_id,
        size=verified.size,
        sha256=verified.sha256,
        verified_by=", ".join(verified.authorities) or SIZE_ONLY,
        source=source.name,
        kind=result.kind,
        destination=place,
        strip_components=spec.strip_components,
        files=files,
        executables=tuple(executables),
        main=main,
        release_url=asset.release_url,
        want=spec.wanted(target),
    )
    return Staged(installed, src)


def _fetch_verified(
    source: Source,
    asset: ResolvedAsset,
    sink: Sink,
    expected: Expected,
    log: Log,
    cancel: threading.Event | None,
) -> Verified:
    """The asset is the bytes as the server sent them (what size and checksums cover), as
    curl and Go take them. Only when those fail and came with a Content-Encoding (an S3
    object's metadata, nginx gzip) are the same bytes decoded tried against the same
    claims; when neither verifies, that is the error at once, never a retry."""
    received = source.fetch(asset, sink, algorithms=expected.algorithms, log=log, cancel=cancel)
    try:
        return expected.check(received.size, received.digests)
    except DownloadError as as_sent:
        if not received.encoding:
            raise
        log.action(
            f"Content-Encoding: {received.encoding}: the bytes as sent do not verify "
            f"({as_sent.message}); trying them decoded"
        )
        sink.restart()
        try:
            decoded = source.fetch(
                asset, sink, algorithms=expected.algorithms, log=log, cancel=cancel, decoded=True
            )
            return expected.check(decoded.size, decoded.digests)
        except DownloadError as e:
            raise DownloadError(
                f"{asset.name} came with Content-Encoding: {received.encoding} and verifies "
                f"neither as sent ({as_sent.message}) nor decoded ({e.message})",
                hint="nothing was installed; the server or mirror must send the asset's own "
                "bytes: remove the Content-Encoding it adds",
            ) from None


_prefetch_started = threading.Event()


def _prefetch_elf() -> None:
    """Import pyelftools on a thread of its own while the downloads run (once).

    The ELF check needs it only after a download, and its import costs about a tenth of
    a cold 256 MiB install; downloads spend their time in recv/sha256/write, which release
    the GIL. Started by the first download, not before: earlier it would slow down the
    import of the HTTP stack that the first request waits for. An import of the same
    module elsewhere waits for this one to finish.
    """
    if _prefetch_started.is_set():
        return
    _prefetch_started.set()

    def run() -> None:
        try:
            from .elf import preload

            preload()
        except Exception:  # noqa: S110 (the check imports it again and reports any error)
            pass

    threading.Thread(target=run, name="github-assets-prefetch").start()
