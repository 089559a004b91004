"""A Kaltura Avatar session that speaks an audio file, then ends.

Run it against the embedded emulator (no account)::

    python examples/kaltura_speak.py --emulator hello.mp3 --duration 2.4

or against Kaltura with an admin KS::

    KALTURA_AVATAR_KS=... python examples/kaltura_speak.py --avatar-id AVATAR_ID hello.mp3 --duration 2.4

Kaltura needs the audio's length in seconds (a wrong one desyncs the lips without any error). For a WAV
file it is read from the file; for MP3 (the format Kaltura verified) give ``--duration``. The session
prints what a viewer needs (the WHEP URL and the TURN server), queues the audio, waits while the avatar
says it, and ends: the SDK sends exactly one ``end``, however the script stops.
"""

from __future__ import annotations

import argparse
import mimetypes
import sys
import wave
from pathlib import Path

import anyio

from aioavatar import AvatarError, KalturaAvatarClient, KalturaAvatarSession

# Time for the avatar to start speaking after the audio is queued.
_START_MARGIN = 0.5


def wav_duration(path: Path) -> float:
    """The length of a WAV file in seconds.

    Raises:
        wave.Error, OSError: not a readable WAV file.
    """
    with wave.open(str(path), "rb") as audio:
        return audio.getnframes() / audio.getframerate()


async def speak(
    client: KalturaAvatarClient, avatar_id: str, audio: Path, duration: float
) -> KalturaAvatarSession:
    """Open a session, make the avatar say the file ``audio`` (``duration`` seconds long), end it.

    Returns:
        The ended session (its ``end_reason`` says how it ended).

    Raises:
        AvatarError: the session could not start, or Kaltura refused the audio.
    """
    content_type = mimetypes.guess_type(audio.name)[0] or "audio/mpeg"
    sound = await anyio.Path(
        audio
    ).read_bytes()  # before the session opens: a missing file costs nothing
    async with client.session(avatar_id) as session:
        info = session.info
        print(f"Session {session.session_id} is live.")
        print(f"Viewer: WHEP {info.whep_url} via TURN {info.turn.url}", flush=True)
        turn_id = await session.say_audio(
            sound, duration=duration, filename=audio.name, content_type=content_type
        )
        print(f"Saying {audio.name} ({duration:g} s, turn {turn_id})...", flush=True)
        await anyio.sleep(duration + _START_MARGIN)  # queued, not yet said: let the avatar finish
    print(f"Session ended: {session.end_reason}")
    return session


async def on_emulator(avatar_id: str, audio: Path, duration: float) -> None:
    from aioavatar.testing import KalturaEmulator

    async with (
        KalturaEmulator() as emulator,
        KalturaAvatarClient(emulator.ks, base_url=emulator.base_url) as client,
    ):
        session = await speak(client, avatar_id, audio, duration)
        (recorded,) = emulator.sessions.values()
        print(
            f"The emulator received {len(recorded.turns)} utterance(s) and "
            f"{len(emulator.requests('end', session_id=session.session_id))} end call(s)."
        )


async def on_kaltura(avatar_id: str, audio: Path, duration: float) -> None:
    # The library reads KALTURA_AVATAR_KS and KALTURA_AVATAR_BASE_URL (else the US region).
    async with KalturaAvatarClient() as client:
        await speak(client, avatar_id, audio, duration)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("audio", type=Path, help="the audio file to say (MP3, or WAV)")
    parser.add_argument("--duration", type=float, help="its length in seconds (read from a WAV)")
    parser.add_argument("--avatar-id", default="emulated-avatar", help="the avatar's catalog id")
    parser.add_argument("--emulator", action="store_true", help="use the embedded emulator")
    args = parser.parse_args()
    duration = args.duration
    if duration is None:
        try:
            duration = wav_duration(args.audio)
        except (wave.Error, EOFError, OSError) as exc:
            parser.error(f"give --duration: cannot read the length of {args.audio} ({exc})")
    try:
        if args.emulator:
            anyio.run(on_emulator, args.avatar_id, args.audio, duration)
        else:
            anyio.run(on_kaltura, args.avatar_id, args.audio, duration)
    except (AvatarError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
