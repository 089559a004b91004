"""The ``aioavatar`` console script: a thin shell over the public API.

Commands (one module each):

* ``demo``: a whole session against the embedded emulator, no account needed (:mod:`.demo`);
* ``run``: open a session, print where a viewer joins, keep it alive until Ctrl-C (:mod:`.run_session`;
  its signals and exit statuses, shared with ``demo``, in :mod:`.holding`);
* ``sessions list|get|stop|reap``: see and stop the account's sessions (:mod:`.sessions`);
* ``emulator``: serve a provider's emulator until Ctrl-C (:mod:`.emulator`).

Exit statuses: 0 done; 1 the API refused or did not answer (status, code and message printed), or a
session ended elsewhere; 2 a mistake the user can fix (one line naming the fix); 130 interrupted
(Ctrl-C). No traceback for any of these.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from . import demo, emulator, run_session, sessions
from .common import EXIT_INTERRUPTED, Parser, error_report, single, verbose_logging

__all__ = ["run"]


def _parser() -> Parser:
    parser = Parser(
        prog="aioavatar",
        description="Live avatar sessions from the command line (LiveAvatar; emulators for tests).",
    )
    commands = parser.add_subparsers(dest="command_name", required=True, metavar="COMMAND")
    demo.add_parser(commands)
    run_session.add_parser(commands)
    sessions.add_parser(commands)
    emulator.add_parser(commands)
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the command and return the exit status."""
    args = _parser().parse_args(argv)
    try:
        with verbose_logging(getattr(args, "verbose", False)):
            status: int = args.command(args)
    except BaseException as exc:
        if isinstance(single(exc), KeyboardInterrupt):  # Ctrl-C where no signal handler was set
            print("aioavatar: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        report = error_report(exc)
        if report is None:
            raise
        status, line = report
        print(f"aioavatar: {line}", file=sys.stderr)
    return status
