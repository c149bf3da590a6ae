"""The BP_* knobs, parsed once into a frozen value (no HTTP stack imported here)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .errors import ConfigError
from .record import Record

DEFAULT_PARALLEL = 8


class RetryPolicy(Record):
    """How hard to try before giving up; shared by every request of the build.

    Retry n (1-based) waits `backoff * 2**(n-1)`, capped at `max_backoff`, with equal
    jitter (a random point in its upper half) so that many builds failing together do
    not come back together. A rate limit that lifts within `max_wait` is waited out
    instead; a longer one fails at once.
    """

    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 8.0
    timeout: float = 60.0
    """Seconds without a byte from the server (the read timeout)."""
    connect_timeout: float = 10.0
    max_wait: float = 20.0

    @property
    def timeouts(self) -> tuple[float, float]:
        """(connect, read) timeouts for requests."""
        return (min(self.connect_timeout, self.timeout), self.timeout)

    def delay(self, retry: int, rand: Callable[[], float] | None = None) -> float:
        """Seconds to wait before retry number `retry` (1 for the first retry)."""
        if rand is None:
            import random  # only a retry needs it, never a rebuild

            rand = random.random
        step = min(self.max_backoff, self.backoff * 2.0 ** (retry - 1))
        return step * (0.5 + rand() / 2)


class Limits(Record):
    """Ceilings that stop decompression bombs."""

    max_bytes: int = 4 * 1024**3
    """Total uncompressed bytes written."""
    max_entries: int = 100_000
    """Members in an archive."""


class Settings(Record):
    """Every BP_* knob of the build, validated."""

    retry: RetryPolicy = RetryPolicy()
    limits: Limits = Limits()
    parallel: int = DEFAULT_PARALLEL
    """Assets resolved, downloaded and unpacked at once (BP_GITHUB_ASSETS_PARALLEL)."""
    debug: bool = False
    """BP_LOG_LEVEL=DEBUG."""
    require_checksum: bool = False
    """BP_GITHUB_ASSETS_REQUIRE_CHECKSUM: an asset only its size verifies fails."""
    require_provenance: bool = False
    """BP_GITHUB_ASSETS_REQUIRE_PROVENANCE: an entry without a `provenance` table fails."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """The knobs in env; a bad value is a ConfigError naming the variable."""
        retry, limits = RetryPolicy(), Limits()
        return cls(
            retry=retry._replace(
                timeout=_number(env, "BP_GITHUB_ASSETS_TIMEOUT", retry.timeout),
                backoff=_number(env, "BP_GITHUB_ASSETS_BACKOFF", retry.backoff),
            ),
            limits=Limits(
                max_bytes=max(1, int(_number(env, "BP_GITHUB_ASSETS_MAX_BYTES", limits.max_bytes))),
                max_entries=max(
                    1, int(_number(env, "BP_GITHUB_ASSETS_MAX_ENTRIES", limits.max_entries))
                ),
            ),
            parallel=_parallel(env),
            debug=env.get("BP_LOG_LEVEL", "").strip().upper() == "DEBUG",
            require_checksum=_flag(env, "BP_GITHUB_ASSETS_REQUIRE_CHECKSUM"),
            require_provenance=_flag(env, "BP_GITHUB_ASSETS_REQUIRE_PROVENANCE"),
        )


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive, finite number from env, or the default when unset."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise ConfigError(
            f"{name} must be a number > 0, got {raw!r}", hint=f"unset {name} or fix its value"
        )
    return value


def _parallel(env: Mapping[str, str]) -> int:
    raw = env.get("BP_GITHUB_ASSETS_PARALLEL", "").strip()
    if not raw:
        return DEFAULT_PARALLEL
    if not raw.isdigit() or not 1 <= int(raw) <= 64:
        raise ConfigError(
            f"BP_GITHUB_ASSETS_PARALLEL must be a whole number from 1 to 64, got {raw!r}",
            hint="unset BP_GITHUB_ASSETS_PARALLEL or fix its value",
        )
    return int(raw)


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "false", "0", "no"):
        return False
    if raw in ("true", "1", "yes"):
        return True
    raise ConfigError(
        f"{name} must be true or false, got {env[name]!r}", hint=f"unset {name} or fix its value"
    )
