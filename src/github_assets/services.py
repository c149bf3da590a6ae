"""The build's real collaborators: sources over one HTTP policy, made when first needed."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .build import Services
from .config import AssetSpec, token_for
from .log import Log
from .settings import Settings
from .sources import Source

if TYPE_CHECKING:
    from .sources.http import Http

DEFAULT_API = "https://api.github.com"


def api_url(spec: AssetSpec, env: Mapping[str, str]) -> str:
    """The API base of an asset: its api_url, else GITHUB_API_URL, else GitHub's."""
    return (spec.api_url or env.get("GITHUB_API_URL") or DEFAULT_API).rstrip("/")


def make_services(env: Mapping[str, str], settings: Settings, log: Log) -> Services:
    """Services whose HTTP stack is imported the first time a source is asked for."""
    lock = threading.Lock()
    shared: list[Http] = []

    def http() -> Http:
        with lock:
            if not shared:
                from .sources.http import Http, new_session

                local = threading.local()

                def session() -> object:
                    """This thread's session (requests sessions are not thread-safe)."""
                    if not hasattr(local, "session"):
                        local.session = new_session()
                    return local.session

                shared.append(Http(session, settings.retry))  # type: ignore[arg-type]
            return shared[0]

    def source_for(spec: AssetSpec) -> Source:
        from .sources.github import GitHubSource

        return GitHubSource(http(), api_url(spec, env), token_for(spec, env))

    return Services(source_for=source_for, log=log, settings=settings)
