"""``python -m aioavatar.testing``: the same as ``aioavatar emulator`` (same options, same output)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``aioavatar emulator`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    from aioavatar._cli import run  # the command line sits above the testing layer: import on use

    return run(["emulator", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
