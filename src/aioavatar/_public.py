"""Public classes carry the module path users import them from (``aioavatar.AvatarSession``, not the
private module that defines them): reprs, tracebacks' qualified names and the docs show it, and pickles
name it (the public module binds every one, so a pickle still loads).

What the renaming costs: ``inspect.getsource`` no longer finds a class (it looks in the module its
``__module__`` names). ``typing.get_type_hints`` still works: each class's own annotations are resolved
first, in the module that wrote them."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterable, Mapping

import attrs

__all__ = ["publish"]


def publish(names: Iterable[str], namespace: Mapping[str, object], module: str) -> None:
    """Set ``__module__`` to ``module`` on each class of ``names`` that another module of aioavatar
    defines (a private one, or ``aioavatar.exceptions``). Every class among them resolves its
    annotations first, while every defining module still can, once (an attrs class's fields then
    take them as they are: cattrs reads them later, by the public module's name; a subclass of a
    generic model reads its base's ``T`` there)."""
    classes = [
        value
        for value in (namespace[name] for name in names)
        if isinstance(value, type) and value.__module__.startswith("aioavatar.")
    ]
    for cls in classes:
        _resolve_annotations(cls)
        if attrs.has(cls):  # its fields' types, read from the annotations just resolved
            attrs.resolve_types(cls)
    for cls in classes:
        cls.__module__ = module


def _resolve_annotations(cls: type) -> None:
    """Replace the class's own string annotations by what they name, while its module can say
    (``typing.get_type_hints`` would look them up in the public module once renamed). A class whose
    hints cannot be resolved even now keeps them as they are."""
    own = inspect.get_annotations(cls)
    if not own:
        return
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except (NameError, TypeError, AttributeError):
        return
    cls.__annotations__ = {name: hints.get(name, value) for name, value in own.items()}
