"""One asset, from spec to checked files in a work dir: resolve -> fetch -> verify ->
unpack -> check. Knows nothing of CNB layers, so any caller (the build, a command line)
can install an asset into a directory of its own.

Every BuildpackError raised on the way leaves here with the asset's entry (file, entry,
repo) at the start of its first line.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from . import checksums, selection
from .archive import Unpacked
from .config import AssetSpec
from .errors import BuildpackError, DownloadError, InstallError, about, os_error
from .gobuildinfo import GoBuild
from .layers import Installed
from .log import Log, human_size
from .platform import Target, render
from .settings import Settings
from .sources import ResolvedAsset, Source, fetch_verified
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
def naming(spec: AssetSpec, doing: str = "install the asset") -> Iterator[None]:
    """Errors raised inside name the asset's entry first; OS errors become one such line."""
    try:
        yield
    except BuildpackError as e:
        raise about(e, spec.where) from e.__cause__
    except OSError as e:
        raise about(os_error(e, doing), spec.where) from e


def resolve(
    spec: AssetSpec,
    target: Target,
    source: Source,
    *,
    log: Log,
    cancel: threading.Event | None,
    etag: str = "",
) -> ResolvedAsset:
    """What spec means for target, as the source knows it (Unchanged: as etag said)."""
    with naming(spec):
        return source.resolve(spec, target, log=log, cancel=cancel, etag=etag)


def expected_for(spec: AssetSpec, target: Target, asset: ResolvedAsset) -> Expected:
    """The size and every checksum some authority vouches for; all of them must match."""
    claims = []
    pin = spec.pin_for(target.arch)
    if pin is not None:
        claims.append(Claim(pin, PINNED))
    if asset.locked:
        tofu = asset.locked_by == "downloaded"
        claims.append(
            Claim(
                Checksum(asset.locked), "lock" + (" (trust on first use)" if tofu else ""), not tofu
            )
        )
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
        if spec.process or spec.link:
            raise InstallError(
                "the asset installs no executable, so 'process'/'link' have nothing to run",
                hint="check 'asset' and 'files', or drop process/link",
            )
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
    settings: Settings,
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
    with naming(spec, f"install {asset.name}"):
        started = clock()
        expected = _expected(spec, target, asset, source, settings, log, cancel)
        if not asset.asset_id:  # resolved without the API: a checksum file may allow 1-4
            sha256 = [c.checksum.hex for c in expected.claims if c.checksum.algo == "sha256"]
            asset = asset._replace(known=sha256[0] if sha256 else "")
        size = human_size(asset.size) if asset.size >= 0 else "size not known yet"
        log.subprocess(f"Downloading {asset.name} ({size}) from {source.origin(asset)}")
        rules = selection.rendered(spec.files, lambda p: _render(spec, target, asset, p))
        verified, result = _fetch(spec, asset, source, work, expected, rules, settings, log, cancel)
        if not verified.authorities:
            log.subprocess(
                f"Warning: only the size of {asset.name} was checked; {_pin_advice(spec)}"
            )
        staged = _checked(
            spec, target, asset, source, verified, result, rules, work, log, shown_root
        )
        log.subprocess(f"Done in {clock() - started:.1f} s")
        return staged


def _render(spec: AssetSpec, target: Target, asset: ResolvedAsset, template: str) -> str:
    return render(template, target, asset.tag, spec.replacement_map, prefix=spec.version_prefix)


def _expected(
    spec: AssetSpec,
    target: Target,
    asset: ResolvedAsset,
    source: Source,
    settings: Settings,
    log: Log,
    cancel: threading.Event | None,
) -> Expected:
    """Every authority's word, before a byte of the asset is fetched."""
    expected = expected_for(spec, target, asset)
    from_file = checksums.claims(spec, target, asset, source, log=log, cancel=cancel)
    expected = expected._replace(claims=expected.claims + tuple(from_file))
    if not any(c.trusted for c in expected.claims) and settings.require_checksum:
        raise DownloadError(
            f"only the size of {asset.name} could be checked (no pin, digest or checksum file) "
            "and BP_GITHUB_ASSETS_REQUIRE_CHECKSUM is set",
            hint=_pin_advice(spec),
        )
    return expected


def _pin_advice(spec: AssetSpec) -> str:
    return (
        f'pin it with sha256 = "<hex>" in the entry of {spec.repo} (a table by arch for '
        "several targets), or name the release's checksum file with 'checksums'"
    )


def _fetch(
    spec: AssetSpec,
    asset: ResolvedAsset,
    source: Source,
    work: Path,
    expected: Expected,
    rules: Sequence[selection.Rule],
    settings: Settings,
    log: Log,
    cancel: threading.Event | None,
) -> tuple[Verified, Unpacked]:
    """The asset's bytes, verified, unpacked into work/unpack (only `files` when set)."""
    from .archive import stream_unpack

    unpack_dir = work / "unpack"
    unpack_dir.mkdir()
    sink = stream_unpack(
        unpack_dir,
        strip_components=spec.strip_components,
        raw_path=spec.name,
        limits=settings.limits,
        spool=work / "asset",
        select=selection.selector(rules) if rules else None,
        on_elf=_prefetch_elf,
    )
    try:
        verified = fetch_verified(source, asset, sink, expected, log=log, cancel=cancel)
        log.subprocess(f"Verified sha256:{verified.sha256} ({verified.describe()})")
        result = sink.finish()
    finally:
        sink.close()
    log.debug(f"sniffed {result.kind} from the first bytes of {asset.name}")
    return verified, result


def _checked(
    spec: AssetSpec,
    target: Target,
    asset: ResolvedAsset,
    source: Source,
    verified: Verified,
    result: Unpacked,
    rules: Sequence[selection.Rule],
    work: Path,
    log: Log,
    shown_root: Path,
) -> Staged:
    """Place what was unpacked (files, destination), check ELF files, pick the executable."""
    unpack_dir = work / "unpack"
    archive = result.kind not in _LONE
    if rules and not archive:
        raise InstallError(
            f"'files' picks members of an archive, but {asset.name} is a single file "
            f"({result.kind})",
            hint="drop 'files' (use 'destination' to name the file)",
        )
    if rules:
        place, src = ".", work / "picked"
        src.mkdir()
        local = {}
        for key, member in sorted(selection.place(rules, result).items()):
            dest = src / key
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.link(unpack_dir / member, dest)  # a member may go to two places
            local[key] = dest
        files = tuple(sorted(local))
    elif archive:
        place = install_path(spec, archive)
        files = tuple(sorted(f"{place}/{f}".removeprefix("./") for f in result.files))
        local = {f"{place}/{f}".removeprefix("./"): unpack_dir / f for f in result.files}
        src = unpack_dir
    else:
        place = install_path(spec, archive)
        files = (place,)
        src = unpack_dir / spec.name
        local = {place: src}
    log.subprocess(f"Unpacked {result.kind}: {len(files)} file{'s' * (len(files) != 1)}")
    executables = []
    go: dict[str, GoBuild] = {}
    libc: list[tuple[str, str, str]] = []
    if files:
        from .elf import check as elf_check
        from .elf import check_abi
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
            warning = check_abi(info, target.distro, f"{asset.name}: {rel}", enforce=spec.abi_check)
            if warning:
                log.subprocess(f"Warning: {warning}")
            if info.go is not None:
                go[rel] = info.go
            if not info.static:
                libc.append((rel, *info.record()))
    main = pick_main(spec, executables)
    for rel in executables:
        log.subprocess(f"Installed {shown_root / rel}")
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
        etag=asset.etag if spec.tag == "latest" else "",
        go=tuple(sorted(go.items())),
        libc=tuple(libc),
    )
    return Staged(installed, src)


_prefetch_started = threading.Event()


def _prefetch_elf() -> None:
    """Import pyelftools on a thread of its own while the downloads run (once).

    The ELF check needs it only after a download, and its import costs about a tenth of
    a cold 256 MiB install; downloads spend their time in recv/sha256/write, which release
    the GIL. Started by the first ELF file an asset unpacks (its first bytes, as they
    arrive), never before: an asset without one never imports pyelftools at all, and
    earlier it would slow down the import of the HTTP stack that the first request waits
    for. An import of the same module elsewhere waits for this one to finish.
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
