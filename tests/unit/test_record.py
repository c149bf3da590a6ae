"""Record behaves as typing.NamedTuple does (the same class body through both, compared),
without compiling anything at class creation (the reason it exists: issue 24)."""

from __future__ import annotations

import builtins
import copy
import pickle
from functools import cached_property
from typing import Any, NamedTuple

import pytest

from github_assets.record import Record


class Typed(NamedTuple):
    """A value type."""

    name: str
    count: int
    tags: tuple[str, ...] = ()
    note: str | None = None

    @property
    def shown(self) -> str:
        return f"{self.name}#{self.count}"

    @classmethod
    def of(cls, name: str) -> Typed:
        return cls(name, 0)

    def twice(self) -> int:
        return 2 * self.count


class Ours(Record):
    """A value type."""

    name: str
    count: int
    tags: tuple[str, ...] = ()
    note: str | None = None

    @property
    def shown(self) -> str:
        return f"{self.name}#{self.count}"

    @classmethod
    def of(cls, name: str) -> Ours:
        return cls(name, 0)

    def twice(self) -> int:
        return 2 * self.count


CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    (("a", 1), {}),
    (("a", 1, ("x",)), {}),
    (("a", 1, ("x",), "n"), {}),
    (("a",), {"count": 2}),
    ((), {"name": "a", "count": 2, "note": "n"}),
    (("a", 1), {"note": "n"}),
]

BAD_CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    ((), {}),
    (("a",), {}),
    (("a", 1, (), None, "extra"), {}),
    (("a", 1), {"name": "again"}),
    (("a", 1), {"colour": "red"}),
    ((), {"count": 1}),
]


@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_the_same_values_fields_and_methods_as_typing_namedtuple(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    theirs, ours = Typed(*args, **kwargs), Ours(*args, **kwargs)
    assert tuple(ours) == tuple(theirs)
    assert ours == tuple(theirs) and hash(ours) == hash(tuple(theirs))
    assert repr(ours) == repr(theirs).replace("Typed(", "Ours(")
    assert ours._asdict() == theirs._asdict()
    assert tuple(ours._replace(count=9)) == tuple(theirs._replace(count=9))
    assert (ours.shown, ours.twice()) == (theirs.shown, theirs.twice())
    assert [getattr(ours, f) for f in Ours._fields] == [getattr(theirs, f) for f in Typed._fields]
    assert pickle.loads(pickle.dumps(ours)) == ours
    assert copy.copy(ours) == ours and copy.deepcopy(ours) == ours
    match ours:
        case Ours(name, count):
            assert (name, count) == (theirs.name, theirs.count)
        case _:
            pytest.fail("positional match")


def test_class_attributes_match() -> None:
    assert Ours._fields == Typed._fields
    assert Ours._field_defaults == Typed._field_defaults
    assert Ours.__match_args__ == Typed.__match_args__
    assert Ours.__doc__ == Typed.__doc__ == "A value type."
    assert Ours.__module__ == Typed.__module__
    assert Ours.__qualname__ == "Ours"
    assert Ours.__annotations__ == {
        "name": "str",
        "count": "int",
        "tags": "tuple[str, ...]",
        "note": "str | None",
    }
    assert Ours.of("z") == ("z", 0, (), None)
    assert isinstance(Ours.of("z"), Ours)
    assert Ours.__mro__ == (Ours, tuple, object)
    assert Ours._make(["a", 1, (), None]) == Ours("a", 1)
    with pytest.raises(AttributeError):
        Ours("a", 1).name = "b"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        Ours("a", 1).other = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(("args", "kwargs"), BAD_CALLS)
def test_bad_calls_fail_as_typing_namedtuple_does(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(TypeError):
        Typed(*args, **kwargs)
    with pytest.raises(TypeError):
        Ours(*args, **kwargs)


def test_bad_bodies_are_refused() -> None:
    with pytest.raises(TypeError, match="without a default follows"):

        class Late(Record):
            a: int = 1
            b: int

    with pytest.raises(AttributeError, match="may not define _replace"):

        class Clash(Record):
            a: int

            def _replace(self) -> None: ...

    with pytest.raises(ValueError, match="unexpected field names"):
        Ours("a", 1)._replace(colour="red")
    with pytest.raises(TypeError, match="Expected 4 arguments"):
        Ours._make(["a"])


def test_set_name_is_called_for_what_the_body_holds() -> None:
    class Holder(Record):
        a: int

        @cached_property
        def doubled(self) -> int:  # cannot cache on a slotted tuple, but named as in a class
            return 2 * self.a

    assert Holder.__dict__["doubled"].attrname == "doubled"


def test_nothing_is_compiled_when_a_record_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[object] = []
    real = builtins.compile

    def watch(*args: Any, **kwargs: Any) -> Any:
        compiled.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(builtins, "compile", watch)
    ns: dict[str, Any] = {"Record": Record, "__name__": "made"}
    exec("class Made(Record):\n    a: 'dict[str, list[int]]'\n    b: 'Made | None' = None\n", ns)
    assert compiled == []
    assert ns["Made"](1)._replace(b=None) == (1, None)
