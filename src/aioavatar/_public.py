"""Public classes carry the module path users import them from (``aioavatar.AvatarSession``, not the
private module that defines them): reprs, tracebacks' qualified names and the docs show it, and pickles
name it (the public module binds every one, so a pickle still loads)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

__all__ = ["publish"]


def publish(names: Iterable[str], namespace: Mapping[str, object], module: str) -> None:
    """Set ``__module__`` to ``module`` on each class of ``names`` that another module of aioavatar
    defines (a private one, or ``aioavatar.exceptions``). Every attrs class among
    them resolves its annotations first, while every defining module still can (cattrs reads them
    later, by that module's name; a subclass of a generic model reads its base's ``T`` there)."""
    classes = [
        value
        for value in (namespace[name] for name in names)
        if isinstance(value, type) and value.__module__.startswith("aioavatar.")
    ]
    for cls in classes:
        if attrs.has(cls):
            attrs.resolve_types(cls)
    for cls in classes:
        cls.__module__ = module
