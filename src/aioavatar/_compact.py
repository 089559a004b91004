"""A model a session keeps for its life, held as plain values that the garbage collector does not walk.

An attrs model is an object every full collection visits for as long as it is held, and a session
holds its start answer for its whole life. A tuple of strings and numbers is one object that CPython
stops tracking as soon as a collection has looked at it. :func:`compact` turns a model (and the
models nested in it) into such tuples, and :func:`expand` builds an equal model again, each time it is
read (``session.info``: a new, equal object on each read).

Only a model that can be built again from its values is compacted: an attrs class whose fields are
all positional ``__init__`` arguments, with no converter, validator or ``__attrs_post_init__`` to run
again. Anything else is kept as it is (``shape`` ``None``). The values keep what the model had: a
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

_shapes: dict[Shape, Shape] = {}
_rebuildable: dict[type, bool] = {}


def _can_rebuild(cls: type) -> bool:
    known = _rebuildable.get(cls)
    if known is None:
        known = _rebuildable[cls] = (
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
    return _shapes.setdefault(shape, shape), tuple(values)


def compact(model: object) -> tuple[Shape | None, Any]:
    """``model`` as (its shape, its values), or ``(None, model)`` when it cannot be built again."""
    found = _shape(model)
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
