"""Record: typing.NamedTuple for our value types, without its cost at import.

Every module here has `from __future__ import annotations`, so a NamedTuple's field
annotations are strings, and typing.NamedTuple checks each one by compiling it
(typing.ForwardRef): about 0.2M instructions per field, and about 8M for the first
compile() of the process, which sets up the interpreter's AST types. The 30-odd value
types a build defines made that a fifth of a rebuild's instructions (docs/performance.md,
issue 24). Nothing reads those annotations at run time, so Record builds the same class
typing.NamedTuple would (a tuple subclass with the same fields, defaults, methods and
docstring, the annotations kept as written), checks nothing and compiles nothing (namedtuple
compiles a __new__ per class: 0.3M instructions more); mypy sees
typing.NamedTuple itself. `class Spec(Record):` as one would write `class Spec(NamedTuple):`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Record"]

if TYPE_CHECKING:
    from typing import NamedTuple as Record
else:
    try:
        from _collections import _tuplegetter
    except ImportError:  # what collections.namedtuple falls back to
        from operator import itemgetter

        def _tuplegetter(index: int, doc: str) -> property:
            return property(itemgetter(index), doc=doc)

    # What a class body may not replace (typing.NamedTuple's rule).
    _PROHIBITED = frozenset(
        {"__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults"}
        | {"_make", "_replace", "_asdict", "_source"}
    )
    _SPECIAL = frozenset({"__module__", "__name__", "__qualname__", "__annotations__"})

    def _new(cls: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs or len(args) != len(cls._fields):
            args = _bind(cls, args, kwargs)
        return tuple.__new__(cls, args)

    def _bind(cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        """The values in field order, from positional and keyword arguments and the defaults;
        the TypeErrors a call of a function with these parameters would raise."""
        fields, name = cls._fields, cls.__name__
        if len(args) > len(fields):
            raise TypeError(f"{name}() takes {len(fields)} arguments but {len(args)} were given")
        values = list(args)
        for field in fields[: len(args)]:
            if field in kwargs:
                raise TypeError(f"{name}() got multiple values for argument {field!r}")
        for field in fields[len(args) :]:
            if field in kwargs:
                values.append(kwargs.pop(field))
            elif field in cls._field_defaults:
                values.append(cls._field_defaults[field])
            else:
                raise TypeError(f"{name}() missing required argument: {field!r}")
        if kwargs:
            raise TypeError(f"{name}() got an unexpected keyword argument {next(iter(kwargs))!r}")
        return tuple(values)

    @classmethod  # type: ignore[misc]
    def _make(cls: Any, iterable: Any) -> Any:
        result = tuple.__new__(cls, iterable)
        if len(result) != len(cls._fields):
            raise TypeError(f"Expected {len(cls._fields)} arguments, got {len(result)}")
        return result

    def _replace(self: Any, /, **kwargs: Any) -> Any:
        result = self._make(map(kwargs.pop, self._fields, self))
        if kwargs:
            raise ValueError(f"Got unexpected field names: {list(kwargs)!r}")
        return result

    def _repr(self: Any) -> str:
        shown = ", ".join(f"{f}={v!r}" for f, v in zip(self._fields, self, strict=True))
        return f"{type(self).__name__}({shown})"

    def _asdict(self: Any) -> dict[str, Any]:
        return dict(zip(self._fields, self, strict=True))

    def _getnewargs(self: Any) -> tuple[Any, ...]:
        return tuple(self)

    class _RecordMeta(type):
        def __new__(cls, typename: str, bases: tuple[type, ...], ns: dict[str, Any]) -> Any:
            if not bases:  # Record itself
                return super().__new__(cls, typename, bases, ns)
            if bases != (Record,):
                raise TypeError("a Record inherits from Record alone")
            fields = tuple(ns.get("__annotations__", {}))
            defaults: dict[str, Any] = {}
            for name in fields:
                if name in ns:
                    defaults[name] = ns[name]
                elif defaults:
                    raise TypeError(
                        f"{typename}: field {name} without a default follows {', '.join(defaults)}"
                    )
            body: dict[str, Any] = {
                "__doc__": f"{typename}({', '.join(fields)})",
                "__slots__": (),
                "__module__": ns["__module__"],
                "__qualname__": ns.get("__qualname__", typename),
                "__annotations__": dict(ns.get("__annotations__", {})),
                "_fields": fields,
                "_field_defaults": defaults,
                "__new__": _new,
                "_make": _make,
                "_replace": _replace,
                "__repr__": _repr,
                "_asdict": _asdict,
                "__getnewargs__": _getnewargs,
                "__match_args__": fields,
            }
            for index, name in enumerate(fields):
                body[name] = _tuplegetter(index, f"Alias for field number {index}")
            for key, value in ns.items():
                if key in _PROHIBITED:
                    raise AttributeError(f"{typename}: a Record may not define {key}")
                if key not in _SPECIAL and key not in fields:
                    body[key] = value
            # type() calls __set_name__ on what the body holds (a cached_property...).
            return type(typename, (tuple,), body)

    class Record(metaclass=_RecordMeta):
        """Base of a value type: `class Spec(Record):` with annotated fields (see above)."""
