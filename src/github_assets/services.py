"""The collaborators of the build and the command line: sources over one HTTP policy,
made when first needed. The phases (build.py) and the commands (cli.py) reach the
sources through here or the pipeline, never directly; nothing here knows of CNB."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .config import AssetSpec, token_for
from .log import Log
from .settings import Settings
from .sources import DEFAULT_API, Source

if TYPE_CHECKING:
    from .lock import Lock
    from .pipeline import Proof
    from .sources.http import Http
    from .sources.origins import Origins


class Services(NamedTuple):
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


def api_url(spec: AssetSpec, env: Mapping[str, str]) -> str:
    """The API base of an asset: its api_url, else GITHUB_API_URL, else GitHub's."""
    return (spec.api_url or env.get("GITHUB_API_URL") or DEFAULT_API).rstrip("/")


def make_services(
    env: Mapping[str, str],
    settings: Settings,
    log: Log,
    *,
    places: tuple[Path, Path] | None = None,
    lock: Lock | None = None,
    own: Collection[AssetSpec] = (),
) -> Services:
    """Services whose HTTP stack is imported the first time a source is asked for.

    places, (platform dir, buildpack dir), turns on the sources besides the API
    (offline package, bindings, mirrors, direct downloads) and the lock; without it
    (the `lock` command) every asset goes through the GitHub API. own: the app's config
    entries, which the lock must cover (another buildpack's plan entry may miss it).
    """
    guard = threading.Lock()
    shared: list[Http] = []
    origins: list[Origins] = []

    def http() -> Http:
        with guard:
            if not shared:
                from .sources.http import Http, new_session

                # One session for the whole build, every thread: its pools keep a connection
                # per host for each thread at work, so the API calls and downloads of later
                # assets (and of the install after a `latest` check) reuse them, TLS and all.
                session = new_session(pool_size=settings.parallel)
                shared.append(Http(lambda: session, settings.retry))
            return shared[0]

    def source_for(spec: AssetSpec) -> Source:
        from .sources.github import GitHubSource

        api = GitHubSource(http(), api_url(spec, env), token_for(spec, env))
        if places is None:
            return api
        from .sources.chain import Chain
        from .sources.origins import Origins

        with guard:
            if not origins:
                origins.append(Origins.from_env(env, *places))
        return Chain(spec, api, http(), origins[0], lock, own=spec in own)

    return Services(source_for=source_for, log=log, settings=settings)
