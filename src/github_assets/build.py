"""Build: install every github-assets plan entry into launch layers, or reuse them.

Orchestration only, over collaborators passed in (Services: the sources, settings,
clock, log). It computes a BuildResult; the runner writes the CNB files. Per layer:
decide reuse (layers.py; the network only to ask what `latest` is now), then run the
asset pipeline (pipeline.py) for every asset of the layers to install, in parallel,
and stage and rename those layers in (install.py) once every asset succeeded.

A rebuild whose layers are all reused and whose tags are pinned makes no request and
imports neither the HTTP stack nor pyelftools, nor the pipeline (checksums, archives).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from . import BUILDPACK_ID, install, layerpath
from .cnb.files import Label, LayerToml, Process, json_text
from .cnb.sbom import Component
from .config import AssetSpec
from .errors import BuildpackError, ConfigError, about
from .layers import Install, Installed, LayerPlan, LayerResult, Reuse
from .log import Log, OrderedLog
from .platform import Target
from .record import Record
from .services import Services

if TYPE_CHECKING:
    import threading
    from pathlib import Path

    from . import pipeline
    from .pipeline import ResolvedAsset, Source
    from .platform import StrPath


class Link(Record):
    """A symlink to make in the app dir: `path` (relative to it) -> `target` (absolute)."""

    where: str
    path: str
    target: str


class BuildResult(Record):
    layers: tuple[LayerResult, ...]
    processes: tuple[Process, ...]
    labels: tuple[Label, ...]
    links: tuple[Link, ...]
    stale: tuple[str, ...]  # layer names to delete
    sbom_components: Mapping[str, tuple[Component, ...]] = {}


def check_conflicts(specs: Sequence[AssetSpec]) -> None:
    """Config clashes that no download can fix: same process type, same link, same raw path."""
    seen: dict[tuple[str, str], AssetSpec] = {}
    for spec in specs:
        keys = []
        if spec.process:
            keys.append(("process", spec.process))
        if spec.link:
            keys.append(("link", spec.link))
        if spec.destination and not spec.destination.endswith("/"):
            keys.append(("destination", f"{spec.layer_name}/{spec.destination}"))
        for key in keys:
            other = seen.get(key)
            if other is not None:
                raise ConfigError(
                    f"{spec.where}: '{key[0]}' {key[1]!r} is also used by {other.where}",
                    hint="give each asset its own",
                )
            seen[key] = spec


class _Job:
    """One asset of one layer, with the log channels its lines go to, in config order."""

    def __init__(self, plan: LayerPlan, spec: AssetSpec, out: OrderedLog) -> None:
        self.plan = plan
        self.spec = spec
        self.resolving = out.channel()
        self.installing = out.channel()
        self.source: Source | None = None
        self.resolved: ResolvedAsset | None = None


class _Builder:
    def __init__(
        self, plans: Sequence[LayerPlan], layers_dir: str, target: Target, svc: Services
    ) -> None:
        self.layers_dir = layers_dir
        self.target = target
        self.svc = svc
        self.out = OrderedLog(svc.log)
        self.heads: dict[str, Log] = {}
        self.jobs: dict[str, list[_Job]] = {}
        for plan in plans:
            self.heads[plan.name] = head = self.out.channel()
            self.jobs[plan.name] = [_Job(plan, spec, self.out) for spec in plan.specs]
            plan.log_head(head)
        self.plans = plans

    @cached_property
    def cancel(self) -> threading.Event:
        """Set when the build ends or an asset fails: the other threads stop. Made when
        first used: a rebuild that reuses every layer starts no thread, nor imports threading."""
        import threading

        return threading.Event()

    def run(self) -> list[LayerResult]:
        try:
            return self._run()
        finally:
            if "cancel" in self.__dict__:  # made: some thread may still be at work
                self.cancel.set()
            self.out.close_all()

    def _run(self) -> list[LayerResult]:
        # 1. Only the API knows what `latest` is now: ask it for previous layers of latest
        # tags, unless the lock says what it is (then the lock decides, with no request).
        self._resolve(
            [
                job
                for plan in self.plans
                if plan.needs_network_to_decide
                for job in self.jobs[plan.name]
                if job.spec.tag == "latest" and self.svc.locked(job.spec, self.target) is None
            ]
        )
        # 2. Reuse or install, layer by layer: the one place that decides.
        decided: dict[str, Reuse | Install] = {}
        for plan in self.plans:
            head = self.heads[plan.name]
            resolved = [job.resolved for job in self.jobs[plan.name]]
            decision = decided[plan.name] = plan.decide(
                os.path.join(self.layers_dir, plan.name),
                resolved,
                self.target,
                head,
                require_checksum=self.svc.settings.require_checksum,
                locked=[self.svc.locked(spec, self.target) for spec in plan.specs],
            )
            if isinstance(decision, Reuse):
                plan.log_reused(head, self.layers_dir, decision)
                check_reused_abi(plan.specs, decision.assets, self.target, head)
            else:
                head.subprocess(f"Installing: {decision.cause}")
            self.out.close(head)
        # 3. Every asset of the layers to install: through the pipeline, in parallel.
        installing = [p for p in self.plans if isinstance(decided[p.name], Install)]
        installed = self._install(installing) if installing else {}
        return [
            plan.result(self.target, decision.assets, reused=True)
            if isinstance(decision, Reuse)
            else installed[plan.name]
            for plan in self.plans
            for decision in (decided[plan.name],)
        ]

    def _sources(self, jobs: Sequence[_Job]) -> None:
        """Each job's source, and its secrets known to every log, before any thread starts."""
        for job in jobs:
            if job.source is None:
                job.source = self.svc.source_for(job.spec)
                for secret in job.source.secrets:
                    self.svc.log.add_secret(secret)

    def _resolve(self, jobs: Sequence[_Job]) -> None:
        if not jobs:
            return  # pinned tags, or the lock says what `latest` is: no request to make
        from .parallel import run_all

        self._sources(jobs)
        found = run_all([self._resolver(j) for j in jobs], self.svc.settings.parallel, self.cancel)
        for job, asset in zip(jobs, found, strict=True):
            job.resolved = asset

    def _resolver(self, job: _Job) -> Callable[[], ResolvedAsset | None]:
        """What `latest` is now; None when the API says (304) it is what the layer holds."""
        from . import pipeline

        etag = job.plan.previous_etag(job.spec)

        def run() -> ResolvedAsset | None:
            try:
                return pipeline.resolve(self._job(job, job.resolving), etag)
            except pipeline.Unchanged:
                job.resolving.subprocess(f"{job.spec.repo} latest: unchanged (HTTP 304)")
                return None
            finally:
                self.out.close(job.resolving)

        return run

    def _install(self, plans: Sequence[LayerPlan]) -> dict[str, LayerResult]:
        from pathlib import Path  # the pipeline's paths: a rebuild that reuses all installs none

        from .parallel import run_all

        jobs = [job for plan in plans for job in self.jobs[plan.name]]
        self._sources(jobs)
        with install.work_dir(self.layers_dir) as work:
            staged = run_all(
                [self._installer(job, work / f"asset-{i}") for i, job in enumerate(jobs)],
                self.svc.settings.parallel,
                self.cancel,
            )
            self.out.close_all()
            by_job = dict(zip(map(id, jobs), staged, strict=True))
            results, stages = {}, {}
            for plan in plans:
                mine = [(job.spec.where, by_job[id(job)]) for job in self.jobs[plan.name]]
                stages[plan.name] = install.stage_layer(
                    plan.name, mine, work, Path(self.layers_dir, plan.name)
                )
                assets = tuple(
                    Installed.from_staged(spec, self.target, staged)
                    for spec, (_, staged) in zip(plan.specs, mine, strict=True)
                )
                results[plan.name] = plan.result(self.target, assets, reused=False)
            install.rename_in(self.layers_dir, stages, work)
        return results

    def _installer(self, job: _Job, work: Path) -> Callable[[], pipeline.Staged]:
        from pathlib import Path

        from . import pipeline

        def run() -> pipeline.Staged:
            try:
                asset = job.resolved or pipeline.resolve(self._job(job, job.resolving))
                job.resolving.subprocess(pipeline.resolved_line(asset))
            finally:
                self.out.close(job.resolving)
            try:
                work.mkdir()
                return pipeline.install(
                    self._job(job, job.installing),
                    asset,
                    work=work,
                    shown_root=Path(self.layers_dir, job.plan.name),
                )
            finally:
                self.out.close(job.installing)

        return run

    def _job(self, job: _Job, log: Log) -> pipeline.Job:
        """The pipeline's view of one asset's work, logging to one of its channels."""
        from . import pipeline

        assert job.source is not None
        return pipeline.Job(
            spec=job.spec,
            target=self.target,
            source=job.source,
            log=log,
            cancel=self.cancel,
            settings=self.svc.settings,
            clock=self.svc.clock,
            proofs=tuple(self.svc.proofs_for(job.spec)),
        )


def check_reused_abi(
    specs: Sequence[AssetSpec], assets: Sequence[Installed], target: Target, log: Log
) -> None:
    """A reused layer's dynamic files against this build's run image (a rebuild may target
    another one): the same error or warning as when they were installed."""
    for spec, inst in zip(specs, assets, strict=True):
        for file, interpreter, glibc in inst.libc:
            from .elf import ElfInfo, check_abi  # here: static executables need no ELF check

            info = ElfInfo.recorded(interpreter, glibc)
            try:
                warning = check_abi(
                    info, target.distro, f"{inst.asset}: {file}", enforce=spec.abi_check
                )
            except BuildpackError as e:
                raise about(e, spec.where) from e
            if warning:
                log.subprocess(f"Warning: {warning}")


def build(
    specs: Sequence[AssetSpec],
    *,
    layers_dir: StrPath,
    target: Target,
    previous: Mapping[str, LayerToml | None],
    existing: Sequence[str],
    svc: Services,
) -> BuildResult:
    """Install or reuse each layer; return what the runner must write."""
    check_conflicts(specs)
    by_layer: dict[str, list[AssetSpec]] = {}
    for spec in specs:
        if spec.targets and str(target) not in spec.targets:
            svc.log.process(
                f"Skipping {spec.repo} {spec.shown_asset}: not available for {target} (targets)"
            )
            continue
        if svc.settings.require_provenance:
            from .provenance.spec import require

            require(spec.where, spec.provenance)
        by_layer.setdefault(spec.layer_name, []).append(spec)
    install.remove_leftovers(layers_dir, svc.log)
    plans = [LayerPlan(name, group, previous.get(name)) for name, group in by_layer.items()]
    layers = _Builder(plans, os.fspath(layers_dir), target, svc).run()
    return _launch(layers, by_layer, layers_dir, existing, svc.log)


def _launch(
    layers: Sequence[LayerResult],
    by_layer: Mapping[str, Sequence[AssetSpec]],
    layers_dir: StrPath,
    existing: Sequence[str],
    log: Log,
) -> BuildResult:
    """Processes, labels, links and SBOM components of the installed assets."""
    processes: list[Process] = []
    labels_data: list[dict[str, Any]] = []
    path_labels: dict[str, str] = {}
    links: list[Link] = []
    sbom: dict[str, tuple[Component, ...]] = {}
    for layer in layers:
        sbom[layer.name] = tuple(
            Component(a.repo, a.resolved_tag, a.asset, a.sha256, a.release_url, a.source, a.go)
            for a in layer.assets
        )
        on_path = layerpath.dirs(e for a in layer.assets for e in a.executables)
        if on_path:
            shown = layerpath.value(os.path.join(layers_dir, layer.name), on_path)
            log.subprocess(f"On PATH from layer {layer.name}: {shown} ({layerpath.FILES[0]})")
        for spec, inst in zip(by_layer[layer.name], layer.assets, strict=True):
            abs_main = os.path.join(layers_dir, layer.name, inst.main) if inst.main else ""
            if spec.process:
                processes.append(Process(spec.process, (abs_main,), spec.args, False))
                log.subprocess(f"Process {spec.process}: {' '.join([abs_main, *spec.args])}")
            if spec.link:
                links.append(Link(spec.where, spec.link, abs_main))
            abs_exes = [os.path.join(layers_dir, layer.name, e) for e in inst.executables]
            for e in abs_exes:
                path_labels.setdefault(os.path.basename(e), e)
            labels_data.append(
                {
                    "repo": inst.repo,
                    "tag": inst.resolved_tag,
                    "asset": inst.asset,
                    "sha256": inst.sha256,
                    "source": inst.source,
                    "layer": layer.name,
                    "executables": abs_exes,
                }
            )
    prefix = BUILDPACK_ID.replace("/", ".")
    labels = [Label(f"{prefix}.installed", json_text(labels_data))]
    labels += [Label(f"{prefix}.path.{n}", p) for n, p in sorted(path_labels.items())]
    wanted = {layer.name for layer in layers}
    return BuildResult(
        layers=tuple(layers),
        processes=tuple(processes),
        labels=tuple(labels),
        links=tuple(links),
        stale=tuple(n for n in existing if n not in wanted),
        sbom_components=sbom,
    )
