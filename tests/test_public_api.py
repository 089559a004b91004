"""The public surface: each public module's ``__all__`` is sorted, complete and documented.

The order is ruff's RUF022 ("isort-style"): SCREAMING_SNAKE_CASE constants first, then CamelCase
classes, then everything else, each group in natural order. It is the order every ``__all__`` of the
package is written in, and the one ``ruff check --select RUF022`` checks and fixes, so the tool and
this test never disagree. Constants obey it like any other name: they lead because they are constants.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import itertools
import re
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, get_origin

import pytest

#: The modules users import names from.
PUBLIC_MODULES = [
    "aioavatar",
    "aioavatar.exceptions",
    "aioavatar.kaltura",
    "aioavatar.liveavatar",
    "aioavatar.testing",
]

#: Names that are not part of any API even when a module binds them.
NOT_API = {"TYPE_CHECKING"}


def order(name: str) -> tuple[int, tuple[tuple[int, int | str], ...]]:
    """The RUF022 sort key: constants, then classes, then the rest; natural order within each."""
    if len(name) > 1 and name.upper() == name and name.lower() != name:
        group = 0  # SCREAMING_SNAKE_CASE
    elif name[:1].isupper():
        group = 1  # CamelCase
    else:
        group = 2
    chunks = re.split(r"(\d+)", name)
    natural = tuple((0, int(c)) if c.isdigit() else (1, c) for c in chunks if c)
    return group, natural


def public(name: str) -> ModuleType:
    """The module, imported."""
    return importlib.import_module(name)


def api_members(module: ModuleType) -> set[str]:
    """The public names a module binds that belong to its API: the classes and functions of
    aioavatar it defines or re-exports, and its constants."""
    names = set()
    for name, value in vars(module).items():
        if name.startswith("_") or name in NOT_API or isinstance(value, ModuleType):
            continue
        if inspect.isclass(value) or inspect.isroutine(value):
            if (getattr(value, "__module__", None) or "").startswith("aioavatar"):
                names.add(name)
        elif name.isupper():
            names.add(name)
    return names


@functools.cache
def documented_aliases() -> frozenset[str]:
    """The type aliases of the package with a docstring: the string right below the assignment, which
    the documentation reads (a ``Literal`` alias has no ``__doc__`` of its own)."""
    names = set()
    for path in (Path(__file__).resolve().parent.parent / "src" / "aioavatar").rglob("*.py"):
        body = ast.parse(path.read_text(encoding="utf-8")).body
        for node, after in itertools.pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
                and after.value.value.strip()
            ):
                names.add(node.target.id)
    return frozenset(names)


def undocumented(value: Any, name: str) -> list[str]:
    """``name`` and the public methods and properties of a class (its own and those it inherits from
    aioavatar's classes) that have no docstring."""
    if get_origin(value) is Literal:
        return [] if name in documented_aliases() else [name]
    if not inspect.isclass(value):
        return [] if (getattr(value, "__doc__", None) or "").strip() else [name]
    missing = [] if (vars(value).get("__doc__") or "").strip() else [name]
    for attribute in dir(value):
        if attribute.startswith("_"):
            continue
        owner = next((c for c in value.__mro__ if attribute in vars(c)), None)
        if owner is None or not owner.__module__.startswith("aioavatar"):
            continue  # object's, Exception's, Enum's: not ours to document
        member = vars(owner)[attribute]
        if isinstance(member, classmethod | staticmethod):
            doc = member.__func__.__doc__
        elif isinstance(member, property | functools.cached_property) or inspect.isfunction(member):
            doc = member.__doc__
        else:
            continue  # a field, an enum member, a constant
        if not (doc or "").strip():
            missing.append(f"{owner.__qualname__}.{attribute}")
    return missing


#: The package root lists its own names, then each provider's __all__ (the root re-exports them whole).
COMPOSED = {"aioavatar": ("aioavatar.kaltura", "aioavatar.liveavatar")}


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_sorted(name: str) -> None:
    """__all__ is in RUF022's order (constants, classes, the rest), with no name twice; the package
    root's is its own sorted list followed by each provider's, whole."""
    names = list(public(name).__all__)
    assert len(names) == len(set(names)), f"{name}.__all__ names something twice"
    parts = [list(public(part).__all__) for part in COMPOSED.get(name, ())]
    own = names[: len(names) - sum(len(part) for part in parts)]
    assert names == [*own, *(n for part in parts for n in part)], f"{name}.__all__ is not composed"
    for segment in (own, *parts):
        wanted = sorted(segment, key=order)
        assert segment == wanted, f"{name}.__all__ should read:\n{wanted}"


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_complete(name: str) -> None:
    """Every class and function of aioavatar that the module binds, and every constant, is in __all__,
    and every name in __all__ exists."""
    module = public(name)
    exported = set(module.__all__)
    assert not [n for n in exported if not hasattr(module, n)], (
        f"{name}.__all__ names what is not there"
    )
    left_out = sorted(api_members(module) - exported)
    assert not left_out, f"{name} binds {left_out} without exporting them"


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_documented(name: str) -> None:
    """Every class and function in __all__ has a docstring, and so does every public method and
    property of those classes."""
    module = public(name)
    missing = [m for n in module.__all__ for m in undocumented(getattr(module, n), n)]
    assert not missing, f"{name}: no docstring for {missing}"


def test_the_sandbox_avatar_id_is_exported() -> None:
    """The one avatar of sandbox sessions is a constant of the package."""
    import aioavatar

    assert aioavatar.SANDBOX_AVATAR_ID == "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"
    assert aioavatar.liveavatar.SANDBOX_AVATAR_ID == aioavatar.SANDBOX_AVATAR_ID
