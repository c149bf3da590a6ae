"""The `github-assets` command: one table of verbs (VERBS), each its arguments and its run.

    github-assets lock [--config project.toml] [--target linux/amd64 ...] [--check]
    github-assets check [--config project.toml]
    github-assets install [--config project.toml] [--target os/arch] --dest DIR

Run as `python3 -m github_assets` from the source tree or the unpacked buildpack, or as
`github-assets` once pip-installed. Exit codes: 0, 1 (an error: one line, as the build
prints them), 2 (usage). A new verb is one more entry of VERBS (its code in a module of
its own when it is more than a few lines, imported when it runs).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple, TextIO, cast

from . import __version__, redact
from . import lock as lockfile
from .config import AssetSpec, config_path, load_project, parse_project
from .errors import BuildpackError, ConfigError, os_error, report
from .log import Log
from .platform import Target, render
from .probes import command as probe_command
from .probes import launch_paths


class Verb(NamedTuple):
    """One verb of the command: its help line, its arguments, and what runs it."""

    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Mapping[str, str], TextIO], int]


def _config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="the config file (default: project.toml)")


def _lock_arguments(parser: argparse.ArgumentParser) -> None:
    _config_argument(parser)
    parser.add_argument(
        "--target",
        action="append",
        default=None,
        type=_target,
        help="os/arch to lock (repeat; default: linux/amd64 and linux/arm64)",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when the lock is missing or stale"
    )


def _install_arguments(parser: argparse.ArgumentParser) -> None:
    _config_argument(parser)
    parser.add_argument(
        "--target",
        type=_target,
        default=None,
        help="os/arch to install for (default: this machine)",
    )
    parser.add_argument(
        "--dest", required=True, help="the directory to install into (made when missing)"
    )


def _install(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from .cli_install import install
    from .platform import target_from_env

    specs, path = _load(args.config, env)
    target = args.target or target_from_env(env)
    install(specs, path, args.dest, target, env, out)
    return 0


VERBS: dict[str, Verb] = {
    "lock": Verb(
        "write or update github-assets.lock beside the config",
        _lock_arguments,
        lambda args, env, out: lock(args.config, args.target, args.check, env, out),
    ),
    "check": Verb(
        "validate the config as detect would",
        _config_argument,
        lambda args, env, out: check(args.config, env, out),
    ),
    "install": Verb(
        "install every entry into a directory (Dockerfiles, CI runners, dev containers)",
        _install_arguments,
        _install,
    ),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="github-assets", description="Lock, check and install GitHub release assets."
    )
    parser.add_argument("--version", action="version", version=f"github-assets {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, verb in VERBS.items():
        verb.arguments(sub.add_parser(name, help=verb.help))
    return parser


def _target(value: str) -> Target:
    """An --target value; argparse makes a malformed one a usage error (exit 2)."""
    os_name, sep, arch = value.partition("/")
    if not sep or not os_name or not arch or "/" in arch:
        raise argparse.ArgumentTypeError(f"must be os/arch (e.g. linux/arm64), got {value!r}")
    return Target(os_name, arch)


def _targets(chosen: Sequence[Target] | None) -> list[Target]:
    return list(chosen or (_target(t) for t in lockfile.DEFAULT_TARGETS))


def _load(config: str | None, env: Mapping[str, str]) -> tuple[list[AssetSpec], str]:
    """The config's assets and its path: --config names any file (the app-dir rule is
    GITHUB_ASSETS_PATH's, for builds); without it, as detect reads the app dir (cwd)."""
    if config:
        from .tomlfile import load

        path = os.path.abspath(config)
        if not os.path.isfile(path):
            raise ConfigError(
                f"--config {config} is not a file", hint="give the path of the config file"
            )
        specs = parse_project(load(path, config), config)
        shown = config
    else:
        app = os.getcwd()
        specs = load_project(app, env)
        path, shown, _ = config_path(app, env)
    if not specs:
        raise ConfigError(f"{shown} configures no [[metadata.githubassets]] assets")
    return specs, path


def check(config: str | None, env: Mapping[str, str], out: TextIO) -> int:
    specs, _ = _load(config, env)
    for spec in specs:
        out.write(f"{spec.where}\n")
        for target in _targets(None):
            if spec.targets and str(target) not in spec.targets:
                out.write(f"  {target}: skipped (targets)\n")
                continue
            tag = spec.tag if spec.tag != "latest" else "{tag}"
            name = render(spec.asset, target, tag, spec.replacement_map, prefix=spec.version_prefix)
            out.write(f"  {target}: {name}\n")
        for what, path in launch_paths(spec):
            out.write(f"  {what}: {path}\n")
        if spec.process or spec.link:
            path = launch_paths(spec)[-1][1]
            out.write(f"  probe command: {probe_command(path, spec.args)}\n")
    return 0


def lock(
    config: str | None,
    targets: Sequence[Target] | None,
    check_only: bool,
    env: Mapping[str, str],
    out: TextIO,
) -> int:
    specs, path = _load(config, env)
    lock_path = lockfile.path_for(path)
    shown = os.path.relpath(lock_path)
    chosen = _targets(targets)
    try:
        old = lockfile.read(lock_path, shown, root=os.path.dirname(path))
    except ConfigError as broken:
        if check_only:
            raise
        # The lock is what this command makes: a broken one is replaced, not a dead end.
        out.write(f"replacing {shown}: {broken.message}\n")
        old = None
    wanted = [(s, t) for s in specs for t in chosen if not s.targets or str(t) in s.targets]
    scope = {str(t) for t in chosen}
    previous = old.entries if old else ()
    if check_only:
        return _check(old, wanted, scope, shown, out)
    entries = [_locked(s, t, env) for s, t in wanted]
    # --target updates those targets; every other target's entries stay as they are.
    known = [lockfile.picks(s) for s in specs]  # a list: picks may hold a table
    entries += [e for e in previous if e.target not in scope and e.picks in known]
    before = {e.key: e for e in previous}
    for e in entries:
        was = before.get(e.key)
        label = f"{dict(e.picks)['repo']} {e.name} ({e.target})"
        if was is None:
            out.write(f"added   {label}: {e.resolved_tag} sha256:{e.sha256} ({e.authority})\n")
        elif was != e:
            out.write(
                f"changed {label}: {was.resolved_tag} -> {e.resolved_tag} sha256:{e.sha256}\n"
            )
    for key, was in before.items():
        if key not in {e.key for e in entries}:
            out.write(f"removed {dict(was.picks)['repo']} {was.name} ({was.target})\n")
    lockfile.write(lock_path, entries)
    out.write(f"wrote {shown} ({len(entries)} assets)\n")
    return 0


def _check(
    old: lockfile.Lock | None,
    wanted: Sequence[tuple[AssetSpec, Target]],
    scope: set[str],
    shown: str,
    out: TextIO,
) -> int:
    """lock --check: 1 when an entry is missing, disagrees with a sha256 pin, or is one the
    config no longer asks for (among the targets checked); 0 when the lock is up to date."""
    if old is None:
        out.write(f"{shown} is missing; run github-assets lock\n")
        return 1
    stale, used = [], set()
    for s, t in wanted:
        entry = old.find(s, t)
        if entry is None:
            stale.append(f"{shown} has no entry for {s.repo} {s.asset} on {t}")
            continue
        used.add(entry.key)
        pin = s.pin_for(t.arch)
        if pin is not None and pin != entry.checksum:
            stale.append(
                f"{shown} locks sha256:{entry.sha256} for {s.repo} {entry.name} on {t}, "
                f"but the config pins {pin}"
            )
    extra = [e for e in old.entries if e.target in scope and e.key not in used]
    for line in stale:
        out.write(f"{line}; re-run github-assets lock\n")
    if extra:
        out.write(f"{shown} has {len(extra)} entries the config no longer asks for\n")
    if stale or extra:
        return 1
    out.write(f"{shown} is up to date ({len(wanted)} assets)\n")
    return 0


def _locked(spec: AssetSpec, target: Target, env: Mapping[str, str]) -> lockfile.Entry:
    """Resolve spec on target through the GitHub API and say who vouches for its sha256,
    from the evidence the build gathers (pipeline.evidence): GitHub's digest, else the
    release's checksum file, else `lock` hashes the download (trust on first use)."""
    from . import pipeline
    from .services import make_services
    from .settings import Settings
    from .sources import fetch_verified
    from .verify import Kind

    log = Log(io.StringIO())
    source = make_services(env, Settings.from_env(env), log).source_for(spec)
    job = pipeline.Job(spec, target, source, log, threading.Event())
    with pipeline.naming(spec, "lock the asset"):
        asset = pipeline.resolve(job)
        entry = lockfile.Entry(
            picks=lockfile.picks(spec),
            target=str(target),
            resolved_tag=asset.tag,
            name=asset.name,
            size=asset.size,
            sha256="",
            authority=lockfile.DOWNLOADED,
        )
        # GitHub's digest, when it has one, spares the checksum file's request.
        expected = pipeline.expected_for(spec, target, asset)
        if lockfile.authority_of(expected.claims) is None:
            expected = pipeline.evidence(job, asset)
        vouched = lockfile.authority_of(expected.claims)
        if vouched is not None:
            authority, file, checksum = vouched
            return entry._replace(sha256=checksum.hex, authority=authority, checksums_file=file)
        # No sha256 published: hash the bytes (trust on first use), checked against every
        # other claim (a pin, a sha512 line of the checksum file).
        fetched = fetch_verified(source, asset, _Hashing(), expected, log=log, cancel=job.cancel)
        files = [
            c.authority.name for c in expected.claims if c.authority.kind is Kind.CHECKSUM_FILE
        ]
        file = files[0] if files else ""
        if file:
            entry = entry._replace(authority=lockfile.CHECKSUMS_FILE, checksums_file=file)
        return entry._replace(sha256=fetched.verified.sha256)


class _Hashing:
    """A sink that keeps nothing: `lock` only needs the digest of the bytes."""

    def __init__(self) -> None:
        self._buffer = memoryview(bytearray(1 << 20))

    def buffer(self) -> memoryview:
        return self._buffer

    def commit(self, n: int) -> None:
        pass

    def restart(self) -> None:
        pass


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = _parser().parse_args(argv)
    env = dict(os.environ) if env is None else env
    redact.environment(env)
    # What the command prints goes through the one redaction, as the build's log does.
    out = cast(TextIO, redact.stream(sys.stdout))
    try:
        return VERBS[args.command].run(args, env, out)
    except BuildpackError as e:
        report(e, env)
        return 1
    except OSError as e:
        report(os_error(e, args.command), env)
        return 1


def console() -> None:
    """The pip console script's entry point."""
    sys.exit(main())
