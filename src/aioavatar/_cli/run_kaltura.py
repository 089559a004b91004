"""``aioavatar run --provider kaltura``: a Kaltura Avatar session, as :mod:`.runner` holds every
provider's.

The KS comes from ``--ks`` or ``KALTURA_AVATAR_KS``, the API root from ``--base-url``,
``KALTURA_AVATAR_BASE_URL`` or ``--region``. What is printed is what a viewer plays the stream with: the
WHEP URL and the TURN server (they grant no control). The session's own token, which does, is never
printed. Kaltura's end takes no reason: the reason shown is the one the SDK recorded (``USER_CLOSED``
for Ctrl-C, SIGTERM and ``--duration``), and ``UNKNOWN`` for a session ended elsewhere, since Kaltura
cannot say why. Signals and exit statuses: as for LiveAvatar (:mod:`.holding`).
"""

from __future__ import annotations

import argparse
from typing import Any

from .. import KalturaAvatarClient, KalturaAvatarSession
from .clients import kaltura_client, require_ks
from .common import KALTURA
from .holding import output_closed
from .runner import Runner

__all__ = ["EMULATOR_AVATAR_ID", "KALTURA_RUNNER"]

#: The avatar ``run --provider kaltura --emulator`` asks for unless told (the emulator takes any id).
EMULATOR_AVATAR_ID = "65f1a2b3c4d5e6f708192a3b"


def _session(
    client: KalturaAvatarClient, avatar_id: str, args: argparse.Namespace
) -> KalturaAvatarSession:
    return client.session(
        avatar_id,
        keep_alive_interval=args.keep_alive_interval or 10.0,
        end_reason_for=output_closed,
    )


def _started_fields(session: KalturaAvatarSession) -> dict[str, Any]:
    info = session.info
    turn = {
        "url": info.turn.url,
        "username": info.turn.username,
        "credential": info.turn.credential,
    }
    return {"whep_url": info.whep_url, "turn": turn}


def _started_lines(session: KalturaAvatarSession) -> list[str]:
    info = session.info
    return [
        f"Session {session.session_id} is live.",
        f"WHEP URL:        {info.whep_url}",
        f"TURN server:     {info.turn.url}",
        f"TURN username:   {info.turn.username}",
        f"TURN credential: {info.turn.credential}",
        "A viewer plays the stream from the WHEP URL through that TURN server.",
    ]


KALTURA_RUNNER = Runner(
    provider=KALTURA,
    label="Kaltura Avatar",
    avatar="catalog id",
    sandbox_avatar=None,
    emulator_avatar=EMULATOR_AVATAR_ID,
    account_client=lambda args, hint: kaltura_client(args, require_ks(args, hint)),
    emulator_client=lambda ks, base_url: KalturaAvatarClient(ks, base_url=base_url),
    session=_session,
    started_fields=_started_fields,
    started_lines=_started_lines,
)
