"""cnb.files.json_text writes what json.dumps writes (compact), for every value the SBOMs
and labels hold, and refuses what JSON cannot say; compared on generated data."""

from __future__ import annotations

import enum
import json
import random
from typing import Any

import pytest

from github_assets.cnb.files import json_text

# Strings that need every kind of escape: quotes, backslashes, controls, DEL, non-ASCII
# (BMP and astral: a surrogate pair), a lone surrogate, and plain ones.
STRINGS = [
    "",
    "plain",
    'a "quoted" word',
    "back\\slash",
    "line\nbreak\ttab\r\x00\x1f\x7f",
    "é ü ß 中文",
    "emoji \U0001f600 and \U00010348",
    "lone \ud800 surrogate",
    "pkg:github/acme/tool@v1.0.0",
    "https://example.com/a?b=c&d=e#f",
]


class Colour(str, enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


def generated(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return rng.choice(STRINGS) + str(rng.randrange(100))
    if kind == 1:
        return rng.choice([0, -1, 7, 2**70, -(2**63)])
    if kind == 2:
        return rng.choice([True, False])
    if kind == 3:
        return None
    if kind == 4:
        return rng.choice(STRINGS)
    if kind == 5:
        return [generated(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 6:
        return tuple(generated(rng, depth + 1) for _ in range(rng.randrange(3)))
    return {
        rng.choice(STRINGS) + str(i): generated(rng, depth + 1) for i in range(rng.randrange(5))
    }


@pytest.mark.parametrize("seed", range(300))
def test_the_same_text_as_json_dumps(seed: int) -> None:
    data = generated(random.Random(seed))
    for sort_keys in (False, True):
        want = json.dumps(data, sort_keys=sort_keys, separators=(",", ":"))
        assert json_text(data, sort_keys=sort_keys) == want


def test_subclasses_of_str_and_int_are_written_as_json_does() -> None:
    data = {"c": Colour.RED, "l": Level.HIGH, "b": [True, False, None]}
    assert json_text(data) == json.dumps(data, separators=(",", ":"))


@pytest.mark.parametrize("bad", [1.5, float("nan"), {1: "x"}, {("a",): 1}, b"bytes", {"s": {1, 2}}])
def test_what_json_cannot_say_is_a_type_error(bad: Any) -> None:
    with pytest.raises(TypeError):
        json_text(bad)
