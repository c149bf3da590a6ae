"""Editing a config file's text in place: append an entry, move an entry's tag, rewrite its
sha256 pin. Only the edited value changes; comments, layout and every other byte stay.

The file is scanned line by line for `[[...githubassets]]` headers (schema 0.1 and 0.2
spellings); an entry is the lines from its header to the next table header. Each edit
is checked by parsing the result as detect does before anything is written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import ConfigError

_HEADER = re.compile(r"^\s*\[\[\s*(_\s*\.\s*)?metadata\s*\.\s*githubassets\s*\]\]\s*(#.*)?$")
_ANY_HEADER = re.compile(r"^\s*\[")
_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def read(path: str, shown: str) -> str:
    """The config file's text, exactly (newlines kept), or a ConfigError naming it."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ConfigError(f"failed to read {shown}: {e.strerror or e}") from e
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"failed to read {shown}: not UTF-8 text ({e.reason})") from e


def _value(value: Any) -> str:
    """TOML for the values an entry holds: strings, booleans, integers, arrays, tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items())
        return "{ " + inner + " }"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def _key(key: str) -> str:
    return key if _BARE.match(key) else json.dumps(key)


def entry_text(table: Mapping[str, Any], *, schema2: bool = False) -> str:
    """One `[[metadata.githubassets]]` table as TOML text (keys in the given order)."""
    header = "[[_.metadata.githubassets]]" if schema2 else "[[metadata.githubassets]]"
    return "\n".join([header, *(f"{_key(k)} = {_value(v)}" for k, v in table.items())]) + "\n"


def headers(text: str) -> list[int]:
    """Line numbers of the entries' headers, in file order."""
    return [i for i, line in enumerate(text.splitlines()) if _HEADER.match(line)]


def append_entry(text: str, table: Mapping[str, Any]) -> str:
    """text with one more entry at its end, in the spelling the file already uses."""
    lines = text.splitlines()
    found = headers(text)
    schema2 = bool(found) and "_" in lines[found[0]].split("metadata")[0]
    if not found and re.search(r"^\s*\[\s*_\s*\]", text, re.M):
        schema2 = True
    return text + _gap(text) + entry_text(table, schema2=schema2)


def _gap(text: str) -> str:
    """What makes one blank line between the file's last line and a new table."""
    if not text or text.endswith("\n\n"):
        return ""
    return "\n" if text.endswith("\n") else "\n\n"


def _span(text: str, index: int) -> tuple[list[str], int, int]:
    """The file's lines and the [start, end) line range of the index-th entry."""
    lines = text.splitlines(keepends=True)
    found = headers(text)
    if index >= len(found):
        raise ConfigError(
            f"cannot edit entry #{index + 1}: the file has {len(found)} "
            "[[metadata.githubassets]] tables written as such",
            hint="write each entry as its own [[metadata.githubassets]] table",
        )
    start = found[index]
    end = start + 1
    while end < len(lines) and not _ANY_HEADER.match(lines[end]):
        end += 1
    return lines, start, end


def _key_line(key: str) -> re.Pattern[str]:
    return re.compile(
        rf"^(\s*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*=\s*)"
        r"(\"(?:[^\"\\]|\\.)*\"|'[^']*'|\{[^{}\n]*\}|[^#\s][^#\n]*?)(\s*(?:#.*)?)$"
    )


def set_value(text: str, index: int, key: str, value: Any) -> str:
    """text with the index-th entry's one-line `key = ...` value replaced (comments kept);
    the key is added after the header's block when the entry does not have it."""
    lines, start, end = _span(text, index)
    rx = _key_line(key)
    for i in range(start + 1, end):
        body = lines[i].rstrip("\r\n")
        m = rx.match(body)
        if m:
            newline = lines[i][len(body) :]
            lines[i] = f"{m.group(1)}{_value(value)}{m.group(3)}{newline}"
            return "".join(lines)
    # Not there: insert after the entry's last key line, before trailing blank lines.
    last = end
    while last > start + 1 and not lines[last - 1].strip():
        last -= 1
    if last > 0 and not lines[last - 1].endswith("\n"):
        lines[last - 1] += "\n"
    lines.insert(last, f"{_key(key)} = {_value(value)}\n")
    return "".join(lines)


def drop_key(text: str, index: int, key: str) -> str:
    """text without the index-th entry's one-line `key = ...` (nothing when absent)."""
    lines, start, end = _span(text, index)
    rx = _key_line(key)
    for i in range(start + 1, end):
        if rx.match(lines[i].rstrip("\r\n")):
            del lines[i]
            return "".join(lines)
    return text


def has_key(text: str, index: int, key: str) -> bool:
    lines, start, end = _span(text, index)
    rx = _key_line(key)
    return any(rx.match(lines[i].rstrip("\r\n")) for i in range(start + 1, end))
