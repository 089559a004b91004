"""The ``aioavatar`` console script's entry point, outside the ``aioavatar`` package.

Importing ``aioavatar`` takes a few hundred milliseconds (aiohttp and its TLS context). A Ctrl-C in that
time, inside the package, would end in a ``KeyboardInterrupt`` traceback; from here it exits 130 with
one line, as a Ctrl-C at any later moment does (:func:`aioavatar.__main__.main`).
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> int:
    """Import and run the command line; 130 for a Ctrl-C during the import."""
    try:
        from aioavatar.__main__ import main as aioavatar_main
    except KeyboardInterrupt:
        try:
            sys.stderr.write("aioavatar: interrupted\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        return 130
    return aioavatar_main()
