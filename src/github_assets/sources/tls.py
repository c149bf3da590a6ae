"""Whom the build trusts over TLS: what the build image trusts, in one SSLContext per process.

The system store first: OpenSSL's default paths, which honour SSL_CERT_FILE and
SSL_CERT_DIR (as a ca-certificates buildpack or a corporate proxy setup sets them), plus
the PEM files of `ca-certificates` bindings (Paketo's convention, and the only way on
kpack, where a build gets no variable that names a file of the platform's). The
vendored certifi bundle only when neither variable is set and OpenSSL's default file and
directory do not exist (a directory counts when it holds at least one entry: an empty
/etc/ssl/certs trusts nothing). The context is made at the first HTTPS connection, never
before (a rebuild that reuses every layer makes none), and every session and thread shares
it: loading a CA store costs milliseconds that a build should pay once.
"""

from __future__ import annotations

import os
import ssl
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..platform import StrPath


class Trust:
    """The one TLS context of a process, made when first asked for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._context: ssl.SSLContext | None = None
        self._news: str | None = None
        self._extra: tuple[tuple[str, StrPath], ...] = ()

    def also_trust(self, files: Sequence[tuple[str, StrPath]]) -> None:
        """PEM files (how to name each, path) trusted besides the store, from the next
        context made; read only then, so a build that connects nowhere never reads them."""
        with self._lock:
            self._extra = tuple(files)

    def context(self) -> ssl.SSLContext:
        with self._lock:
            if self._context is None:
                started = time.perf_counter()
                context, trusted = _make(self._extra)
                took = time.perf_counter() - started
                self._context = context
                self._news = f"TLS context made in {took * 1000:.1f} ms, trusting {trusted}"
            return self._context

    def news(self) -> str | None:
        """How the context was made, once, after it was (for the DEBUG log)."""
        with self._lock:
            news, self._news = self._news, None
            return news


def _make(extra: Sequence[tuple[str, StrPath]] = ()) -> tuple[ssl.SSLContext, str]:
    """A client context and, for the log, what it trusts."""
    context, trusted = _store()
    for shown, path in extra:
        try:
            context.load_verify_locations(cafile=path)
        except (OSError, ssl.SSLError) as e:
            # ssl names the PEM problem, never the file's contents
            reason = getattr(e, "reason", None) or getattr(e, "strerror", None) or "unreadable"
            raise ConfigError(
                f"{shown} is not a PEM CA certificate ({str(reason).lower().replace('_', ' ')})",
                hint="put PEM certificates (-----BEGIN CERTIFICATE-----) in that binding",
            ) from None
    if extra:
        trusted += f", and {len(extra)} file(s) of ca-certificates bindings"
    return context, trusted


def _store() -> tuple[ssl.SSLContext, str]:
    """A client context on the build image's store (or certifi), and what that is."""
    paths = ssl.get_default_verify_paths()
    context = ssl.create_default_context()  # OpenSSL's default paths, or the variables
    env_file = os.environ.get(paths.openssl_cafile_env, "")
    env_dir = os.environ.get(paths.openssl_capath_env, "")
    trusted = []
    if env_file:
        trusted.append(f"{paths.openssl_cafile_env}={env_file}")
    elif os.path.isfile(paths.openssl_cafile):
        trusted.append(paths.openssl_cafile)
    if env_dir:
        trusted.append(f"{paths.openssl_capath_env}={env_dir}")
    elif _has_entries(paths.openssl_capath):
        trusted.append(paths.openssl_capath)
    if trusted:
        return context, ", ".join(trusted)
    import certifi

    context.load_verify_locations(cafile=certifi.where())
    return context, (
        f"the vendored certifi bundle (no system store at {paths.openssl_cafile} "
        f"or {paths.openssl_capath})"
    )


def _has_entries(directory: str) -> bool:
    try:
        with os.scandir(directory) as entries:
            return any(True for _ in entries)
    except OSError:
        return False


TRUST = Trust()
"""The process's trust: its context is made by the first HTTPS connection of any session."""
