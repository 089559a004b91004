"""A model a session keeps for its life, held as plain values that the garbage collector does not walk.

An attrs model is an object every full collection visits for as long as it is held, and a session
holds its start answer for its whole life. A tuple of strings and numbers is one object that CPython
stops tracking as soon as a collection has looked at it. :func:`compact` turns a model (and the
models nested in it) into such tuples, and :func:`expand` builds an equal model again, each time it is
read (``session.info``: a new, equal object on each read).

Only a model that can be built again from its values is compacted: a frozen attrs class whose fields
are all positional ``__init__`` arguments, with no converter, validator or ``__attrs_post_init__`` to
run again, and which :func:`compact` has built again, equal, from the values. Anything else is kept as
it is (``shape`` ``None``). A shape whose classes all have the ``__init__`` and ``__eq__`` attrs wrote
(and no ``__new__`` or metaclass call of their own) is built again to check only the first time:
built from the very same values, such a model is equal exactly when it is equal to itself, which is
all a later model of that shape is asked (one holding a NaN is not, and is kept as it is). A session
compacts its start answer on every start: the check was most of the cost. The values keep what
the model had: a credential field shows in the ``repr`` of the tuple (a private attribute, never
logged), not in the model's, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeAlias

import attrs

__all__ = ["Shape", "compact", "expand"]

#: A compacted model's class and, by field position, the shapes of the models nested in it. One
#: shared object per class and nesting (so that sessions hold no shape of their own).
Shape: TypeAlias = tuple[type, tuple[tuple[int, "Shape"], ...]]

# Per class and per nesting; bounded (classes made at run time are then looked at each time).
_CACHED = 256
_shapes: dict[Shape, Shape] = {}
#: Per class: what reads its values in field order, or ``None`` when it cannot be built again.
_readers: dict[type, Callable[[Any], tuple[Any, ...]] | None] = {}
#: Per class: whether attrs wrote both its ``__init__`` and its ``__eq__``, and nothing of its own
#: makes its instances (``__new__``, a metaclass's ``__call__``).
_generated: dict[type, bool] = {}
#: The shapes shown once to come back equal and frozen, each of whose classes attrs wrote the
#: ``__init__`` and ``__eq__`` of: built again from the same values, such a model is equal when it
#: is equal to itself, so later models of that shape are only asked that.
_verified: set[Shape] = set()
_UNKNOWN = object()
#: Values that are never a model (no reader looked up for them).
_PLAIN = frozenset({str, int, float, bool, bytes, type(None)})
#: Values each equal to itself, whatever they hold (a float may be a NaN).
_REFLEXIVE = _PLAIN - {float}


def _reader(cls: type) -> Callable[[Any], tuple[Any, ...]] | None:
    known = _readers.get(cls, _UNKNOWN)
    if known is not _UNKNOWN:
        return known  # type: ignore[return-value]
    reader: Callable[[Any], tuple[Any, ...]] | None = None
    if (
        attrs.has(cls)
        and not hasattr(cls, "__attrs_post_init__")
        and all(
            field.init and not field.kw_only and field.converter is None and field.validator is None
            for field in attrs.fields(cls)
        )
    ):
        names = [field.name for field in attrs.fields(cls)]
        if len(names) > 1:
            reader = attrgetter(*names)
        else:  # attrgetter of one name gives the value, not a tuple of it
            reader = lambda model: tuple(getattr(model, name) for name in names)  # noqa: E731
    if len(_readers) < _CACHED:
        _readers[cls] = reader
        _generated[cls] = (
            reader is not None
            and cls.__new__ is object.__new__  # type: ignore[comparison-overlap]
            and type(cls).__call__ is type.__call__
            and all(
                getattr(getattr(cls, name, None), "__code__", None) is not None
                and getattr(cls, name).__code__.co_filename.startswith("<attrs generated")
                for name in ("__init__", "__eq__")
            )
        )
    return reader


def _shape(model: object) -> tuple[Shape, tuple[Any, ...]] | None:
    cls = type(model)
    reader = _reader(cls)
    if reader is None:
        return None
    values: tuple[Any, ...] | list[Any] = reader(model)
    nested: list[tuple[int, Shape]] = []
    for index, value in enumerate(values):
        if type(value) in _PLAIN or _reader(type(value)) is None:
            continue  # a plain value (text, number, None, ...): kept as it is
        inner = _shape(value)
        if inner is not None:
            if not nested:
                values = list(values)
            nested.append((index, inner[0]))
            values[index] = inner[1]  # type: ignore[index]
    shape: Shape = (cls, tuple(nested))
    if len(_shapes) < _CACHED:
        shape = _shapes.setdefault(shape, shape)
    return shape, tuple(values)


def _classes(shape: Shape) -> list[type]:
    cls, nested = shape
    return [cls, *(c for _, inner in nested for c in _classes(inner))]


def _frozen(model: object) -> bool:
    """Whether ``model``'s fields cannot be set (tried on a copy nobody else holds): a change made
    through a model built on each read would be lost."""
    fields = attrs.fields(type(model))  # type: ignore[arg-type]
    if not fields:
        return True
    try:
        setattr(model, fields[0].name, getattr(model, fields[0].name))
    except attrs.exceptions.FrozenInstanceError:
        return True
    return False


def compact(model: object) -> tuple[Shape | None, Any]:
    """``model`` as (its shape, its values), or ``(None, model)`` when it cannot be built again:
    built once from the values here, the model must come back frozen, of its class and equal (an
    ``__init__`` of its own, a mutable or ``eq=False`` class, anything that raises: kept as it is).
    Never raises."""
    try:
        found = _shape(model)
        if found is not None and found[0] in _verified:
            # A NaN in it cannot come back equal; only a float or a nested model can hold one.
            if not all(type(value) in _REFLEXIVE for value in found[1]) and model != model:
                found = None
        elif found is not None:
            again = expand(*found)
            if type(again) is not type(model) or again != model or not _frozen(again):
                found = None
            elif len(_verified) < _CACHED and all(
                _generated.get(cls, False) for cls in _classes(found[0])
            ):
                _verified.add(found[0])
    except Exception:  # noqa: BLE001 - whatever cannot be built again is kept as it is
        found = None
    return (None, model) if found is None else found


def expand(shape: Shape | None, kept: Any) -> Any:
    """The model :func:`compact` gave ``kept`` for (a new, equal object), or ``kept`` itself."""
    if shape is None:
        return kept
    cls, nested = shape
    if not nested:
        return cls(*kept)
    values = list(kept)
    for index, inner in nested:
        values[index] = expand(inner, values[index])
    return cls(*values)
