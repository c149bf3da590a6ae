"""The collaborators of the build and the command line: sources over one HTTP policy,
made when first needed. The phases (build.py) and the commands (cli.py) reach the
sources through here or the pipeline, never directly; nothing here knows of CNB."""

from __future__ import annotations

import time
from _thread import allocate_lock  # threading.Lock, without threading's ~3.6M instructions
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from .config import AssetSpec, token_for, token_named
from .errors import ConfigError
from .log import Log
from .record import Record
from .settings import Settings

if TYPE_CHECKING:
    from .bindings import Binding
    from .lock import Entry, Lock
    from .pipeline import Proof
    from .platform import StrPath, Target
    from .provenance.trustroot import TrustedRoot
    from .sources import Source
    from .sources.http import Http
    from .sources.origins import Origins


class Services(Record):
    """Collaborators, so tests pass a real loopback server or a tiny fake, never a monkeypatch."""

    source_for: Callable[[AssetSpec], Source]
    """The source of an asset's bytes; called before any thread starts. A factory: a rebuild
    that reuses every layer never calls it, so it never imports the HTTP stack."""
    log: Log
    settings: Settings = Settings()
    clock: Callable[[], float] = time.monotonic
    proofs_for: Callable[[AssetSpec], Sequence[Proof]] = lambda spec: ()
    """The proofs of provenance an entry asks for (its `provenance` table), run by the
    pipeline between the checksum check and the unpacked files (pipeline.Proof)."""
    locked: Callable[[AssetSpec, Target], Entry | None] = lambda spec, target: None
    """The lock's entry for an asset on a target: its resolved tag, name and sha256 are part
    of what a layer must hold (a re-lock reinstalls), known without a request."""


def api_url(spec: AssetSpec, env: Mapping[str, str]) -> str:
    """The API base of an asset: its api_url, else GITHUB_API_URL, else GitHub's."""
    from . import redact
    from .sources import DEFAULT_API  # here: a rebuild that reuses every layer asks no API

    base = (spec.api_url or env.get("GITHUB_API_URL") or DEFAULT_API).rstrip("/")
    redact.url(base)  # userinfo in it is a credential: never printed, never written
    return base


def make_services(
    env: Mapping[str, str],
    settings: Settings,
    log: Log,
    *,
    places: tuple[StrPath, StrPath | None] | None = None,
    lock: Lock | None = None,
    own: Collection[AssetSpec] = (),
) -> Services:
    """Services whose HTTP stack is imported the first time a source is asked for.

    places, (platform dir, buildpack dir), turns on the sources besides the API
    (offline package, bindings, mirrors, direct downloads) and the lock; without it
    (the `lock` command) every asset goes through the GitHub API. own: the app's config
    entries, which the lock must cover (another buildpack's plan entry may miss it).
    """
    guard = allocate_lock()
    shared: list[Http] = []
    origins: list[Origins] = []
    read: list[tuple[Binding, ...]] = []
    reading = allocate_lock()  # its own: http() asks for the bindings holding guard

    def bound() -> tuple[Binding, ...]:
        """The bindings, read when a source or a proof first needs them: a rebuild that
        reuses every layer reads none (redact.bindings has hidden their contents already)."""
        with reading:
            if not read:
                from . import bindings

                read.append(bindings.read(env, places[0] if places else None))
            return read[0]

    def http() -> Http:
        with guard:
            if not shared:
                from .bindings import ca_files
                from .sources.http import Http, new_session
                from .sources.tls import TRUST

                # One session for the whole build, every thread: its pools keep a connection
                # per host for each thread at work, so the API calls and downloads of later
                # assets (and of the install after a `latest` check) reuse them, TLS and all.
                TRUST.also_trust(ca_files(bound()))
                session = new_session(pool_size=settings.parallel)
                shared.append(Http(lambda: session, settings.retry))
            return shared[0]

    def source_for(spec: AssetSpec) -> Source:
        from .bindings import github_binding
        from .sources.github import GitHubSource

        base = api_url(spec, env)
        binding = github_binding(bound(), base)
        bound_token = binding.value("token") if binding is not None else None
        named = token_named(spec, env, binding.name if binding is not None else None)
        if places is None:  # the API is all there is: its token must be there
            return GitHubSource(http(), base, token_for(spec, env, bound_token), named=named)
        try:
            token, missing = token_for(spec, env, bound_token), None
        except ConfigError as e:
            # A pinned private asset may come from a mirror, a binding or the offline
            # package, which receive no token: the API raises this if it is asked.
            token, missing = None, e
        api = GitHubSource(http(), base, token, missing=missing, named=named)
        from .sources.chain import Chain
        from .sources.origins import Origins

        with guard:
            if not origins:
                from pathlib import Path  # here: a rebuild that reuses every layer has no source

                platform_dir, bp_dir = places
                origins.append(
                    Origins.from_env(env, Path(platform_dir), Path(bp_dir) if bp_dir else None)
                )
        return Chain(spec, api, http(), origins[0], lock, own=spec in own)

    def locked(spec: AssetSpec, target: Target) -> Entry | None:
        return lock.find(spec, target) if lock is not None else None

    roots: list[Callable[[], TrustedRoot]] = []

    def proofs_for(spec: AssetSpec) -> Sequence[Proof]:
        if spec.provenance is None:
            return ()
        from .provenance.proving import EntryProof, kinds, trusted_root_loader
        from .sources.github import GitHubSource

        with guard:
            if not roots:
                roots.append(trusted_root_loader(env, places[0] if places else None))
        base = api_url(spec, env)
        try:
            from .bindings import github_token

            token = token_for(spec, env, github_token(bound(), base))
        except ConfigError:
            token = None  # an unset token_env: the asset's source says so if the API is asked
        api = GitHubSource(http(), base, token)
        from pathlib import Path

        bp_dir = places[1] if places is not None else None
        offline = Path(bp_dir, "dependencies") if bp_dir is not None else None
        return [
            EntryProof(
                kind,
                api=api.client,
                http=http,
                lock=lock,
                offline=offline if offline is not None and offline.is_dir() else None,
                trusted_root=roots[0],
            )
            for kind in kinds(spec.provenance)
        ]

    return Services(
        source_for=source_for, log=log, settings=settings, locked=locked, proofs_for=proofs_for
    )
