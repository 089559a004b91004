"""A griffe extension for the API reference: the docstrings' reStructuredText shown as Markdown. Sphinx
roles (``:class:`~aioavatar.X```, ``:meth:`stop```) become the code they name (``X``, ``stop``), and the
``::`` that introduces an example is dropped (the indented example is a code block in Markdown too)."""

from __future__ import annotations

import re
from typing import Any

import griffe

#: A role: ``:meth:`stop```, ``:class:`~aioavatar.X```, or with a title: ``:meth:`Title <a.b.c>```.
ROLE = re.compile(r":(?:class|meth|func|data|attr|exc|mod|obj):`(~?)(?:([^`<]+?)\s*<)?([\w.]+)>?`")
#: What is left of a role the pattern above could not read: the build fails on it.
LEFTOVER = re.compile(r":(?:class|meth|func|data|attr|exc|mod|obj):`")
LITERAL = re.compile(r"^(\s*)::$|(?<=\S)::$", re.M)


def plain(match: re.Match[str]) -> str:
    """``~a.b.C`` is ``C``; ``a.b`` stays ``a.b``; a title is shown instead of its target."""
    if match[2]:
        return f"`{match[2]}`"
    name = match[3].rpartition(".")[2] if match[1] else match[3]
    return f"`{name}`"


class SphinxRoles(griffe.Extension):
    """Rewrites each docstring as it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Every object griffe loads: its docstring, roles made plain code."""
        if obj.docstring is not None:
            text = ROLE.sub(plain, obj.docstring.value)
            if LEFTOVER.search(text):
                raise ValueError(
                    f"{obj.path}: a Sphinx role the API reference cannot show: {text!r:.200}"
                )
            obj.docstring.value = LITERAL.sub(lambda m: "" if m[1] is not None else ":", text)
