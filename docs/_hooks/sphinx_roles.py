"""A griffe extension for the API reference: the docstrings' reStructuredText shown as Markdown. Sphinx
roles (``:class:`~aioavatar.X```, ``:meth:`stop```) become the code they name (``X``, ``stop``), and the
``::`` that introduces an example is dropped (the indented example is a code block in Markdown too)."""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|meth|func|data|attr|exc|mod|obj):`(~?)([\w.]+)`")
LITERAL = re.compile(r"^(\s*)::$|(?<=\S)::$", re.M)


def plain(match: re.Match[str]) -> str:
    """``~a.b.C`` is ``C``; ``a.b`` stays ``a.b``."""
    name = match[2].rpartition(".")[2] if match[1] else match[2]
    return f"`{name}`"


class SphinxRoles(griffe.Extension):
    """Rewrites each docstring as it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Every object griffe loads: its docstring, roles made plain code."""
        if obj.docstring is not None:
            text = ROLE.sub(plain, obj.docstring.value)
            obj.docstring.value = LITERAL.sub(lambda m: "" if m[1] is not None else ":", text)
