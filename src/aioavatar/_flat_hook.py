"""``flat_hook``: the first pass over an answer whose model is flat.

A flat model's fields are all plain JSON values (text, numbers, flags, each optional or not, a
:class:`~aioavatar.Secret` as text) or read by a hook of their own (``override(struct_hook=...)``).
A session's answers are flat (its token; where to join it once started) and read once per session:
cattrs' hook calls a strict hook per field and gathers each field's error under its name (reading
the start's answer into its model at all measured 2-3 % of a start call's CPU in the benchmark). The
first pass checks each value's type inline and builds the model in one call: 1.41 against 1.95 µs
warm for the start's answer.

It takes nothing it would read differently. An answer that is not a ``dict``, a field missing or of
another type, or an own hook that raises, goes to cattrs' hook, whose result or error is the answer's.
Own hooks run only once every other value has passed, so a hook runs once for an answer that is
taken (an answer that an own hook refuses runs the hooks before it again, in cattrs' hook). An error
of the model's validators is raised as cattrs raises it. The two agree on every answer JSON can
give (``tests/test_flat_hook.py`` compares them over generated ones); a dict that holds the first
pass's own marker of a missing key as a value, or a key whose comparison raises, is no such answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

import attrs
from cattrs.errors import ClassValidationError

from ._secret import Secret

__all__ = ["flat_hook"]

T = TypeVar("T")

#: The inline check of each plain type, on the value ``{v}``.
_CHECKS: dict[Any, str] = {
    str: "type({v}) is str",
    Secret: "type({v}) is str",
    int: "type({v}) is int",
    float: "(type({v}) is float or type({v}) is int)",
    bool: "type({v}) is bool",
}
_CHECKS.update({kind | None: f"({{v}} is None or {check})" for kind, check in _CHECKS.items()})
#: What the model is given for a value that passed its check, where it is not the value itself.
_TAKEN: dict[Any, str] = {
    Secret: "Secret({v})",
    Secret | None: "(None if {v} is None else Secret({v}))",
}


class _Missing:
    """A key the answer does not have (``None`` is a value it may send)."""


def flat_hook(
    cls: type[T], overrides: Mapping[str, Any], fallback: Callable[[Any, Any], T]
) -> Callable[[Any, Any], T] | None:
    """The first pass for the response model ``cls`` read with cattrs ``overrides`` (renames and own
    hooks), which hands what it does not take to ``fallback`` (cattrs' hook for ``cls``); ``None``
    when ``cls`` is not flat (a nested model, a list, an enum, a default made by a factory, ...), or
    is not built by attrs' own ``__init__``, or its overrides hold more than a rename and a hook per
    field (cattrs' options, such as refusing unknown keys)."""
    fields = attrs.fields(cast(Any, cls))
    init = getattr(cls.__init__, "__code__", None)
    if (
        init is None
        or "attrs generated" not in init.co_filename  # an __init__ of the model's own
        or set(overrides) - {field.name for field in fields}
    ):
        return None
    names: dict[str, Any] = {
        "cls": cls,
        "fallback": fallback,
        "Secret": Secret,
        "MISSING": _Missing,
        "ClassValidationError": ClassValidationError,
    }
    reads: list[str] = []  # each value, from the answer
    checks: list[str] = []  # what the answer must pass to be taken here
    hooks: list[str] = []  # each own hook, once the checks passed
    args: list[str] = []  # what the model is built from: by position, in the fields' order
    keywords: list[str] = []  # and its keyword-only fields (attrs puts them after the others)
    for index, field in enumerate(fields):
        given = overrides.get(field.name)
        hook = None if given is None else given.struct_hook
        kind = field.type  # resolved: cattrs' hook (``fallback``) was made first
        if (
            not field.init
            or isinstance(field.default, attrs.Factory)  # type: ignore[arg-type]
            or (given is not None and given.omit)
            or (hook is None and not _plain(kind))
        ):
            return None
        v = f"v{index}"
        rename = None if given is None else given.rename
        names[f"k{index}"] = field.name if rename is None else rename  # "" is a key too
        reads.append(f"        {v} = get(k{index}, MISSING)")
        required = field.default is attrs.NOTHING
        if hook is None:
            check = _CHECKS[kind].format(v=v)
            checks.append(check if required else f"({v} is MISSING or {check})")
            value = _TAKEN.get(kind, "{v}").format(v=v)
        else:
            names[f"h{index}"], names[f"t{index}"] = hook, kind
            if required:
                checks.append(f"{v} is not MISSING")
                hooks.append(f"                {v} = h{index}({v}, t{index})")
            else:
                hooks.append(
                    f"                if {v} is not MISSING: {v} = h{index}({v}, t{index})"
                )
            value = v
        if not required:
            names[f"d{index}"] = field.default
            value = f"(d{index} if {v} is MISSING else {value})"
        if field.kw_only:
            keywords.append(f"{field.alias}={value}")
        else:
            args.append(value)
    own_hooks = (
        [
            "            try:",
            *hooks,
            "            except Exception:",
            "                return fallback(o, _)",
        ]
        if hooks
        else []
    )
    source = "\n".join(
        [
            "def first_pass(o, _):",
            "    if type(o) is dict:",
            "        get = o.get",
            *reads,
            f"        if {' and '.join(checks) or 'True'}:",
            *own_hooks,
            "            try:",
            f"                return cls({', '.join([*args, *keywords])})",
            "            except Exception as exc:",
            f"                raise ClassValidationError({'While structuring ' + cls.__name__!r},"
            " [exc], cls)",
            "    return fallback(o, _)",
        ]
    )
    exec(compile(source, f"<first pass of {cls.__qualname__}>", "exec"), names)  # noqa: S102
    first_pass: Callable[[Any, Any], T] = names["first_pass"]
    return first_pass


def _plain(kind: Any) -> bool:
    """Whether the first pass checks a value of type ``kind`` inline."""
    try:
        return kind in _CHECKS
    except TypeError:  # unhashable: no plain type
        return False
