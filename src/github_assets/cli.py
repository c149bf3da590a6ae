"""The `github-assets` command: lock the assets of a config, check a lock, check a config.

    github-assets lock [--config project.toml] [--target linux/amd64 ...] [--check]
    github-assets check [--config project.toml]
    github-assets verify-bundle --bundle F --certificate-identity ID --certificate-oidc-issuer URL
        [--trusted-root F] [--staging] FILE|sha256:HEX

Run as `python3 -m github_assets` from the source tree or the unpacked buildpack, or as
`github-assets` once pip-installed. Exit codes: 0, 1 (an error: one line, as the build
prints them), 2 (usage).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from . import lock as lockfile
from .config import AssetSpec, config_path, load_project
from .errors import BuildpackError, ConfigError, os_error, report
from .log import Log
from .platform import Target, render
from .provenance import cli as provenance_cli

if TYPE_CHECKING:
    from .pipeline import Job, Proof
    from .sources import ResolvedAsset


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="github-assets", description="Lock and check GitHub release assets of a config."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    lock = sub.add_parser("lock", help="write or update github-assets.lock beside the config")
    lock.add_argument("--config", default=None, help="the config file (default: project.toml)")
    lock.add_argument(
        "--target",
        action="append",
        default=None,
        help="os/arch to lock (repeat; default: linux/amd64 and linux/arm64)",
    )
    lock.add_argument(
        "--check", action="store_true", help="exit 1 when the lock is missing or stale"
    )
    check = sub.add_parser("check", help="validate the config as detect would")
    check.add_argument("--config", default=None, help="the config file (default: project.toml)")
    provenance_cli.add_parser(sub)
    return parser


def _targets(raw: Sequence[str] | None) -> list[Target]:
    out = []
    for value in raw or lockfile.DEFAULT_TARGETS:
        os_name, sep, arch = value.partition("/")
        if not sep or not os_name or not arch or "/" in arch:
            raise ConfigError(f"--target must be os/arch, got {value!r}", hint="e.g. linux/arm64")
        out.append(Target(os_name, arch))
    return out


def _load(config: str | None, env: Mapping[str, str]) -> tuple[list[AssetSpec], str]:
    """The config's assets and its path, read as detect reads them (app dir = cwd)."""
    app = os.getcwd()
    if config:
        env = {**env, "GITHUB_ASSETS_PATH": config}
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
    return 0


def lock(
    config: str | None,
    targets: Sequence[str] | None,
    check_only: bool,
    env: Mapping[str, str],
    out: TextIO,
) -> int:
    specs, path = _load(config, env)
    lock_path = lockfile.path_for(path)
    shown = os.path.relpath(lock_path)
    old = lockfile.read(lock_path, shown)
    wanted = [
        (s, t) for s in specs for t in _targets(targets) if not s.targets or str(t) in s.targets
    ]
    if check_only:
        if old is None:
            out.write(f"{shown} is missing; run github-assets lock\n")
            return 1
        stale = [f"{s.repo} {s.asset} on {t}" for s, t in wanted if old.find(s, t) is None]
        extra = len(old.entries) - (len(wanted) - len(stale))
        for line in stale:
            out.write(f"{shown} has no entry for {line}; re-run github-assets lock\n")
        # An entry given `provenance` after it was locked: the build would refuse the lock.
        unproven = [
            f"{s.repo} {s.asset} on {t}"
            for s, t in wanted
            if s.provenance is not None and (e := old.find(s, t)) is not None and not e.provenance
        ]
        for line in unproven:
            out.write(f"{shown} records no provenance for {line}; re-run github-assets lock\n")
        stale += unproven
        if extra > 0:
            out.write(f"{shown} has {extra} entries the config no longer asks for\n")
        if stale or extra > 0:
            return 1
        out.write(f"{shown} is up to date ({len(wanted)} assets)\n")
        return 0
    entries = [_locked(s, t, env) for s, t in wanted]
    before = {e.key: e for e in (old.entries if old else ())}
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


def _locked(spec: AssetSpec, target: Target, env: Mapping[str, str]) -> lockfile.Entry:
    """Resolve spec on target through the GitHub API and say who vouches for its sha256,
    from the evidence the build gathers (pipeline.evidence): GitHub's digest, else the
    release's checksum file, else `lock` hashes the download (trust on first use). An
    entry with `provenance` has it verified, and what verified it recorded."""
    from . import pipeline
    from .services import make_services
    from .settings import Settings
    from .sources import fetch_verified
    from .verify import Kind

    log = Log(io.StringIO())
    services = make_services(env, Settings.from_env(env), log)
    source = services.source_for(spec)
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
        proofs = services.proofs_for(spec)
        watchers = [w for p in proofs if (w := p.prepare(job, asset)) is not None]
        # GitHub's digest, when it has one, spares the checksum file's request.
        expected = pipeline.expected_for(spec, target, asset)
        if lockfile.authority_of(expected.claims) is None:
            expected = pipeline.evidence(job, asset)
        vouched = lockfile.authority_of(expected.claims)
        if vouched is not None and not watchers:
            authority, file, checksum = vouched
            entry = entry._replace(sha256=checksum.hex, authority=authority, checksums_file=file)
        else:
            # No sha256 published (trust on first use), or a signature over the bytes
            # themselves: hash the download, checked against every other claim.
            sink = pipeline.Watched(_Hashing(), watchers)
            fetched = fetch_verified(source, asset, sink, expected, log=log, cancel=job.cancel)
            files = [
                c.authority.name for c in expected.claims if c.authority.kind is Kind.CHECKSUM_FILE
            ]
            if vouched is not None:
                authority, file, _ = vouched
                entry = entry._replace(authority=authority, checksums_file=file)
            elif files:
                entry = entry._replace(authority=lockfile.CHECKSUMS_FILE, checksums_file=files[0])
            entry = entry._replace(sha256=fetched.verified.sha256)
        return entry._replace(provenance=_proven(proofs, job, asset, entry))


def _proven(
    proofs: Sequence[Proof], job: Job, asset: ResolvedAsset, entry: lockfile.Entry
) -> dict[str, Any]:
    """Run the entry's proofs on the locked sha256; what verified them, for the lock."""
    from .provenance.proofs import Carried
    from .provenance.proving import EntryProof
    from .verify import Verified

    files: dict[str, str] = {}
    attestation = ""
    for proof in proofs:
        proof(job, asset, Verified(entry.size, entry.sha256, ()))
        if isinstance(proof, EntryProof) and proof.outcome is not None:
            files.update(proof.outcome.carried.files)
            attestation = proof.outcome.carried.attestation or attestation
    return Carried(files, attestation).to_table()


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
    out = sys.stdout
    try:
        if args.command == "check":
            return check(args.config, env, out)
        if args.command == "verify-bundle":
            return provenance_cli.run(args, out)
        return lock(args.config, args.target, args.check, env, out)
    except BuildpackError as e:
        report(e, env)
        return 1
    except OSError as e:
        report(os_error(e, args.command), env)
        return 1


def console() -> None:
    """The pip console script's entry point."""
    sys.exit(main())
