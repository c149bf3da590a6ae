"""The `github-assets` command: one table of verbs (VERBS), each its arguments and its run.

    github-assets lock [--config project.toml] [--target linux/amd64 ...] [--check] [--json]
    github-assets check [--config project.toml] [--json]
    github-assets install [--config project.toml] [--target os/arch] --dest DIR
    github-assets add OWNER/REPO[@TAG] [--asset NAME] [--process NAME] [--args ...]
                      [--link PATH] [--config project.toml]
    github-assets outdated [--config project.toml] [--json]
    github-assets upgrade [REPO ...] [--config project.toml]
    github-assets verify-bundle --bundle F --certificate-identity ID --certificate-oidc-issuer URL
        [--trusted-root F] [--staging] FILE|sha256:HEX
    github-assets --version

Run as `python3 -m github_assets` from the source tree or the unpacked buildpack, or as
`github-assets` once pip-installed. Exit codes: 0, 1 (an error: one line, as the build
prints them), 2 (usage). A new verb is one more entry of VERBS (its code in a module of
its own when it is more than a few lines, imported when it runs).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from . import __version__, redact
from . import lock as lockfile
from .config import AssetSpec, config_path, load_project, parse_project
from .errors import BuildpackError, ConfigError, os_error, report
from .log import Log, human_size
from .platform import Target, render
from .probes import command as probe_command
from .probes import launch_paths
from .provenance import cli as provenance_cli
from .record import Record

if TYPE_CHECKING:
    from .pipeline import Job, Proof
    from .services import Services
    from .sources import ResolvedAsset, Source


class Verb(Record):
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
    _json_argument(parser)


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


def _json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    _config_argument(parser)
    _json_argument(parser)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("repo", metavar="OWNER/REPO[@TAG]")
    parser.add_argument(
        "--asset", default=None, help="the asset name or template (default: chosen)"
    )
    parser.add_argument("--process", default=None, help="a launch process type running it")
    parser.add_argument(
        "--args", action="extend", nargs="*", default=[], help="the process's arguments"
    )
    parser.add_argument("--link", default=None, help="a path in the app dir pointing at it")
    _config_argument(parser)


_ADD_OPTIONS = frozenset({"--asset", "--process", "--link", "--config", "--args", "-h", "--help"})


def _spelled_args(argv: Sequence[str]) -> list[str]:
    """add's `--args A ...` as one `--args=A` each, up to add's next option: a process's
    own arguments often start with '-' (grpc_health_probe -addr=:50051), which argparse
    would take for options."""
    if "add" not in argv or "--args" not in argv:
        return list(argv)
    out, taking = [], False
    for word in argv:
        if word.split("=", 1)[0] in _ADD_OPTIONS:
            taking = word == "--args"
            if taking:
                continue
        out.append(f"--args={word}" if taking else word)
    return out


def _upgrade_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("repos", nargs="*", metavar="REPO", help="owner/name (default: all)")
    _config_argument(parser)


VERBS: dict[str, Verb] = {
    "lock": Verb(
        "write or update github-assets.lock beside the config",
        _lock_arguments,
        lambda args, env, out: lock(args.config, args.target, args.check, env, out, args.json),
    ),
    "check": Verb(
        "validate the config as detect would",
        _check_arguments,
        lambda args, env, out: check(args.config, env, out, args.json),
    ),
    "add": Verb(
        "append an entry to the config and lock it",
        _add_arguments,
        lambda args, env, out: add(args.repo, args, env, out),
    ),
    "outdated": Verb(
        "entries behind their repo's newest release",
        _check_arguments,
        lambda args, env, out: outdated(args.config, env, out, args.json),
    ),
    "upgrade": Verb(
        "move entries' tags to the newest release",
        _upgrade_arguments,
        lambda args, env, out: upgrade(args.repos, args.config, env, out),
    ),
    "install": Verb(
        "install every entry into a directory (Dockerfiles, CI runners, dev containers)",
        _install_arguments,
        _install,
    ),
    "verify-bundle": Verb(
        "verify a Sigstore bundle (sigstore-conformance's protocol)",
        provenance_cli.arguments,
        lambda args, env, out: provenance_cli.run(args, out),
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


_OS_ARCH = re.compile(r"\{(os|arch)\}")


def _name_before_release(spec: AssetSpec, target: Target) -> tuple[str | None, str]:
    """The asset's name on target as far as the config tells it, and what is left to the
    release: (None, why) when the release's assets choose it, a partly rendered template
    when {version}/{tag} need the latest release's tag."""
    if not spec.asset:
        return None, "chosen from the release's assets (asset left out)"
    if spec.tag != "latest":
        return render(
            spec.asset, target, spec.tag, spec.replacement_map, prefix=spec.version_prefix
        ), ""
    values = {"os": target.os, "arch": target.arch}
    name = _OS_ARCH.sub(lambda m: spec.replacement_map.get(values[m[1]], values[m[1]]), spec.asset)
    needs = [p for p in ("{version}", "{tag}") if p in name]
    return name, (f"{' and '.join(needs)} from the latest release" if needs else "")


def check(config: str | None, env: Mapping[str, str], out: TextIO, as_json: bool = False) -> int:
    specs, path = _load(config, env)
    doc: list[dict[str, Any]] = []
    for spec in specs:
        targets: dict[str, Any] = {}
        for target in _targets(None):
            if spec.targets and str(target) not in spec.targets:
                targets[str(target)] = {"skipped": True}
                continue
            name, needs = _name_before_release(spec, target)
            targets[str(target)] = {"asset": name, "needs_release": needs}
        paths = dict(launch_paths(spec))
        probe = (
            probe_command(launch_paths(spec)[-1][1], spec.args)
            if spec.process or spec.link
            else None
        )
        doc.append(
            {"entry": spec.where, "repo": spec.repo, "tag": spec.tag, "targets": targets}
            | {"launch_paths": paths, "probe_command": probe}
        )
    if as_json:
        json.dump({"config": path, "entries": doc}, out, indent=2)
        out.write("\n")
        return 0
    for item in doc:
        out.write(f"{item['entry']}\n")
        for target, about in item["targets"].items():
            if about.get("skipped"):
                out.write(f"  {target}: skipped (targets)\n")
            elif about["asset"] is None:
                out.write(f"  {target}: {about['needs_release']}\n")
            else:
                needs = f" ({about['needs_release']})" if about["needs_release"] else ""
                out.write(f"  {target}: {about['asset']}{needs}\n")
        for what, where in item["launch_paths"].items():
            out.write(f"  {what}: {where}\n")
        if item["probe_command"] is not None:
            out.write(f"  probe command: {item['probe_command']}\n")
    return 0


def lock(
    config: str | None,
    targets: Sequence[Target] | None,
    check_only: bool,
    env: Mapping[str, str],
    out: TextIO,
    as_json: bool = False,
    err: TextIO | None = None,
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
    if check_only:
        return _check_lock(old, wanted, scope, shown, out, as_json)
    # An entry whose inputs did not change (picking keys, pin, provenance) is still good:
    # with a concrete tag it is kept without a request or download; a `latest` one is
    # resolved again (one API call) and kept while the release is the same.
    good = {
        i: found
        for i, (s, t) in enumerate(wanted)
        if old is not None
        and (found := old.find(s, t)) is not None
        and (s.pin_for(t.arch) is None or s.pin_for(t.arch) == found.checksum)
        and (s.provenance is None or bool(found.provenance))
    }
    kept = {i: found for i, found in good.items() if wanted[i][0].tag != "latest"}
    todo = [i for i in range(len(wanted)) if i not in kept]
    progress = _Progress(err or sys.stderr, len(todo))
    sources = _Sources(env, _Notes(err))

    def locked(i: int) -> lockfile.Entry:
        return _locked(*wanted[i], env, progress, sources=sources, was=good.get(i))

    with ThreadPoolExecutor(max_workers=max(1, min(8, len(todo)))) as pool:
        fresh = dict(zip(todo, pool.map(locked, todo), strict=True))
    entries = [kept[i] if i in kept else fresh[i] for i in range(len(wanted))]
    # --target updates those targets; every other target's entries of the config's
    # entries stay as they are.
    known = [lockfile.picks(s) for s in specs]  # a list: picks may hold a table
    previous = old.entries if old else ()
    others = [e for e in previous if e.target not in scope and e.picks in known]
    before = {e.key: e for e in previous}
    changes = _changes(before, entries, others)
    lockfile.write(lock_path, [*entries, *others])
    total = len(entries) + len(others)
    if as_json:
        doc = {
            "lock": shown,
            "changes": changes,
            "assets": [e.as_table() for e in sorted([*entries, *others], key=lambda e: e.key)],
        }
        json.dump(doc, out, indent=2)
        out.write("\n")
        return 0
    for c in changes:
        label = f"{c['repo']} {c['name']} ({c['target']})"
        if c["change"] == "added":
            out.write(f"added   {label}: {c['tag']} sha256:{c['sha256']} ({c['authority']})\n")
        elif c["change"] == "changed":
            out.write(f"changed {label}: {c['old']} -> {c['new']}\n")
        elif c["change"] == "removed":
            out.write(f"removed {label}\n")
    out.write(f"wrote {shown} ({total} assets)\n")
    return 0


def _changes(
    before: Mapping[str, lockfile.Entry],
    entries: Sequence[lockfile.Entry],
    others: Sequence[lockfile.Entry],
) -> list[dict[str, Any]]:
    """What a re-lock changed, per entry and target: added, changed (tags, or the full
    sha256 when the same tag now serves other bytes), removed; unchanged ones are left out."""
    out: list[dict[str, Any]] = []
    for e in entries:
        about = {"repo": dict(e.picks)["repo"], "name": e.name, "target": e.target}
        was = before.get(e.key)
        if was is None:
            out.append(
                {**about, "change": "added", "tag": e.resolved_tag, "sha256": e.sha256}
                | {"authority": e.authority}
            )
        elif was != e:
            if was.resolved_tag != e.resolved_tag:
                old, new = was.resolved_tag, e.resolved_tag
            else:
                old, new = f"sha256:{was.sha256}", f"sha256:{e.sha256}"
            out.append({**about, "change": "changed", "old": old, "new": new})
    keep = {e.key for e in [*entries, *others]}
    for key, was in before.items():
        if key not in keep:
            out.append(
                {"repo": dict(was.picks)["repo"], "name": was.name, "target": was.target}
                | {"change": "removed"}
            )
    return out


def _check_lock(
    old: lockfile.Lock | None,
    wanted: Sequence[tuple[AssetSpec, Target]],
    scope: set[str],
    shown: str,
    out: TextIO,
    as_json: bool,
) -> int:
    """lock --check: 1 when the lock is missing, lacks an entry, disagrees with a sha256
    pin, or has entries the config no longer asks for (among the targets checked)."""
    missing: list[str] = []  # "<repo> <asset> on <target>"
    stale: list[str] = []  # an entry that disagrees with the config's sha256 pin
    extra = 0
    if old is None:
        missing = [f"{s.repo} {s.shown_asset} on {t}" for s, t in wanted]
    else:
        used = set()
        for s, t in wanted:
            entry = old.find(s, t)
            if entry is None:
                missing.append(f"{s.repo} {s.shown_asset} on {t}")
                continue
            used.add(entry.key)
            pin = s.pin_for(t.arch)
            if pin is not None and pin != entry.checksum:
                stale.append(
                    f"{shown} locks sha256:{entry.sha256} for {s.repo} {entry.name} on {t}, "
                    f"but the config pins {pin}"
                )
            if s.provenance is not None and not entry.provenance:
                # `provenance` given after it was locked: the build would refuse the lock.
                stale.append(f"{shown} records no provenance for {s.repo} {entry.name} on {t}")
        extra = len([e for e in old.entries if e.target in scope and e.key not in used])
    ok = old is not None and not missing and not stale and not extra
    if as_json:
        doc = {"lock": shown, "present": old is not None, "up_to_date": ok, "missing": missing}
        json.dump({**doc, "stale": stale, "extra": extra}, out, indent=2)
        out.write("\n")
        return 0 if ok else 1
    if old is None:
        out.write(f"{shown} is missing; run github-assets lock\n")
        return 1
    for line in [f"{shown} has no entry for {m}" for m in missing] + stale:
        out.write(f"{line}; re-run github-assets lock\n")
    if extra:
        out.write(f"{shown} has {extra} entries the config no longer asks for\n")
    if not ok:
        return 1
    out.write(f"{shown} is up to date ({len(wanted)} assets)\n")
    return 0


class _Notes(io.StringIO):
    """The log of a command's requests (the build log's lines, not shown), but for what the
    user must act on: a renamed repository's `Moved:` line goes to err, once."""

    def __init__(self, err: TextIO | None) -> None:
        super().__init__()
        self.err = err
        self.said: set[str] = set()
        self.guard = threading.Lock()

    def write(self, text: str) -> int:
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("Moved: "):
                with self.guard:
                    if line in self.said:
                        continue
                    self.said.add(line)
                err = self.err or sys.stderr
                err.write(line + "\n")
                err.flush()
        return len(text)


class _Progress:
    """Progress of `lock` on stderr: one line per asset resolved, and while a download is
    hashed, a line at each quarter of its size (lines, not carriage returns: CI logs)."""

    def __init__(self, err: TextIO, total: int) -> None:
        self.err = err
        self.total = total
        self.done = 0
        self.guard = threading.Lock()

    def say(self, text: str) -> None:
        with self.guard:
            self.err.write(text + "\n")
            self.err.flush()

    def resolved(self, label: str) -> None:
        with self.guard:
            self.done += 1
            n = self.done
        self.say(f"[{n}/{self.total}] {label}")


class _Sources:
    """The services of one `lock` run, and one source per entry: the targets of an entry
    share its source, so its release is asked for once (one API call per entry)."""

    def __init__(self, env: Mapping[str, str], notes: _Notes | None = None) -> None:
        self.env = env
        self.notes = notes or _Notes(io.StringIO())
        self.guard = threading.Lock()
        self.made: dict[AssetSpec, tuple[Services, Source]] = {}

    def __call__(self, spec: AssetSpec) -> tuple[Services, Source]:
        from .services import make_services
        from .settings import Settings

        with self.guard:
            if spec not in self.made:
                services = make_services(self.env, Settings.from_env(self.env), Log(io.StringIO()))
                self.made[spec] = (services, services.source_for(spec))
            return self.made[spec]


def _locked(
    spec: AssetSpec,
    target: Target,
    env: Mapping[str, str],
    progress: _Progress | None = None,
    *,
    sources: _Sources | None = None,
    was: lockfile.Entry | None = None,
) -> lockfile.Entry:
    """Resolve spec on target through the GitHub API and say who vouches for its sha256,
    from the evidence the build gathers (pipeline.evidence): GitHub's digest, else the
    release's checksum file, else `lock` hashes the download (trust on first use). An
    entry with `provenance` has it verified, and what verified it recorded.

    was: the lock's entry before (a `latest` one, resolved again): when the release is the
    same tag and asset, it is kept without a download, unless GitHub's digest now says
    other bytes (a re-upload is otherwise picked up by deleting the entry)."""
    from . import pipeline
    from .sources import fetch_verified
    from .verify import Kind

    sources = sources or _Sources(env)
    log = Log(sources.notes)
    services, source = sources(spec)
    job = pipeline.Job(spec, target, source, log, threading.Event())
    with pipeline.naming(spec, "lock the asset"):
        asset = pipeline.resolve(job)
        label = f"{spec.repo} {asset.name} ({target})"
        if was is not None and (was.resolved_tag, was.name, was.size) == (
            asset.tag,
            asset.name,
            asset.size,
        ):
            said = lockfile.authority_of(pipeline.expected_for(spec, target, asset).claims)
            if said is None or said[2] == was.checksum:
                if progress is not None:
                    progress.resolved(f"{label}: {asset.tag}, as locked")
                return was
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
            if progress is not None:
                progress.resolved(f"{label}: {asset.tag}, sha256 from the {authority}")
            entry = entry._replace(sha256=checksum.hex, authority=authority, checksums_file=file)
        else:
            # No sha256 published (trust on first use), or a signature over the bytes
            # themselves: hash the download, checked against every other claim (a pin, a
            # sha512 line of the checksum file).
            if progress is not None:
                progress.say(f"downloading {label} ({human_size(asset.size)}) to hash it")
            sink = pipeline.Watched(_Hashing(asset.size, label, progress), watchers)
            fetched = fetch_verified(source, asset, sink, expected, log=log, cancel=job.cancel)
            if progress is not None:
                progress.resolved(f"{label}: {asset.tag}, sha256 of the downloaded bytes")
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
    """A sink that keeps nothing (`lock` only needs the digest of the bytes), and says how
    far the download got."""

    def __init__(self, size: int, label: str, progress: _Progress | None) -> None:
        self._buffer = memoryview(bytearray(1 << 20))
        self.size, self.label, self.progress = size, label, progress
        self.got = 0
        self.quarter = 0

    def buffer(self) -> memoryview:
        return self._buffer

    def commit(self, n: int) -> None:
        self.got += n
        if self.progress is None or self.size <= 0:
            return
        quarter = min(4, self.got * 4 // self.size)
        if 0 < quarter < 4 and quarter > self.quarter:
            self.quarter = quarter
            self.progress.say(f"  {self.label}: {quarter * 25}% of {human_size(self.size)}")

    def restart(self) -> None:
        self.got = self.quarter = 0


def outdated(config: str | None, env: Mapping[str, str], out: TextIO, as_json: bool) -> int:
    """Per entry with a concrete tag, the newest release; exit 1 when any is behind."""
    from .upgrades import outdated as rows_of

    specs, path = _load(config, env)
    rows = rows_of(specs, env, log=Log(_Notes(None)))
    behind = [r for r in rows if r.behind]
    if as_json:
        json.dump({"config": path, "entries": [r.as_json() for r in rows]}, out, indent=2)
        out.write("\n")
        return 1 if behind else 0
    for r in rows:
        state = f"{r.spec.tag} -> {r.newest}" if r.behind else f"{r.spec.tag} (newest)"
        out.write(f"{r.spec.repo} {state}\n")
    if not rows:
        out.write("no entry has a concrete tag (latest entries move by themselves)\n")
    return 1 if behind else 0


def upgrade(repos: Sequence[str], config: str | None, env: Mapping[str, str], out: TextIO) -> int:
    """Move the entries' tags (of repos, or all) to the newest release in place, update or
    drop their sha256 pins by the new evidence, and re-lock."""
    from .configedit import read
    from .upgrades import check as parse_text
    from .upgrades import moved_text, repinned
    from .upgrades import outdated as rows_of

    specs, path = _load(config, env)
    shown = os.path.basename(path)
    unknown = sorted(set(repos) - {s.repo for s in specs})
    if unknown:
        raise ConfigError(f"{shown} has no entry for {unknown[0]}", hint="name a configured repo")
    rows = [r for r in rows_of(specs, env, repos) if r.behind]
    if not rows:
        out.write("every entry is at its newest release\n")
        return 0
    text = read(path, shown)
    moved, said = moved_text(text, rows)
    parse_text(moved, shown)
    with _restored_on_error(path, text):
        _write(path, moved)
        lock(path, None, False, env, io.StringIO())
        locked = lockfile.read(lockfile.path_for(path), lockfile.NAME)
        new_specs = parse_text(moved, shown)
        for row in rows:
            if row.spec.sha256 is None or locked is None:
                continue
            spec = new_specs[row.position]
            evidence = {
                t.arch: (e.sha256, e.authority != lockfile.DOWNLOADED)
                for t in _targets(None)
                if (e := locked.find(spec, t)) is not None
            }
            moved, line = repinned(moved, row, evidence)
            said.insert(said.index(_upgraded(row)) + 1, line)
        parse_text(moved, shown)
        _write(path, moved)
    for line in said:
        out.write(line + "\n")
    return 0


def _upgraded(row: Any) -> str:
    return f"upgraded {row.spec.repo} {row.spec.tag} -> {row.newest}"


def add(
    value: str,
    options: argparse.Namespace,
    env: Mapping[str, str],
    out: TextIO,
) -> int:
    """Append an entry (the tag as given, else the latest release's; `asset` left out when
    selection is unambiguous on every target), lock it, and print the probe path."""
    from . import BUILDPACK_ID
    from .config import parse_entry
    from .configedit import append_entry, read
    from .upgrades import (
        add_table,
        asset_for_add,
        check,
        newest_tag,
        parse_repo_at_tag,
        probe_path,
    )

    repo, tag = parse_repo_at_tag(value)
    path = os.path.abspath(options.config or "project.toml")
    shown = os.path.basename(path)
    text = read(path, shown) if os.path.exists(path) else None
    tag = tag or newest_tag(parse_entry({"repo": repo}, repo), env, Log(io.StringIO()))
    asset, replacements = options.asset, None
    if not asset:
        made = asset_for_add(parse_entry({"repo": repo, "tag": tag}, repo), _targets(None), env)
        if made is not None:
            asset, replacements = made
    table = add_table(
        repo, tag, asset=asset, replacements=replacements, process=options.process,
        args=options.args, link=options.link,
    )  # fmt: skip
    new_text = append_entry(text or "", table)
    spec = check(new_text, shown)[-1]
    # Locking chooses (or renders) the asset on every target; a tie fails there, listing
    # the release's assets, and the file is put back as it was.
    with _restored_on_error(path, text):
        _write(path, new_text)
        lock(path, None, False, env, io.StringIO())
    locked = lockfile.read(lockfile.path_for(path), lockfile.NAME)
    chosen = [e.name for t in _targets(None) if locked and (e := locked.find(spec, t))]
    how = f" (asset = {asset!r}: selection alone ties)" if asset and not options.asset else ""
    out.write(f"added {repo} {tag} to {shown}: {', '.join(chosen)}{how}\n")
    out.write(f"probe path: {probe_path(spec, chosen, BUILDPACK_ID.replace('/', '_'))}\n")
    return 0


def _write(path: str, text: str) -> None:
    from .atomic import write_text_atomic

    write_text_atomic(Path(path), text)


class _restored_on_error:
    """Puts the config's text back when an edit's lock fails: nothing half done."""

    def __init__(self, path: str, text: str | None) -> None:
        self.path, self.text = path, text

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: object, tb: object) -> None:
        if error is None:
            return
        if self.text is None:
            Path(self.path).unlink(missing_ok=True)
        else:
            _write(self.path, self.text)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = _parser().parse_args(_spelled_args(sys.argv[1:] if argv is None else argv))
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
