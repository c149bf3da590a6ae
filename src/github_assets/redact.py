"""One redaction for everything that leaves the process: every log line, every error, every
file written into the image (layer tomls, launch.toml labels, SBOMs) and the lock file.

A process-wide registry of what the build knows to be secret, filled where the secret is
read (a token by its value, a binding's contents as the binding's name, a URL's userinfo),
plus rules that need no registry (any `scheme://user:password@` userinfo, URL query
strings: signed URLs, `Authorization` values). The writers apply it (log.Log, errors.report,
cnb.files, the lock writer), so code that prints or writes something new cannot forget it.

Detect imports this module (through log and errors): stdlib only, nothing slow.
"""

from __future__ import annotations

import os
import re
from _thread import allocate_lock  # threading.Lock, without threading's ~3.6M instructions
from collections.abc import Mapping
from typing import Any, TextIO

REDACTED = "[REDACTED]"
_MIN = 6
"""Shorter bare values (a password "abc") are not replaced wherever they occur, which would
mangle ordinary words; they are still hidden inside the `user:password@` they came in."""

# The rules that need no registry, as patterns re compiles (and caches) when first used:
# text() runs one only on text that holds what it needs (`://` and `@`, `://` and `?`,
# "authorization"), so a build whose output has none compiles none (~0.3M instructions
# each, at every start otherwise).
_USERINFO = r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@?#'\"<>]*@"
_URL_QUERY = r"(https?://[^\s?#'\"]+)\?[^\s'\"]*"
_BEARER = r"(?i)(authorization:?\s*(?:bearer|token|basic)\s+)\S+"
_SECRET_NAME = r"(?i)TOKEN|SECRET|PASSW|CREDENTIAL|API_?KEY|PRIVATE"  # noqa: S105 (a pattern)
"""A variable whose name holds one of these (any case) holds a secret."""
_SECRET_WORDS = ("TOKEN", "SECRET", "PASSW", "CREDENTIAL", "APIKEY", "API_KEY", "PRIVATE")
"""_SECRET_NAME for an ASCII name, upper-cased, without a regex to compile."""


class Registry:
    """Known secrets and what each shows as; thread-safe, grows, never shrinks."""

    def __init__(self) -> None:
        self._lock = allocate_lock()
        self._shown: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None

    def secret(self, value: str | None, shown: str = REDACTED) -> None:
        """Hide value wherever it occurs (as shown); blank and very short values only
        through the URLs they were registered with."""
        value = (value or "").strip()
        if len(value) < _MIN or value == shown:
            return
        with self._lock:
            if value not in self._shown:  # the first registration says how it shows
                self._shown[value] = shown
                self._pattern = None

    def url(self, url: str | None, shown: str | None = None) -> None:
        """A URL the build uses: its userinfo hidden always; with shown (a binding's name),
        the whole URL too, in every form a message may quote it (with or without scheme
        and userinfo, its host alone; a file:// URL as its path)."""
        from urllib.parse import unquote, urlsplit  # here: detect parses no URL

        url = (url or "").strip().rstrip("/")
        if not url:
            return
        try:
            parts = urlsplit(url)
        except ValueError:
            parts = None
        forms = {url}
        if parts is not None and "@" in parts.netloc:
            userinfo, _, host = parts.netloc.rpartition("@")
            with self._lock:
                if self._shown.get(userinfo + "@") != "":
                    self._shown[userinfo + "@"] = ""
                    self._pattern = None
            user, _, password = userinfo.partition(":")
            for word in (password, unquote(password), user if not password else ""):
                self.secret(word)
            clean = parts._replace(netloc=host).geturl()
            forms |= {clean, f"{userinfo}@{host}{parts.path}", f"{host}{parts.path}", host}
        elif parts is not None and parts.netloc:
            forms |= {f"{parts.netloc}{parts.path}", parts.netloc}
        if parts is not None and parts.scheme == "file":
            forms.add(unquote(parts.path))
        if shown is not None:
            # The host too: where a binding points is its contents (errors name hosts).
            for form in forms - {"", "/"}:
                self.secret(form, shown)

    def environment(self, env: Mapping[str, str]) -> None:
        """What the environment shows to be secret: GITHUB_TOKEN and every variable whose
        name says token, secret, password, credential or key; the userinfo of every URL
        (GITHUB_SERVER_URL, mirrors, proxies). A variable `token_env` names is registered
        where it is read (config.token_for), whatever its name."""
        for name, value in env.items():
            if not value:
                continue
            if _secret_name(name):
                self.secret(value)
            if "://" in value and "@" in value:
                self.url(value)

    def bindings(self, root: str | os.PathLike[str]) -> None:
        """Every binding's contents under root (`<binding>/<key>`, or the older layout's
        `secret/<key>`), as secrets: a URL shows as `<type> binding <name>`, anything else
        as [REDACTED]. Not the keys that name rather than hold (type, kind, provider, host),
        nor large files (CA certificates, trusted roots: public, and no token is that long).
        """
        for name in _listed(root):
            binding = os.path.join(root, name)
            if not os.path.isdir(binding):
                continue
            kind = _small(os.path.join(binding, "type"))
            kind = kind or _small(os.path.join(binding, "metadata", "kind"))
            shown = f"{kind or 'a'} binding {name}"
            secret_dir = os.path.join(binding, "secret")
            files = [os.path.join(binding, k) for k in _listed(binding) if k not in _NAMING]
            files += [os.path.join(secret_dir, k) for k in _listed(secret_dir)]
            for file in files:
                value = _small(file)
                if "://" in value:
                    self.url(value, shown)
                else:
                    self.secret(value)

    def text(self, text: str) -> str:
        """text with every known secret replaced, URL userinfo and queries dropped,
        Authorization values hidden."""
        pattern = self._compiled()
        if pattern is not None:
            shown = self._shown
            text = pattern.sub(lambda m: shown[m.group()], text)
        if "://" in text and "@" in text:
            text = re.sub(_USERINFO, r"\1", text)
        # re's IGNORECASE also matches non-ASCII letters (U+0131, a dotless i): only ASCII
        # text is judged by the cheaper test.
        if not text.isascii() or "authorization" in text.lower():
            text = re.sub(_BEARER, r"\1" + REDACTED, text)
        if "://" in text and "?" in text:
            text = re.sub(_URL_QUERY, r"\1?" + REDACTED, text)
        return text

    def value(self, data: Any) -> Any:
        """data (tables, arrays, strings, ...) with every string redacted, for a file."""
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, dict | Mapping):  # a dict without the ABC's check
            return {k: self.value(v) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [self.value(v) for v in data]
        return data

    def _compiled(self) -> re.Pattern[str] | None:
        pattern = self._pattern  # one read: made already, or none to make (no lock)
        if pattern is not None or not self._shown:
            return pattern
        with self._lock:
            if self._pattern is None and self._shown:
                # Longest first: a binding's URL before its host, "user:pw@" before "pw".
                keys = sorted(self._shown, key=len, reverse=True)
                self._pattern = re.compile("|".join(map(re.escape, keys)))
            return self._pattern


def _secret_name(name: str) -> bool:
    """Whether a variable's name says it holds a secret. re's IGNORECASE matches non-ASCII
    letters too (U+212A for K): a name that is not ASCII is judged by the pattern."""
    if not name.isascii():
        return re.search(_SECRET_NAME, name) is not None
    upper = name.upper()
    return any(word in upper for word in _SECRET_WORDS)


_NAMING = frozenset({"type", "kind", "provider", "host"})


def _small(path: str) -> str:
    """A binding file's text, stripped; '' when not a readable text file of up to 4 KiB."""
    try:
        with open(path, "rb") as f:
            data = f.read(4097)
        return data.decode("utf-8").strip() if len(data) <= 4096 else ""
    except (OSError, UnicodeDecodeError):  # a directory, unreadable, not text
        return ""


def _listed(directory: str | os.PathLike[str]) -> list[str]:
    try:
        return sorted(os.listdir(directory))
    except OSError:
        return []


class Stream:
    """A text stream whose writes go through the registry (the command's stdout)."""

    def __init__(self, out: TextIO, registry: Registry) -> None:
        self._out = out
        self._registry = registry

    def write(self, text: str) -> int:
        return self._out.write(self._registry.text(text))

    def flush(self) -> None:
        self._out.flush()


REGISTRY = Registry()
"""The build's (and the command's) one registry."""

secret = REGISTRY.secret
url = REGISTRY.url
environment = REGISTRY.environment
text = REGISTRY.text
value = REGISTRY.value
bindings = REGISTRY.bindings


def stream(out: TextIO) -> Stream:
    return Stream(out, REGISTRY)
