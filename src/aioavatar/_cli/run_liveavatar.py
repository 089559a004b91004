"""``aioavatar run`` (``--provider liveavatar``, the default): a LiveAvatar session, as :mod:`.runner`
holds every provider's.

What is printed is what a viewer joins the room with: the LiveKit URL and client token, and the
WebSocket URL of a LITE session (where your code sends the audio). ``--sandbox`` and ``--mode`` shape
the session; its keep-alive comes every 60 s unless ``--keep-alive-interval`` says otherwise.
"""

from __future__ import annotations

import argparse
from typing import Any

from .. import SANDBOX_AVATAR_ID, AvatarSession, LiveAvatarClient, Mode
from .._validation import usable_duration
from .clients import liveavatar_client, require_api_key
from .common import LIVEAVATAR
from .holding import output_closed
from .runner import Runner

__all__ = ["LIVEAVATAR_RUNNER"]


def _session(client: LiveAvatarClient, avatar_id: str, args: argparse.Namespace) -> AvatarSession:
    return client.session(
        avatar_id,
        is_sandbox=args.sandbox,
        mode=args.mode or Mode.FULL,
        keep_alive_interval=args.keep_alive_interval or 60.0,
        end_reason_for=output_closed,
    )


def _started_fields(session: AvatarSession) -> dict[str, Any]:
    info = session.info
    return {
        "livekit_url": info.livekit_url,
        "livekit_client_token": info.livekit_client_token,
        "ws_url": info.ws_url,
        # Only a usable one (rule 8): never NaN or Infinity, which are no JSON.
        "max_session_duration": usable_duration(info.max_session_duration),
    }


def _started_lines(session: AvatarSession) -> list[str]:
    info = session.info
    seconds = usable_duration(info.max_session_duration)
    limit = f" (the server ends it after {seconds:g} s)" if seconds is not None else ""
    lines = [
        f"Session {session.session_id} is live{limit}.",
        f"LiveKit URL:          {info.livekit_url}",
        f"LiveKit client token: {info.livekit_client_token}",
    ]
    if info.ws_url:
        lines.append(f"WebSocket URL (LITE): {info.ws_url}")
    return [*lines, "A viewer joins the room with the first two."]


LIVEAVATAR_RUNNER = Runner(
    provider=LIVEAVATAR,
    label="LiveAvatar",
    avatar="id",
    sandbox_avatar=SANDBOX_AVATAR_ID,
    emulator_avatar=SANDBOX_AVATAR_ID,
    account_client=lambda args, hint: liveavatar_client(args, api_key=require_api_key(args, hint)),
    emulator_client=lambda api_key, base_url: LiveAvatarClient(api_key, base_url=base_url),
    session=_session,
    started_fields=_started_fields,
    started_lines=_started_lines,
)
