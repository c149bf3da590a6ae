"""The build log: a fixed grammar of indent levels, with secrets redacted."""

from __future__ import annotations

import io
from _thread import allocate_lock  # threading.Lock, without threading's ~3.6M instructions
from typing import TextIO

from . import redact


def human_size(n: int) -> str:
    """Bytes as the build log shows them: 512 B, 10.3 KiB, 12.5 MiB, 1.0 GiB."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


class Log:
    """Levels: title (0), process (2), subprocess (4), action (6), detail (8).

    Lines are written whole under a lock so parallel installs never interleave
    mid-line; every line goes through redact.text first (tokens, binding contents, URL
    userinfo and queries).
    """

    def __init__(self, out: TextIO, *, debug: bool = False) -> None:
        self._out = out
        self._debug = debug
        self._lock = allocate_lock()

    def add_secret(self, secret: str | None) -> None:
        """Hide secret in every output of the process (redact.REGISTRY), not only this log."""
        redact.secret(secret)

    def _line(self, indent: int, text: str) -> None:
        line = " " * indent + redact.text(text) + "\n"
        with self._lock:
            self._out.write(line)
            self._out.flush()

    def title(self, text: str) -> None:
        self._line(0, text)

    def process(self, text: str) -> None:
        self._line(2, text)

    def subprocess(self, text: str) -> None:
        self._line(4, text)

    def action(self, text: str) -> None:
        self._line(6, text)

    def detail(self, text: str) -> None:
        self._line(8, text)

    def debug(self, text: str) -> None:
        if self._debug:
            self._line(6, f"[debug] {text}")

    @property
    def debugging(self) -> bool:
        return self._debug


class OrderedLog:
    """Log lines of parallel jobs, whole and in a fixed order.

    Channels are made in the order their lines must appear. The first channel not yet
    closed writes through (its progress lines show as they happen); later ones keep their
    lines until every channel before them is closed.
    """

    def __init__(self, log: Log) -> None:
        self._log = log
        self._lock = allocate_lock()
        self._channels: list[Log] = []
        self._held: list[list[str]] = []
        self._closed: list[bool] = []
        self._head = 0

    def channel(self) -> Log:
        index = len(self._channels)
        channel = Log(_ChannelOut(self, index), debug=self._log.debugging)
        self._channels.append(channel)
        self._held.append([])
        self._closed.append(False)
        return channel

    def _emit(self, index: int, line: str) -> None:
        with self._lock:
            if index <= self._head:  # the head, or a channel closed and passed: no one waits
                self._log.title(line)
            else:
                self._held[index].append(line)

    def close(self, channel: Log) -> None:
        with self._lock:
            self._closed[self._channels.index(channel)] = True
            self._advance()

    def close_all(self) -> None:
        with self._lock:
            self._closed = [True] * len(self._closed)
            self._advance()

    def _advance(self) -> None:
        while self._head < len(self._closed):
            for line in self._held[self._head]:
                self._log.title(line)
            self._held[self._head] = []
            if not self._closed[self._head]:
                return
            self._head += 1


class _ChannelOut(io.StringIO):
    """The stream of one channel's Log: whole lines go to the OrderedLog."""

    def __init__(self, ordered: OrderedLog, index: int) -> None:
        super().__init__()
        self._ordered = ordered
        self._index = index
        self._partial = ""

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            self._ordered._emit(self._index, line)
        return len(text)
