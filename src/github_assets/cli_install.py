"""`github-assets install --dest DIR`: every entry of a config into a plain directory at its
destination path (DIR/bin/grpc_health_probe), for Dockerfiles, CI runners and dev
containers.

The same pipeline as the build (pipeline.py: resolve, fetch from the first source the
evidence allows, verify, prove, unpack, ELF check) with the same services (the lock beside
the config, mirrors, bindings, direct downloads, the API), into the other destination of
its result (destinations.Directory instead of a layer). No CNB file is written and no
cnb module imported. All or nothing: the assets are staged in a work dir inside DIR and
moved in only once every one of them is verified and checked; a failure leaves DIR as it
was (a work dir of a killed run is removed by the next one).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TextIO

from .config import AssetSpec
from .errors import BuildpackError, InstallError, about, os_error
from .log import Log, OrderedLog
from .platform import Target
from .settings import Settings


def install(
    specs: Sequence[AssetSpec],
    config_path: str,
    dest: str,
    target: Target,
    env: Mapping[str, str],
    out: TextIO,
) -> list[str]:
    """Install specs (read from config_path) for target into dest; the paths installed."""
    from . import install as staging
    from . import lock as lockfile
    from . import pipeline
    from .destinations import Directory
    from .parallel import run_all
    from .services import make_services

    settings = Settings.from_env(env)
    log = Log(out, debug=settings.debug)
    root = Path(os.path.abspath(dest))
    wanted = []
    for spec in specs:
        if spec.targets and str(target) not in spec.targets:
            log.process(f"Skipping {spec.repo} {spec.asset}: not available for {target} (targets)")
        else:
            if settings.require_provenance:
                from .provenance.spec import require

                require(spec.where, spec.provenance)
            wanted.append(spec)
    lock_path = lockfile.path_for(config_path)
    lock = lockfile.read(lock_path, os.path.relpath(lock_path), root=os.path.dirname(lock_path))
    if lock is not None:
        log.process(f"Using {os.path.relpath(lock.path)} ({len(lock.entries)} assets)")
    svc = make_services(env, settings, log, places=_places(env), lock=lock, own=specs)
    sources = [svc.source_for(spec) for spec in wanted]  # before any thread starts
    for source in sources:
        for secret in source.secrets:
            log.add_secret(secret)
    log.process(
        f"Installing {len(wanted)} asset{'s' * (len(wanted) != 1)} for {target} into {root}"
    )
    made = _make_dir(root)
    try:
        staging.remove_leftovers(root, log)
        cancel = threading.Event()
        ordered = OrderedLog(log)
        channels = [ordered.channel() for _ in wanted]

        def installer(i: int, work: Path) -> pipeline.Staged:
            job = pipeline.Job(
                spec=wanted[i],
                target=target,
                source=sources[i],
                log=channels[i],
                cancel=cancel,
                settings=settings,
                clock=svc.clock,
                proofs=tuple(svc.proofs_for(wanted[i])),
            )
            try:
                asset = pipeline.resolve(job)
                channels[i].subprocess(pipeline.resolved_line(asset))
                work.mkdir()
                return pipeline.install(job, asset, work=work, shown_root=root)
            finally:
                ordered.close(channels[i])

        with staging.work_dir(root, "--dest") as work:
            try:
                staged = run_all(
                    [partial(installer, i, work / f"asset-{i}") for i in range(len(wanted))],
                    settings.parallel,
                    cancel,
                )
            finally:
                ordered.close_all()
            into = Directory(root, work)
            for spec, one in zip(wanted, staged, strict=True):
                try:
                    into.place(one)
                except BuildpackError as e:
                    raise about(e, spec.where) from e
                except OSError as e:
                    raise about(os_error(e, f"stage {one.asset.name}"), spec.where) from e
            try:
                placed = into.commit()
            except OSError as e:
                raise os_error(e, f"install into {root}") from e
    except BaseException:
        for path in reversed(made):  # a --dest this run made goes again
            try:
                path.rmdir()
            except OSError:
                break
        raise
    log.process(f"Installed {len(placed)} file{'s' * (len(placed) != 1)} into {root}")
    return placed


def _places(env: Mapping[str, str]) -> tuple[Path, Path | None]:
    """(platform dir, buildpack dir) for the sources besides the API: bindings from
    SERVICE_BINDING_ROOT (or CNB_PLATFORM_DIR/bindings), the offline package of the
    unpacked buildpack this runs from (None when pip-installed: there is no buildpack)."""
    platform = Path(env.get("CNB_PLATFORM_DIR") or "/platform")
    buildpack = Path(__file__).resolve().parent.parent.parent
    return platform, buildpack if (buildpack / "buildpack.toml").is_file() else None


def _make_dir(root: Path) -> list[Path]:
    """Make root and its missing parents; the dirs made, parents first."""
    if root.exists() and not root.is_dir():
        raise InstallError(f"--dest {root} is not a directory", hint="name a directory")
    missing = [p for p in (root, *root.parents) if not p.exists()]
    made = []
    try:
        for path in reversed(missing):
            path.mkdir()
            made.append(path)
    except OSError as e:
        for path in reversed(made):
            path.rmdir()
        raise os_error(e, f"create the directory {root}") from e
    return made
