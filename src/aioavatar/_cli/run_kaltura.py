"""``aioavatar run --provider kaltura``: a Kaltura Avatar session, held as ``run`` holds LiveAvatar's.

The KS comes from ``--ks`` or ``KALTURA_AVATAR_KS``, the API root from ``--base-url``,
``KALTURA_AVATAR_BASE_URL`` or ``--region``. What is printed is what a viewer plays the stream with: the
WHEP URL and the TURN server (they grant no control). The session's own token, which does, is never
printed. Kaltura's end takes no reason: the reason shown is the one the SDK recorded (``USER_CLOSED``
for Ctrl-C, SIGTERM and ``--duration``), and ``UNKNOWN`` for a session ended elsewhere, since Kaltura
cannot say why. Signals and exit statuses: as for LiveAvatar (:mod:`.holding`).
"""

from __future__ import annotations

import argparse
import secrets

from .. import KalturaAvatarClient, KalturaAvatarSession
from .clients import kaltura_client, require_ks
from .common import UsageError, print_json
from .holding import Interrupts, conclude, hold, keeping, output_closed, run_interruptible

__all__ = ["EMULATOR_AVATAR_ID", "command"]

#: The avatar ``run --provider kaltura --emulator`` asks for unless told (the emulator takes any id).
EMULATOR_AVATAR_ID = "65f1a2b3c4d5e6f708192a3b"


def command(args: argparse.Namespace) -> int:
    if args.emulator:
        return run_interruptible(lambda interrupts: _on_emulator(args, interrupts))
    if args.avatar_id is None:
        raise UsageError(
            "give the avatar's catalog id: `aioavatar run --provider kaltura AVATAR_ID` "
            "(or try `aioavatar run --provider kaltura --emulator`)"
        )
    ks = require_ks(args, " (or try `aioavatar run --provider kaltura --emulator` without one)")
    client = kaltura_client(args, ks)
    session = _session(client, args.avatar_id, args)  # its arguments checked before any request
    return run_interruptible(lambda interrupts: _hold(client, session, args, interrupts))


def _session(
    client: KalturaAvatarClient, avatar_id: str, args: argparse.Namespace
) -> KalturaAvatarSession:
    return client.session(
        avatar_id,
        keep_alive_interval=args.keep_alive_interval or 10.0,
        end_reason_for=output_closed,
    )


async def _on_emulator(args: argparse.Namespace, interrupts: Interrupts) -> int:
    from ..testing import KalturaEmulator  # aiohttp.web: loaded only when a command needs it

    async with KalturaEmulator(ks=secrets.token_urlsafe(16)) as emulator:
        if not args.json:
            print(f"Embedded Kaltura Avatar emulator at {emulator.base_url}", flush=True)
        client = KalturaAvatarClient(emulator.ks, base_url=emulator.base_url)
        session = _session(client, args.avatar_id or EMULATOR_AVATAR_ID, args)
        return await _hold(client, session, args, interrupts)


async def _hold(
    client: KalturaAvatarClient,
    session: KalturaAvatarSession,
    args: argparse.Namespace,
    interrupts: Interrupts,
) -> int:
    async with client:
        held = await hold(
            session,
            interrupts,
            duration=args.duration,
            on_started=lambda: _report_started(session, args.duration, args.json),
        )
    return conclude(session, held, interrupts, json_lines=args.json)


def _report_started(
    session: KalturaAvatarSession, duration: float | None, json_lines: bool
) -> None:
    info = session.info
    turn = info.turn
    if json_lines:
        print_json(
            {
                "event": "started",
                "session_id": session.session_id,
                "whep_url": info.whep_url,
                "turn": {"url": turn.url, "username": turn.username, "credential": turn.credential},
            }
        )
        return
    print(f"Session {session.session_id} is live.")
    print(f"WHEP URL:        {info.whep_url}")
    print(f"TURN server:     {turn.url}")
    print(f"TURN username:   {turn.username}")
    print(f"TURN credential: {turn.credential}")
    print(
        f"A viewer plays the stream from the WHEP URL through that TURN server. {keeping(duration)}",
        flush=True,
    )
