"""The build runner: reads the CNB environment, calls build(), writes every CNB file.

Paths are str and os.path here, as in every module a rebuild that reuses every layer
imports: pathlib (with the urllib.parse and ipaddress it imports) would cost it ~14M
instructions, a tenth of it (docs/performance.md)."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from . import BUILDPACK_ID, __version__, redact
from .build import BuildResult, Link, build
from .cnb.files import existing_layers, read_layer, write_launch, write_layer
from .cnb.plan import PROVIDES, read_buildpack_plan
from .cnb.sbom import write_sboms
from .config import LOCK_FILE, AssetSpec, config_path, load_config_file, load_project, parse_entry
from .errors import BuildpackError, ConfigError, InstallError, about, os_error
from .log import Log
from .platform import Target, target_from_env
from .record import Record
from .services import make_services
from .settings import Settings

if TYPE_CHECKING:
    from .lock import Lock

# Plan metadata written by bin/detect's sh path: the config file for build to read.
CONFIG_FILE = "config_file"


class BuildContext(Record):
    app_dir: str
    buildpack_dir: str
    platform_dir: str
    layers_dir: str
    plan_path: str
    env: Mapping[str, str]
    target: Target


def _pick(env: Mapping[str, str], name: str, args: Sequence[str], index: int, phase: str) -> str:
    value = env.get(name) or (args[index] if len(args) > index else "")
    if not value:
        raise BuildpackError(
            f"{phase}: {name} is not set and no positional argument gives it",
            hint="run this under a CNB lifecycle (Buildpack API 0.10)",
        )
    return value


def build_context(
    args: Sequence[str], env: Mapping[str, str], cwd: str, default_bp_dir: str
) -> BuildContext:
    """API 0.10 build: bin/build <layers> <platform> <plan>, or the CNB_* variables."""
    return BuildContext(
        app_dir=cwd,
        buildpack_dir=env.get("CNB_BUILDPACK_DIR") or default_bp_dir,
        layers_dir=_pick(env, "CNB_LAYERS_DIR", args, 0, "build"),
        platform_dir=_pick(env, "CNB_PLATFORM_DIR", args, 1, "build"),
        plan_path=_pick(env, "CNB_BP_PLAN_PATH", args, 2, "build"),
        env=env,
        target=target_from_env(env),
    )


def plan_specs(ctx: BuildContext) -> list[AssetSpec]:
    """Specs of the github-assets plan entries, ours and other buildpacks', deduplicated.

    An entry equal to one in the app's config keeps that config's name for errors.
    """
    try:
        own = {s: s for s in load_project(ctx.app_dir, ctx.env)}
    except ConfigError:  # detect already judged the config; here it only names entries
        own = {}
    out: list[AssetSpec] = []
    for i, entry in enumerate(read_buildpack_plan(ctx.plan_path), 1):
        if entry.name != PROVIDES or not entry.metadata:
            continue  # an entry without metadata only asks for this buildpack to be present
        if set(entry.metadata) == {CONFIG_FILE}:
            # bin/detect ran without python3: it named the config file, we read it now.
            specs = load_config_file(ctx.app_dir, str(entry.metadata[CONFIG_FILE]))
        else:
            spec = parse_entry(entry.metadata, f"buildpack plan entry #{i} ({PROVIDES})")
            specs = [own.get(spec, spec)]  # equal specs compare equal whatever their `where`
        out += [s for s in specs if s not in out]
    return out


def read_lock(ctx: BuildContext, specs: Sequence[AssetSpec]) -> tuple[Lock | None, list[AssetSpec]]:
    """The lock beside the app's config file, and which specs are the config's own."""
    try:
        path, shown, _ = config_path(ctx.app_dir, ctx.env)
    except ConfigError:  # detect judged it already; the plan entries say what to install
        return None, []
    if not os.path.isfile(path):
        return None, []
    own = [s for s in specs if s.where.startswith(f"{shown}: ")]
    lock_path = os.path.join(os.path.dirname(path), LOCK_FILE)
    if not os.path.lexists(lock_path):
        return None, own  # most apps have no lock: its module (and its json) is not imported
    from . import lock as lockfile

    shown = os.path.relpath(lock_path, ctx.app_dir)
    return lockfile.read(lock_path, shown, root=str(ctx.app_dir)), own


def check_link(app_dir: str, link: Link, target: str | None) -> bool:
    """Whether link is in place already; an InstallError when making it would write outside
    the app dir (through a symlink), replace a file, or cannot work (a file as parent, an
    unwritable dir). target None: not known yet (before the build), judged again after.
    """
    path, parts = app_dir, link.path.split("/")
    for i, part in enumerate(parts):
        path, shown, last = os.path.join(path, part), "/".join(parts[: i + 1]), i == len(parts) - 1
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            _check_writable(os.path.dirname(path), link)
            return False
        except OSError as e:
            raise about(os_error(e, f"check the link path {link.path}"), link.where) from e
        if stat.S_ISLNK(mode) and not last:
            raise InstallError(
                f"{link.where}: 'link' {link.path} passes through {shown}, "
                "a symlink in the app dir",
                hint="nothing is created outside the app dir; "
                "choose a 'link' path without symlinks",
            )
        if stat.S_ISLNK(mode) and (target is None or os.readlink(path) == target):
            return target is not None
        if last:
            raise InstallError(
                f"{link.where}: 'link' {link.path}: the app dir already has a different file there",
                hint="remove it from the app or choose another 'link' path",
            )
        if not stat.S_ISDIR(mode):
            raise InstallError(
                f"{link.where}: 'link' {link.path}: {shown} in the app dir is not a directory",
                hint="choose another 'link' path",
            )
    return False


def _check_writable(directory: str, link: Link) -> None:
    while not os.path.exists(directory) and directory != os.path.dirname(directory):
        directory = os.path.dirname(directory)
    if not os.access(directory, os.W_OK):
        raise InstallError(
            f"{link.where}: 'link' {link.path}: the app dir {directory} is not writable",
            hint="make the app dir writable for the build user, or drop 'link'",
        )


def write_result(ctx: BuildContext, result: BuildResult) -> list[str]:
    """The one place that writes CNB files (and the app-dir links); the links it made.

    Links are checked before anything is written. When a write fails, what this build
    installed is taken away again (layers, their tomls, launch.toml, links), so no layer
    is left without its toml or the reverse, and the error is one line.
    """
    fresh = [layer.name for layer in result.layers if not layer.reused]
    try:
        pending = [link for link in result.links if not check_link(ctx.app_dir, link, link.target)]
    except InstallError:
        # A link's target is known only now (a symlink already there may point elsewhere):
        # the layers build() put in place go again, none is left without its toml.
        roll_back(ctx.layers_dir, fresh)
        raise
    made: list[tuple[str, bool]] = []  # (path, a dir)
    doing, entry = "write the build's results (layer metadata, launch.toml, links)", ""
    try:
        for name in result.stale:
            from .install import take_away

            take_away(ctx.layers_dir, name)
        for layer in result.layers:
            write_layer(ctx.layers_dir, layer.name, layer.toml)
            components = result.sbom_components.get(layer.name, ())
            write_sboms(ctx.layers_dir, layer.name, BUILDPACK_ID, __version__, components)
        write_launch(ctx.layers_dir, list(result.processes), list(result.labels))
        for link in pending:
            # The OS names the symlink's target, not the link: say which link of which entry.
            doing, entry = f"make the link {link.path} in the app dir", link.where
            path = os.path.join(ctx.app_dir, link.path)
            for directory in _missing_parents(path):
                os.mkdir(directory)
                made.append((directory, True))
                # 0755 whatever the umask: the image's run user is not the build user and
                # must traverse these to reach the link (as destinations.make_dirs does).
                os.chmod(directory, 0o755)  # noqa: S103 (a directory others must traverse)
            os.symlink(link.target, path)
            made.append((path, False))
    except OSError as e:
        roll_back(ctx.layers_dir, fresh)
        with contextlib.suppress(OSError):  # the first failure is the one to report
            os.unlink(os.path.join(ctx.layers_dir, "launch.toml"))
        for path, is_dir in reversed(made):
            with contextlib.suppress(OSError):
                os.rmdir(path) if is_dir else os.unlink(path)
        error = os_error(e, doing)
        raise (about(error, entry) if entry else error) from e
    return [os.path.join(ctx.app_dir, link.path) for link in pending]


def _missing_parents(path: str) -> list[str]:
    """The directories above path that do not exist, outermost first."""
    missing = []
    parent = os.path.dirname(path)
    while not os.path.exists(parent) and parent != os.path.dirname(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    return missing[::-1]


def roll_back(layers_dir: str, names: Sequence[str]) -> None:
    """Take away layers this build installed (best effort): a layer the OS will not let
    go of stays whole, dir and toml, never one without the other (install.take_away)."""
    from .install import take_away

    for name in names:
        with contextlib.suppress(OSError):
            take_away(layers_dir, name)


def run_build(args: Sequence[str], env: Mapping[str, str], bp_dir: str) -> int:
    ctx = build_context(args, env, os.getcwd(), bp_dir)
    # Before the first line: what env and the bindings hold is never printed nor written.
    redact.environment(env)
    redact.bindings(env.get("SERVICE_BINDING_ROOT") or os.path.join(ctx.platform_dir, "bindings"))
    settings = Settings.from_env(env)  # a bad knob fails before anything is written
    log = Log(sys.stdout, debug=settings.debug)
    log.title(f"GitHub Release Assets {__version__}")
    specs = plan_specs(ctx)
    log.process(f"Target {ctx.target}, {len(specs)} asset{'s' * (len(specs) != 1)}")
    if not (env.get("CNB_TARGET_OS") and env.get("CNB_TARGET_ARCH")):
        # Platform API < 0.12 (kpack) gives buildpacks no run-image target: say whose it is
        log.debug("CNB_TARGET_OS/CNB_TARGET_ARCH not set by the platform: the build host's apply")
    lock, own = read_lock(ctx, specs)
    if lock is not None:
        log.process(f"Using {os.path.relpath(lock.path, ctx.app_dir)} ({len(lock.entries)} assets)")
    existing = existing_layers(ctx.layers_dir)
    for link in links_of(specs):  # before any download: a bad link path fails fast
        check_link(ctx.app_dir, link, None)
    try:
        os.makedirs(ctx.layers_dir, exist_ok=True)
    except OSError as e:
        raise os_error(e, f"create the layers dir {ctx.layers_dir}") from e
    result = build(
        specs,
        layers_dir=ctx.layers_dir,
        target=ctx.target,
        previous={name: read_layer(ctx.layers_dir, name) for name in existing},
        existing=existing,
        svc=make_services(
            env, settings, log, places=(ctx.platform_dir, ctx.buildpack_dir), lock=lock, own=own
        ),
    )
    for name in result.stale:
        log.process(f"Removing stale layer {name}")
    write_result(ctx, result)
    for link in result.links:
        log.process(f"Linked {os.path.join(ctx.app_dir, link.path)} -> {link.target}")
    log_probe_commands(ctx.app_dir, specs, result, log)
    return 0


def log_probe_commands(
    app_dir: str, specs: Sequence[AssetSpec], result: BuildResult, log: Log
) -> None:
    """`Probe command: [...]` for each entry with process or link: the link's path when
    there is one (short, and the same whatever buildpack installed it), else the layer path."""
    links = {link.where: link for link in result.links}
    commands = {p.type: p.command[0] for p in result.processes}
    for spec in specs:
        link = links.get(spec.where)
        path = os.path.join(app_dir, link.path) if link else commands.get(spec.process or "")
        if path:
            from .probes import command  # here: most builds have neither process nor link

            log.process(f"Probe command: {command(path, spec.args)}")


def links_of(specs: Sequence[AssetSpec]) -> list[Link]:
    return [Link(s.where, s.link, "") for s in specs if s.link]
