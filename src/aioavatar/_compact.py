"""A model a session keeps for its life, held as plain values that the garbage collector does not walk.

An attrs model is an object every full collection visits for as long as it is held, and a session
holds its start answer for its whole life. A tuple of strings and numbers is one object that CPython
stops tracking as soon as a collection has looked at it. :func:`compact` turns a model (and the
models nested in it) into such tuples, and :func:`expand` builds an equal model again, each time it is
read (``session.info``: a new, equal object on each read).

Only a model that can be built again from its values is compacted: a frozen attrs class whose fields
are all positional ``__init__`` arguments, with no converter, validator or ``__attrs_post_init__`` to
run again, and which :func:`compact` has built again, equal, from the values. Anything else is kept as
it is (``shape`` ``None``). The values keep what the model had: a
credential field shows in the ``repr`` of the tuple (a private attribute, never logged), not in
the model's, as before.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import attrs

__all__ = ["Shape", "compact", "expand"]

#: A compacted model's class and, by field position, the shapes of the models nested in it. One
#: shared object per class and nesting (so that sessions hold no shape of their own).
Shape: TypeAlias = tuple[type, tuple[tuple[int, "Shape"], ...]]

# Per class and per nesting; bounded (classes made at run time are then looked at each time).
_CACHED = 256
_shapes: dict[Shape, Shape] = {}
_rebuildable: dict[type, bool] = {}


def _can_rebuild(cls: type) -> bool:
    known = _rebuildable.get(cls)
    if known is None:
        known = (
            attrs.has(cls)
            and not hasattr(cls, "__attrs_post_init__")
            and all(
                field.init
                and not field.kw_only
                and field.converter is None
                and field.validator is None
                for field in attrs.fields(cls)
            )
        )
        if len(_rebuildable) < _CACHED:
            _rebuildable[cls] = known
    return known


def _shape(model: object) -> tuple[Shape, tuple[Any, ...]] | None:
    cls = type(model)
    if not _can_rebuild(cls):
        return None
    values = list(attrs.astuple(model, recurse=False))  # type: ignore[arg-type]
    nested: list[tuple[int, Shape]] = []
    for index, value in enumerate(values):
        inner = _shape(value)
        if inner is not None:
            nested.append((index, inner[0]))
            values[index] = inner[1]
    shape: Shape = (cls, tuple(nested))
    if len(_shapes) < _CACHED:
        shape = _shapes.setdefault(shape, shape)
    return shape, tuple(values)


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
        if found is not None:
            again = expand(*found)
            if type(again) is not type(model) or again != model or not _frozen(again):
                found = None
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
