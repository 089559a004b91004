"""Public classes carry the module path users import them from (``aioavatar.AvatarSession``, not the
private module that defines them): reprs, tracebacks' qualified names and the docs show it, and pickles
name it (the public module binds every one, so a pickle still loads)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

__all__ = ["publish"]


def publish(names: Iterable[str], namespace: Mapping[str, object], module: str) -> None:
    """Set ``__module__`` to ``module`` on each class of ``names`` that a private module of aioavatar
    defines. An attrs class resolves its annotations first, while its defining module still can (cattrs
    reads them later, by that module's name)."""
    for name in names:
        value = namespace[name]
        if isinstance(value, type) and value.__module__.startswith("aioavatar."):
            if attrs.has(value):
                attrs.resolve_types(value)
            value.__module__ = module
