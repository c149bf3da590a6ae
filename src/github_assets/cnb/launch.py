"""launch.toml: processes and labels."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..record import Record
from .files import write_toml

if TYPE_CHECKING:
    from ..platform import StrPath


class Process(Record):
    type: str
    command: tuple[str, ...]
    args: tuple[str, ...] = ()
    default: bool = False


class Label(Record):
    key: str
    value: str


def write_launch(layers_dir: StrPath, processes: list[Process], labels: list[Label]) -> None:
    """Write launch.toml (API 0.10: command is an array)."""
    data: dict[str, Any] = {}
    if processes:
        data["processes"] = [
            {"type": p.type, "command": list(p.command), "args": list(p.args), "default": p.default}
            for p in processes
        ]
    if labels:
        data["labels"] = [{"key": label.key, "value": label.value} for label in labels]
    if data:
        write_toml(os.path.join(layers_dir, "launch.toml"), data)
