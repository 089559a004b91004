"""A LITE-mode bot: open a session, speak a WAV file over the realtime socket, react to the avatar.

Against an embedded emulator (no account, no network), as every example runs with ``--emulator``::

    python examples/lite_bot.py --emulator                # speaks a generated two-second tone
    python examples/lite_bot.py --emulator hello.wav      # your own WAV: PCM 16-bit, mono, 24 kHz

Against the real API (a LITE session bills 1 credit per minute unless --sandbox); the library reads
``LIVEAVATAR_API_KEY`` and ``LIVEAVATAR_BASE_URL``::

    LIVEAVATAR_API_KEY=... python examples/lite_bot.py --sandbox hello.wav
"""

from __future__ import annotations

import argparse
import io
import math
import struct
import sys
import wave

import anyio

from aioavatar import (
    AgentStateUpdated,
    AvatarError,
    AvatarSession,
    ErrorEvent,
    RawEvent,
    SessionStateUpdated,
    SpeakEnded,
    SpeakInterrupted,
    SpeakStarted,
    read_wav,
)
from aioavatar.testing import LiveAvatarEmulator

SANDBOX_AVATAR_ID = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"


def show(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def tone_wav(seconds: float, frequency: float = 440.0, rate: int = 24_000) -> bytes:
    """A WAV file (PCM 16-bit mono 24 kHz) holding a sine tone that fades in and out."""
    frames = int(seconds * rate)
    fade = max(1, rate // 50)
    samples = (
        int(
            12_000
            * min(1.0, i / fade, (frames - i) / fade)
            * math.sin(2 * math.pi * frequency * i / rate)
        )
        for i in range(frames)
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return buffer.getvalue()


async def bot(session: AvatarSession, pcm: bytes) -> None:
    """Speak ``pcm``, narrate the avatar's events, then put it in its listening pose."""
    async with session.realtime() as rt:
        utterance = await rt.speak(pcm)
        show(f"queued {utterance.duration:.2f} s of audio in {utterance.chunks} messages")
        async for event in rt.events():
            match event:
                case SessionStateUpdated(state=state):
                    show(f"socket: {state}")
                case SpeakStarted(event_id=utterance.event_id):
                    show("the avatar started speaking")
                case SpeakEnded(event_id=utterance.event_id):
                    show("the avatar finished speaking")
                case SpeakInterrupted():
                    show("the avatar was interrupted")
                case AgentStateUpdated(state=state):
                    show(f"the avatar is {state}")
                case ErrorEvent(message=message):
                    show(f"the server refused something: {message}")
                case RawEvent(type=kind):
                    show(f"(an event this SDK does not know: {kind})")
            if utterance.ended:
                break
        await rt.start_listening()
        show("listening")
        await anyio.sleep(0.1)


def open_session(
    args: argparse.Namespace, api_key: str | None = None, base_url: str | None = None
) -> AvatarSession:
    # Without api_key/base_url the library reads LIVEAVATAR_API_KEY and LIVEAVATAR_BASE_URL.
    return AvatarSession(
        args.avatar_id,
        api_key=api_key,
        base_url=base_url,
        mode="LITE",
        is_sandbox=args.sandbox,
        keep_alive_interval=30.0,
    )


async def main(args: argparse.Namespace) -> int:
    try:
        pcm = read_wav(args.wav) if args.wav else read_wav(tone_wav(args.seconds))
    except AvatarError as exc:
        show(f"error: {exc}")
        return 2
    try:
        if args.emulator:
            async with LiveAvatarEmulator() as emulator:
                show(f"LiveAvatar emulator on {emulator.base_url}")
                async with open_session(args, emulator.api_key, emulator.base_url) as session:
                    show(f"session {session.session_id} started")
                    await bot(session, pcm)
                show(f"stop reasons the server saw: {emulator.stop_reasons(session.session_id)}")
        else:
            async with open_session(args) as session:
                show(f"session {session.session_id} started")
                await bot(session, pcm)
    except AvatarError as exc:
        show(f"error: {exc}")
        return 1
    show(f"session ended: {session.end_reason}")
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "wav", nargs="?", help="a WAV file (PCM 16-bit mono 24 kHz); default: a tone"
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="length of the generated tone")
    parser.add_argument(
        "--emulator",
        action="store_true",
        help="run against an embedded emulator (no account, no network)",
    )
    parser.add_argument("--avatar-id", default=SANDBOX_AVATAR_ID, help="the avatar's UUID")
    parser.add_argument("--sandbox", action="store_true", help="a sandbox session (no credits)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(anyio.run(main, parse()))
