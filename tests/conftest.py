"""Fixtures: a loopback GitHub stand-in and lifecycle-shaped CNB dirs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tools.github_standin import StandIn

from support import CnbDirs


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as s:
        yield s


@pytest.fixture
def cnb(tmp_path: Path) -> CnbDirs:
    return CnbDirs(tmp_path)
