"""``aioavatar run`` for any provider: what it needs to know of one (:class:`Runner`), and the flow they
all follow (:func:`run_with`).

On ``--emulator`` the provider's emulator is started in this process with a fresh credential; else the
client comes from the account's credential. Either way the session is held (signals, ``--duration`` and
exit statuses in :mod:`.holding`), what a viewer joins it with is printed once it is live, and its end
is reported.
"""

from __future__ import annotations

import argparse
import secrets
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, TypeVar

import attrs

from .. import BaseSession
from .common import LIVEAVATAR, UsageError, emulator_for, print_json, printable
from .holding import (
    Interrupts,
    conclude,
    hold,
    keeping,
    raise_unconfirmed,
    run_interruptible,
)

__all__ = ["Runner", "run_with"]

ClientT = TypeVar("ClientT", bound=AbstractAsyncContextManager[Any])
SessionT = TypeVar("SessionT", bound=BaseSession[Any])


@attrs.frozen(kw_only=True)
class Runner(Generic[ClientT, SessionT]):
    """What ``run`` needs to know of one provider.

    Attributes:
        provider: its ``--provider`` name, which also picks the emulator of ``--emulator``.
        label: its name in the line that announces the emulator.
        avatar: what its avatar id is called (in the error that asks for one).
        emulator_avatar: the avatar asked for on the emulator when none is given.
        sandbox_avatar: the avatar of a sandbox session (``--sandbox``) when none is given, if the
            provider has one.
        account_client: the client for the account, from the flags and the environment; the
            second argument ends the error that a missing credential raises.
        emulator_client: the client for the emulator, from its credential and base URL.
        session: the session to hold, from the client, the avatar id and the flags.
        started_fields: what a viewer joins the live session with, as the ``started`` event's
            fields (after ``event`` and ``session_id``).
        started_lines: the same as lines of text, the last one a sentence saying how to join.
    """

    provider: str
    label: str
    avatar: str
    emulator_avatar: str
    sandbox_avatar: str | None
    account_client: Callable[[argparse.Namespace, str], ClientT]
    emulator_client: Callable[[str, str], ClientT]
    session: Callable[[ClientT, str, argparse.Namespace], SessionT]
    started_fields: Callable[[SessionT], dict[str, Any]]
    started_lines: Callable[[SessionT], list[str]]

    @property
    def command(self) -> str:
        """The command line that runs this provider, as the errors quote it."""
        flag = "" if self.provider == LIVEAVATAR else f" --provider {self.provider}"
        return f"aioavatar run{flag}"


def run_with(runner: Runner[ClientT, SessionT], args: argparse.Namespace) -> int:
    """Hold a session of ``runner``'s provider as the flags ask; return the exit status.

    Raises:
        UsageError: no avatar id (without ``--emulator``), or no credential for the account.
    """
    if args.emulator:
        return run_interruptible(lambda interrupts: _on_emulator(runner, args, interrupts))
    if args.avatar_id is None and getattr(args, "sandbox", False):
        args.avatar_id = runner.sandbox_avatar  # the one avatar a sandbox session may use
    if args.avatar_id is None:
        sandbox = ", `--sandbox`" if runner.sandbox_avatar is not None else ""
        raise UsageError(
            f"give the avatar's {runner.avatar}: `{runner.command} AVATAR_ID` "
            f"(or try `{runner.command} --emulator`{sandbox})"
        )
    client = runner.account_client(args, f" (or try `{runner.command} --emulator` without one)")
    # The session's arguments are checked here, before any request.
    session = runner.session(client, args.avatar_id, args)
    return run_interruptible(lambda interrupts: _hold(runner, client, session, args, interrupts))


async def _on_emulator(
    runner: Runner[ClientT, SessionT], args: argparse.Namespace, interrupts: Interrupts
) -> int:
    credential = secrets.token_urlsafe(16)
    async with emulator_for(runner.provider, credential) as emulator:
        if not args.json:
            print(f"Embedded {runner.label} emulator at {emulator.base_url}", flush=True)
        client = runner.emulator_client(credential, emulator.base_url)
        session = runner.session(client, args.avatar_id or runner.emulator_avatar, args)
        return await _hold(runner, client, session, args, interrupts)


async def _hold(
    runner: Runner[ClientT, SessionT],
    client: ClientT,
    session: SessionT,
    args: argparse.Namespace,
    interrupts: Interrupts,
) -> int:
    async with client:
        try:
            held = await hold(
                session,
                interrupts,
                duration=args.duration,
                on_started=lambda: _report_started(runner, session, args.duration, args.json),
            )
        except (Exception, KeyboardInterrupt) as exc:
            if not session.may_still_run:
                raise
            # Whatever ended the block, a session that may still run is what the user must learn:
            # its line, on standard error, and exit 1.
            raise_unconfirmed(session, args.json, exc)
    return conclude(session, held, interrupts, json_lines=args.json)


def _report_started(
    runner: Runner[ClientT, SessionT], session: SessionT, duration: float | None, json_lines: bool
) -> None:
    """``run``'s ``started`` event, or its lines (and for how long the session is kept)."""
    if json_lines:
        print_json(
            {"event": "started", "session_id": session.session_id, **runner.started_fields(session)}
        )
        return
    *lines, how_to_join = runner.started_lines(session)
    for line in lines:
        print(printable(line))  # what the server wrote (a URL, a token), for a terminal
    print(f"{how_to_join} {keeping(duration)}", flush=True)
