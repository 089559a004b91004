"""Audio for the tests: PCM silence of a given length and WAV files in any format."""

from __future__ import annotations

import io
import wave

__all__ = ["SECOND", "pcm", "wav_bytes"]

SECOND = 48_000  # bytes of one second of PCM 16-bit mono 24 kHz


def pcm(seconds: float) -> bytes:
    """Silence of that length (whole samples)."""
    return b"\x01\x00" * int(seconds * 24_000)


def wav_bytes(
    *, channels: int = 1, width: int = 2, rate: int = 24_000, seconds: float = 0.1
) -> bytes:
    """A WAV file of silence in the given format."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(b"\x00" * int(seconds * rate) * width * channels)
    return buffer.getvalue()
