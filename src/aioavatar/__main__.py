"""``python -m aioavatar``: the same as the ``aioavatar`` console script."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the command line."""
    from ._cli import run

    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
