"""Installing layers: resolve, download, verify, unpack and check the assets, in parallel.

Assets are resolved, downloaded and unpacked on a bounded pool of threads
(BP_GITHUB_ASSETS_PARALLEL, default 8), each into its own dir of a work dir inside
the layers dir; their log lines are kept in config order (_Ordered). The first
failure cancels the others. Only when every asset verified and unpacked are the
layers put together (renames) and renamed in: a failed build leaves no half layer.

Imported by build.py only when some layer cannot be reused without the network.
"""

from __future__ import annotations

import io
import os
import posixpath
import stat
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from .build import WORK_PREFIX, Installed, LayerPlan, LayerResult, Services, reuse_reason, want_key
from .config import AssetSpec, token_for
from .errors import GitHubError, InstallError
from .log import Log, human_size
from .platform import Target, render

if TYPE_CHECKING:
    from .github import GitHub, Release, ReleaseAsset


def _api_url(spec: AssetSpec, env: Mapping[str, str]) -> str:
    from .github import DEFAULT_API

    return (spec.api_url or env.get("GITHUB_API_URL") or DEFAULT_API).rstrip("/")


class Resolved(NamedTuple):
    spec: AssetSpec
    token: str | None
    client: GitHub
    release: Release
    asset: ReleaseAsset


def _resolve(
    spec: AssetSpec,
    token: str | None,
    ctx_env: Mapping[str, str],
    target: Target,
    svc: Services,
    log: Log,
    cancel: threading.Event | None,
) -> Resolved:
    client = svc.github_for(_api_url(spec, ctx_env), token, log, cancel)
    release = client.release(spec.repo, spec.tag)
    name = render(spec.asset, target, release.tag, spec.replacement_map)
    asset = release.find(name)
    if asset is None:
        names = ", ".join(a.name for a in release.assets) or "none"
        raise GitHubError(
            f"{spec.where}: release {release.tag} of {spec.repo} has no asset {name!r}",
            hint="set 'asset' (and 'replacements' for {os}/{arch}) to one of the assets listed",
            details=f"assets of {spec.repo} {release.tag}: {names}",
        )
    return Resolved(spec, token, client, release, asset)


def _install_path(spec: AssetSpec, kind_is_archive: bool) -> str:
    """Layer-relative place: an archive's directory, or a raw file's path."""
    if kind_is_archive:
        return (spec.destination or ".").rstrip("/") or "."
    if spec.destination is None:
        return f"bin/{spec.name}"
    if spec.destination.endswith("/") or spec.destination == ".":
        return f"{spec.destination.rstrip('/')}/{spec.name}".lstrip("./") or spec.name
    return spec.destination


def _merge(src: Path, dest: Path, shown: str) -> None:
    """Move the tree at src into dest; a path that already exists there is a clash."""
    dest.mkdir(parents=True, exist_ok=True)
    for entry in sorted(src.iterdir()):
        target = dest / entry.name
        if (
            entry.is_dir()
            and not entry.is_symlink()
            and target.is_dir()
            and not target.is_symlink()
        ):
            _merge(entry, target, posixpath.join(shown, entry.name))
        elif target.exists() or target.is_symlink():
            clash = posixpath.normpath(posixpath.join(shown, entry.name))
            raise InstallError(
                f"two assets write the same path {clash} in the layer",
                hint="give one of them another 'destination' or 'layer'",
            )
        else:
            entry.rename(target)


def _pick_main(spec: AssetSpec, executables: Sequence[str], rel: str) -> str:
    if not executables:
        return ""
    for e in executables:
        if Path(e).name == spec.name:
            return e
    if len(executables) == 1:
        return executables[0]
    if spec.process or spec.link:
        raise InstallError(
            f"{spec.where}: the archive has {len(executables)} executables and none is named "
            f"{spec.name!r}, so 'process'/'link' cannot tell which to use",
            hint="name the asset after its executable or drop process/link",
            details="executables: " + ", ".join(executables),
        )
    return executables[0]


class _Unpacked(NamedTuple):
    """One asset unpacked and checked in its own dir of the work dir, not yet in a layer."""

    installed: Installed
    src: Path  # the dir (archive) or file (raw) to move to destination in the layer stage


def _install_asset(
    r: Resolved,
    work: Path,
    slot: str,
    target: Target,
    layers_dir: Path,
    svc: Services,
    log: Log,
    cancel: threading.Event | None,
) -> _Unpacked:
    """Download, verify and unpack one asset into work/unpack-<slot>, and check its ELF files.

    slot is unique per asset of the build (one asset may be installed into two layers).
    """
    from .archive import stream_unpack

    spec = r.spec
    started = svc.clock()
    log.subprocess(f"Downloading {r.asset.name} ({human_size(r.asset.size)})")
    _prefetch_elf()
    pin = spec.pin_for(target.arch)
    unpack_dir = work / f"unpack-{slot}"
    unpack_dir.mkdir()
    # Unpacked while it streams in, into unpack_dir (inside the work dir); finish() runs only
    # once size and checksum are verified, and nothing leaves the work dir before that.
    sink = stream_unpack(
        unpack_dir,
        strip_components=spec.strip_components,
        raw_path=spec.name,
        limits=svc.limits,
        spool=work / f"asset-{slot}",
    )
    try:
        fetched = svc.downloader().download(
            r.asset,
            token=r.token,
            api_host=r.client.api_host,
            sink=sink,
            pin=pin,
            log=log,
            cancel=cancel,
        )
        log.subprocess(
            f"Verified sha256:{fetched.sha256} ({fetched.verified_by}, {human_size(fetched.size)})"
        )
        result = sink.finish()
    finally:
        sink.close()
    archive = result.kind not in ("raw", "gzip", "xz", "bzip2")
    place = _install_path(spec, archive)
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
        shown = str(layers_dir / spec.layer_name / rel)
        info = elf_check(path, target.arch, rel)
        if st.st_mode & 0o111 or info is not None:
            executables.append(rel)
        if info is not None:
            linkage = "static" if info.static else f"dynamic, interpreter {info.interpreter}"
            log.action(f"ELF {info.machine} {linkage}: {shown}")
    main = _pick_main(spec, executables, place)
    for rel in executables:
        log.subprocess(f"Installed {layers_dir / spec.layer_name / rel}")
    log.subprocess(f"Done in {svc.clock() - started:.1f} s")
    installed = Installed(
        repo=spec.repo,
        tag=spec.tag,
        resolved_tag=r.release.tag,
        asset=r.asset.name,
        asset_id=r.asset.id,
        size=fetched.size,
        sha256=fetched.sha256,
        verified_by=fetched.verified_by,
        kind=result.kind,
        destination=place,
        strip_components=spec.strip_components,
        files=files,
        executables=tuple(executables),
        main=main,
        release_url=r.release.html_url,
        want=want_key(spec, target),
    )
    return _Unpacked(installed, src)


def _place_in_stage(done: _Unpacked, stage: Path) -> None:
    """Move an unpacked asset to its destination in the layer stage (renames, no copies)."""
    place = done.installed.destination
    if done.installed.kind not in ("raw", "gzip", "xz", "bzip2"):
        _merge(done.src, stage / place, place)
        return
    dest = stage / place
    if dest.exists() or dest.is_symlink():
        raise InstallError(
            f"two assets write the same path {place} in the layer",
            hint="give one of them another 'destination' or 'layer'",
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    done.src.rename(dest)


T = TypeVar("T")


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


class _Layer:
    """A layer being decided or installed: its plan, and per asset what became of it."""

    def __init__(self, plan: LayerPlan) -> None:
        self.plan = plan
        self.name = plan.name
        self.specs = plan.specs
        self.previous = plan.previous
        self.tokens: list[str | None] = [None] * len(plan.specs)
        self.resolved: list[Resolved | None] = [None] * len(plan.specs)
        self.head: Log | None = None  # Layer, Wants, Installing/Reusing
        self.res: list[Log] = []  # per asset: resolving
        self.inst: list[Log] = []  # per asset: installing
        self.reused: tuple[Installed, ...] | None = None
        self.unpacked: list[_Unpacked] = []


def install(
    plans: Sequence[LayerPlan],
    *,
    layers_dir: Path,
    env: Mapping[str, str],
    target: Target,
    svc: Services,
) -> list[LayerResult]:
    """Reuse or install each layer (see _Builder)."""
    return _Builder([_Layer(p) for p in plans], layers_dir, env, target, svc).run()


class _Builder:
    """Decide reuse per layer, then resolve+download+unpack what is not reused, in parallel.

    1. (only for `latest` tags with a previous layer) resolve them, in parallel;
    2. per layer, in order: reuse it (no network for pinned tags) or install it;
    3. every asset of every installed layer: resolve (if not done), download, verify and
       unpack into its own dir of the work dir, check ELF files; in parallel;
    4. only when all succeeded: per layer, move its assets into a stage dir and rename
       the stage in as the layer.
    """

    def __init__(
        self,
        plans: Sequence[_Layer],
        layers_dir: Path,
        env: Mapping[str, str],
        target: Target,
        svc: Services,
    ) -> None:
        self.plans = plans
        self.layers_dir = layers_dir
        self.env = env
        self.target = target
        self.svc = svc
        self.cancel = threading.Event()
        self.out = _Ordered(svc.log)
        self.work: Path | None = None

    def run(self) -> list[LayerResult]:
        try:
            try:
                return self._run()
            finally:
                self.cancel.set()
                self.out.close_all()
        finally:
            if self.work is not None:
                import shutil

                shutil.rmtree(self.work, ignore_errors=True)

    def _run(self) -> list[LayerResult]:
        target, out = self.target, self.out
        for plan in self.plans:
            plan.head = out.channel()
            plan.res = [out.channel() for _ in plan.specs]
            plan.inst = [out.channel() for _ in plan.specs]
            plan.plan.log_head(plan.head)

        # 1. With only pinned tags, the decision to reuse needs no network at all.
        latest = [
            (plan, i)
            for plan in self.plans
            if plan.previous is not None
            for i, spec in enumerate(plan.specs)
            if spec.tag == "latest"
        ]
        self._tokens(latest)
        found = self._parallel([self._resolver(plan, i) for plan, i in latest])
        for (plan, i), r in zip(latest, found, strict=True):
            plan.resolved[i] = r

        # 2. Reuse or install, layer by layer.
        installing: list[_Layer] = []
        for plan in self.plans:
            assert plan.head is not None
            layer_dir = self.layers_dir / plan.name
            plan.reused, reason = reuse_reason(
                plan.specs, plan.previous, layer_dir.is_dir(), plan.resolved, target
            )
            if plan.reused is not None:
                plan.plan.log_reused(plan.head, self.layers_dir, plan.reused, reason)
            else:
                plan.head.subprocess(f"Installing: {reason}")
                installing.append(plan)
            out.close(plan.head)

        # 3. Resolve, download, verify, unpack: every asset of the layers to install.
        if installing:
            import tempfile

            self.work = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=self.layers_dir))
            jobs = [(plan, i) for plan in installing for i in range(len(plan.specs))]
            self._tokens(jobs)
            done = self._parallel([self._installer(plan, i) for plan, i in jobs])
            for (plan, _), unpacked in zip(jobs, done, strict=True):
                plan.unpacked.append(unpacked)
            out.close_all()

        # 4. Every asset is verified and unpacked: build the layers and rename them in.
        results = []
        for plan in self.plans:
            if plan.reused is not None:
                results.append(plan.plan.result(target, plan.reused, reused=True))
                continue
            assert self.work is not None
            stage = self.work / f"layer-{plan.name}"
            stage.mkdir(mode=0o755)
            stage.chmod(0o755)
            for unpacked in plan.unpacked:
                _place_in_stage(unpacked, stage)
            installed = tuple(u.installed for u in plan.unpacked)
            results.append(plan.plan.result(target, installed, reused=False))
        for plan in installing:
            assert self.work is not None
            layer_dir = self.layers_dir / plan.name
            if layer_dir.exists() or layer_dir.is_symlink():
                # Two renames, not an rmtree: a kill in between never leaves a half-deleted layer.
                os.replace(layer_dir, self.work / f"previous-{plan.name}")
            os.replace(self.work / f"layer-{plan.name}", layer_dir)
        return results

    def _tokens(self, assets: Sequence[tuple[_Layer, int]]) -> None:
        """The tokens of the assets about to be resolved, known to every log before any
        thread starts (no log learns a secret while another thread writes a line)."""
        for plan, i in assets:
            token = plan.tokens[i] = token_for(plan.specs[i], self.env)
            self.out.add_secret(token)

    def _resolver(self, plan: _Layer, i: int) -> Callable[[], Resolved]:
        def job() -> Resolved:
            try:
                return _resolve(
                    plan.specs[i],
                    plan.tokens[i],
                    self.env,
                    self.target,
                    self.svc,
                    plan.res[i],
                    self.cancel,
                )
            finally:
                self.out.close(plan.res[i])

        return job

    def _installer(self, plan: _Layer, i: int) -> Callable[[], _Unpacked]:
        def job() -> _Unpacked:
            res, inst = plan.res[i], plan.inst[i]
            try:
                r = plan.resolved[i]
                if r is None:
                    r = _resolve(
                        plan.specs[i],
                        plan.tokens[i],
                        self.env,
                        self.target,
                        self.svc,
                        res,
                        self.cancel,
                    )
                res.subprocess(
                    f"Resolved {r.spec.repo} {r.release.tag}: {r.asset.name} "
                    f"(asset {r.asset.id}, {human_size(r.asset.size)})"
                )
            finally:
                self.out.close(res)
            try:
                assert self.work is not None
                slot = f"{self.plans.index(plan)}-{i}"
                return _install_asset(
                    r, self.work, slot, self.target, self.layers_dir, self.svc, inst, self.cancel
                )
            finally:
                self.out.close(inst)

        return job

    def _parallel(self, jobs: Sequence[Callable[[], T]]) -> list[T]:
        """Run jobs on up to svc.parallel threads; results in order, or the first failure.

        The first job to fail sets cancel: the others stop at their next chunk, request
        or wait (Cancelled), and jobs not started never start. Then its error is raised.
        """
        workers = min(self.svc.parallel, len(jobs))
        if workers <= 1:
            return [job() for job in jobs]
        from concurrent.futures import ThreadPoolExecutor

        from .github import Cancelled

        failures: list[BaseException] = []
        lock = threading.Lock()

        def guarded(job: Callable[[], T]) -> Callable[[], T]:
            def run() -> T:
                if self.cancel.is_set():
                    raise Cancelled
                try:
                    return job()
                except BaseException as err:
                    with lock:
                        if not isinstance(err, Cancelled):
                            failures.append(err)
                    self.cancel.set()
                    raise

            return run

        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="github-assets")
        results: list[T] = []
        try:
            futures = [pool.submit(guarded(job)) for job in jobs]
            for future in futures:
                try:
                    results.append(future.result())
                except Exception:  # recorded in failures (or cancelled because of one)
                    break
        except BaseException:  # interrupted while waiting: stop the jobs, then go
            self.cancel.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if failures:
            raise failures[0]
        if len(results) != len(jobs):
            raise AssertionError("a job was cancelled with no failure to report")
        return results


class _Ordered:
    """Log lines of parallel jobs, whole and in a fixed order.

    Channels are made in the order their lines must appear. The first channel not yet
    closed writes through (its progress lines show as they happen); later ones keep their
    lines until every channel before them is closed.
    """

    def __init__(self, log: Log) -> None:
        self._log = log
        self._lock = threading.Lock()
        self._channels: list[Log] = []
        self._held: list[list[str]] = []
        self._closed: list[bool] = []
        self._head = 0

    def channel(self) -> Log:
        index = len(self._channels)
        channel = Log(_ChannelOut(self, index), debug=self._log.debugging)
        self._channels.append(channel)
        self._held.append([])
        self._closed.append(False)
        return channel

    def add_secret(self, secret: str | None) -> None:
        self._log.add_secret(secret)
        for channel in self._channels:
            channel.add_secret(secret)

    def emit(self, index: int, line: str) -> None:
        with self._lock:
            if index == self._head:
                self._log.title(line)
            else:
                self._held[index].append(line)

    def close(self, channel: Log) -> None:
        with self._lock:
            self._closed[self._channels.index(channel)] = True
            self._advance()

    def close_all(self) -> None:
        with self._lock:
            self._closed = [True] * len(self._closed)
            self._advance()

    def _advance(self) -> None:
        while self._head < len(self._closed):
            for line in self._held[self._head]:
                self._log.title(line)
            self._held[self._head] = []
            if not self._closed[self._head]:
                return
            self._head += 1


class _ChannelOut(io.StringIO):
    """The stream of one channel's Log: whole lines go to _Ordered."""

    def __init__(self, ordered: _Ordered, index: int) -> None:
        super().__init__()
        self._ordered = ordered
        self._index = index
        self._partial = ""

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            self._ordered.emit(self._index, line)
        return len(text)
