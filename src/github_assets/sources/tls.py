"""Whom the build trusts over TLS: what the build image trusts, in one SSLContext per process.

The system store first: OpenSSL's default paths, which honour SSL_CERT_FILE and
SSL_CERT_DIR (as a ca-certificates buildpack or a corporate proxy setup sets them). The
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


class Trust:
    """The one TLS context of a process, made when first asked for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._context: ssl.SSLContext | None = None
        self._news: str | None = None

    def context(self) -> ssl.SSLContext:
        with self._lock:
            if self._context is None:
                started = time.perf_counter()
                context, trusted = _make()
                took = time.perf_counter() - started
                self._context = context
                self._news = f"TLS context made in {took * 1000:.1f} ms, trusting {trusted}"
            return self._context

    def news(self) -> str | None:
        """How the context was made, once, after it was (for the DEBUG log)."""
        with self._lock:
            news, self._news = self._news, None
            return news


def _make() -> tuple[ssl.SSLContext, str]:
    """A client context and, for the log, what it trusts."""
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
