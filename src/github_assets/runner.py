"""The build runner: reads the CNB environment, calls build(), writes every CNB file."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import BUILDPACK_ID, USER_AGENT, __version__
from .archive import Limits
from .build import DEFAULT_PARALLEL, BuildResult, Services, build
from .cnb.context import BuildContext, build_context
from .cnb.launch import write_launch
from .cnb.layer import existing_layers, read_layer, toml_path, write_layer
from .cnb.plan import PROVIDES, read_buildpack_plan
from .cnb.sbom import document, write_sbom
from .config import AssetSpec, load_config_file, load_project, parse_entry
from .errors import ConfigError, InstallError
from .log import Log

if TYPE_CHECKING:
    import requests

    from .download import Downloader
    from .github import GitHub, RetryPolicy

# Plan metadata written by bin/detect's sh path: the config file for build to read.
CONFIG_FILE = "config_file"


def plan_specs(ctx: BuildContext) -> list[AssetSpec]:
    """Specs of the github-assets plan entries, ours and other buildpacks', deduplicated.

    An entry equal to one in the app's config keeps that config's name for errors.
    """
    try:
        own = {_key(s.to_metadata()): s for s in load_project(ctx.app_dir, ctx.env)}
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
            specs = [
                own.get(_key(entry.metadata))
                or parse_entry(entry.metadata, f"buildpack plan entry #{i} ({PROVIDES})")
            ]
        out += [s for s in specs if s not in out]
    return out


def _key(meta: Mapping[str, Any]) -> str:
    return json.dumps(meta, sort_keys=True, default=str)


def _env_number(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number from the environment (tuning knobs, mostly for tests and slow links)."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise ConfigError(
            f"{name} must be a number > 0, got {raw!r}", hint=f"unset {name} or fix its value"
        )
    return value


def retry_policy(env: Mapping[str, str]) -> RetryPolicy:
    """Timeouts and backoff: BP_GITHUB_ASSETS_TIMEOUT and BP_GITHUB_ASSETS_BACKOFF (seconds)."""
    from .github import RetryPolicy

    default = RetryPolicy()
    return RetryPolicy(
        timeout=_env_number(env, "BP_GITHUB_ASSETS_TIMEOUT", default.timeout),
        backoff=_env_number(env, "BP_GITHUB_ASSETS_BACKOFF", default.backoff),
    )


def unpack_limits(env: Mapping[str, str]) -> Limits:
    """Bomb ceilings: BP_GITHUB_ASSETS_MAX_BYTES and BP_GITHUB_ASSETS_MAX_ENTRIES."""
    default = Limits()
    return Limits(
        max_bytes=max(1, int(_env_number(env, "BP_GITHUB_ASSETS_MAX_BYTES", default.max_bytes))),
        max_entries=max(
            1, int(_env_number(env, "BP_GITHUB_ASSETS_MAX_ENTRIES", default.max_entries))
        ),
    )


def parallelism(env: Mapping[str, str]) -> int:
    """BP_GITHUB_ASSETS_PARALLEL: assets installed at once (default 8; 1 is one at a time)."""
    raw = env.get("BP_GITHUB_ASSETS_PARALLEL", "").strip()
    if not raw:
        return DEFAULT_PARALLEL
    if not raw.isdigit() or not 1 <= int(raw) <= 64:
        raise ConfigError(
            f"BP_GITHUB_ASSETS_PARALLEL must be a whole number from 1 to 64, got {raw!r}",
            hint="unset BP_GITHUB_ASSETS_PARALLEL or fix its value",
        )
    return int(raw)


def new_session() -> requests.Session:
    """A session that honours HTTP(S)_PROXY/NO_PROXY per request URL but never reads .netrc.

    trust_env would do both, and .netrc credentials could then reach the storage
    host; so trust_env is off and each request gets the proxies its own host calls for.
    """
    import requests

    class _Session(requests.Session):
        def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
            text = url.decode() if isinstance(url, bytes) else url
            kwargs.setdefault("proxies", requests.utils.get_environ_proxies(text))
            return super().request(method, url, *args, **kwargs)

    session = _Session()
    session.headers["User-Agent"] = USER_AGENT
    session.trust_env = False
    return session


def make_services(env: Mapping[str, str], log: Log) -> Services:
    """The build's collaborators; the HTTP stack is imported the first time one is used."""
    limits = unpack_limits(env)
    parallel = parallelism(env)
    _env_number(env, "BP_GITHUB_ASSETS_TIMEOUT", 1.0)  # a bad value fails now, not mid-build
    _env_number(env, "BP_GITHUB_ASSETS_BACKOFF", 1.0)
    local = threading.local()
    lock = threading.Lock()
    made: dict[str, Any] = {}

    def policy() -> RetryPolicy:
        with lock:
            if "policy" not in made:
                made["policy"] = retry_policy(env)
            got: RetryPolicy = made["policy"]
            return got

    def session() -> requests.Session:
        """This thread's session (requests sessions are not thread-safe)."""
        current: requests.Session | None = getattr(local, "session", None)
        if current is None:
            current = local.session = new_session()
        return current

    def github_for(
        api_url: str, token: str | None, log: Log, cancel: threading.Event | None
    ) -> GitHub:
        from .github import GitHub

        return GitHub(session(), api_url, token, policy=policy(), log=log, cancel=cancel)

    def downloader() -> Downloader:
        with lock:
            if "downloader" not in made:
                from .download import Downloader

                made["downloader"] = Downloader(session, log, policy=retry_policy(env))
            got: Downloader = made["downloader"]
            return got

    return Services(
        github_for=github_for,
        downloader=downloader,
        log=log,
        limits=limits,
        parallel=parallel,
    )


def write_result(ctx: BuildContext, result: BuildResult) -> None:
    """The one place that writes CNB files (and the app-dir links)."""
    if result.stale:
        import shutil
    for name in result.stale:
        toml_path(ctx.layers_dir, name).unlink(missing_ok=True)
        (ctx.layers_dir / f"{name}.sbom.cdx.json").unlink(missing_ok=True)
        shutil.rmtree(ctx.layers_dir / name, ignore_errors=True)
    for layer in result.layers:
        write_layer(ctx.layers_dir, layer.name, layer.toml)
        write_sbom(
            ctx.layers_dir,
            layer.name,
            document(BUILDPACK_ID, __version__, result.sbom_components.get(layer.name, ())),
        )
    write_launch(ctx.layers_dir, list(result.processes), list(result.labels))
    for rel, target in result.links:
        link = ctx.app_dir / rel
        if link.is_symlink() and os.readlink(link) == target:
            continue
        if link.exists() or link.is_symlink():
            raise InstallError(
                f"link {rel}: the app dir already has a different file there",
                hint="remove it from the app or choose another 'link' path",
            )
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)


def run_build(args: Sequence[str], env: Mapping[str, str], bp_dir: Path) -> int:
    ctx = build_context(args, env, Path.cwd(), bp_dir)
    log = Log(sys.stdout, debug=env.get("BP_LOG_LEVEL", "").upper() == "DEBUG")
    log.title(f"GitHub Release Assets {__version__}")
    specs = plan_specs(ctx)
    log.process(f"Target {ctx.target}, {len(specs)} asset{'s' * (len(specs) != 1)}")
    existing = existing_layers(ctx.layers_dir)
    ctx.layers_dir.mkdir(parents=True, exist_ok=True)
    result = build(
        specs,
        layers_dir=ctx.layers_dir,
        app_dir=ctx.app_dir,
        env=env,
        target=ctx.target,
        previous={name: read_layer(ctx.layers_dir, name) for name in existing},
        existing=existing,
        svc=make_services(env, log),
    )
    for name in result.stale:
        log.process(f"Removing stale layer {name}")
    write_result(ctx, result)
    for rel, target in result.links:
        log.process(f"Linked {ctx.app_dir / rel} -> {target}")
    return 0
