"""The ``aioavatar`` console script: a thin shell over the public API.

Commands (one module each, declared as an :class:`~.options.Command`):

* ``demo``: a whole session against the embedded emulator, no account needed (:mod:`.demo`);
* ``run``: open a session, print where a viewer joins, keep it alive until Ctrl-C (:mod:`.run_session`;
  the flow of every provider in :mod:`.runner`, what each prints in :mod:`.run_liveavatar` and
  :mod:`.run_kaltura`; signals and exit statuses of ``run`` and ``demo`` in :mod:`.holding`);
* ``sessions list|get|stop|reap``: see and stop the account's sessions (:mod:`.sessions`);
* ``avatars list``, ``voices list``, ``credits`` and Kaltura's ``catalog list``: what a session can
  refer to and whether the account can pay for it (:mod:`.resources`);
* ``emulator``: serve a provider's emulator until Ctrl-C (:mod:`.emulator`).

Exit statuses: 0 done; 1 the API refused or did not answer (status, code and message printed), or a
session ended elsewhere; 2 a mistake the user can fix (one line naming the fix); 130 interrupted
(Ctrl-C); 141 standard output was closed (``| head -1``). No traceback for any of these.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from . import demo, emulator, resources, run_session, sessions
from .common import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    error_report,
    notice,
    silence_stdout,
    single,
    verbose_logging,
)
from .options import Parser, add_commands

__all__ = ["run"]


def _parser() -> Parser:
    parser = Parser(
        prog="aioavatar",
        description="Live avatar sessions from the command line (LiveAvatar, Kaltura Avatar; "
        "emulators of both for tests).",
    )
    parser.add_argument("--version", action="version", version=f"aioavatar {__version__}")
    commands = (
        demo.COMMAND,
        run_session.COMMAND,
        sessions.COMMAND,
        resources.AVATARS,
        resources.VOICES,
        resources.CREDITS,
        resources.CATALOG,
        emulator.COMMAND,
    )
    add_commands(parser, commands, dest="command_name", metavar="COMMAND")
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the command and return the exit status.

    Raises:
        SystemExit: from argparse (``--help``, ``--version``, a usage error), with its status.
    """
    args: argparse.Namespace | None = None
    try:
        args = _parser().parse_args(argv)
        with verbose_logging(getattr(args, "verbose", False)):
            status: int = args.command(args)
    except BaseException as exc:  # noqa: BLE001 - reported in one line, or re-raised
        return _failure(exc, args)
    return status


def _failure(exc: BaseException, args: argparse.Namespace | None) -> int:
    """The exit status for ``exc``, its one line printed; re-raises what is not ours to report."""
    leaf = single(exc)
    if isinstance(leaf, KeyboardInterrupt):  # Ctrl-C where no signal handler was set
        notice("aioavatar: interrupted")
        return EXIT_INTERRUPTED
    if isinstance(leaf, BrokenPipeError):  # the reader of standard output has gone
        silence_stdout()
        return EXIT_BROKEN_PIPE
    if isinstance(leaf, OSError):  # standard output that cannot be written, a port in use, ...
        try:
            if sys.stdout is not None:
                sys.stdout.flush()
        except OSError:  # it was standard output: what is still buffered goes nowhere
            silence_stdout()
        notice(f"aioavatar: {leaf}")
        return EXIT_FAILURE
    report = error_report(leaf, args)
    if report is None:
        raise exc
    status, line = report
    notice(f"aioavatar: {line}")
    return status
