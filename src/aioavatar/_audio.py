"""Local checks of the audio a LITE avatar speaks: PCM 16-bit little-endian, mono, 24 kHz.

The server gives no error for audio in the wrong format: the avatar stays silent or garbled. So the SDK
checks what it can before anything is sent, and refuses with :class:`ConfigurationError`.
"""

from __future__ import annotations

import io
import os
import wave
from pathlib import Path

from ._validation import check_bytes
from .exceptions import ConfigurationError

__all__ = [
    "PCM_BYTES_PER_SECOND",
    "PCM_CHANNELS",
    "PCM_SAMPLE_RATE",
    "PCM_SAMPLE_WIDTH",
    "check_pcm",
    "pcm_duration",
    "read_wav",
]

#: Samples per second of the audio a LITE avatar speaks.
PCM_SAMPLE_RATE = 24_000
#: Bytes per sample (16-bit).
PCM_SAMPLE_WIDTH = 2
#: Mono.
PCM_CHANNELS = 1
#: 48 000 bytes make one second of audio.
PCM_BYTES_PER_SECOND = PCM_SAMPLE_RATE * PCM_SAMPLE_WIDTH * PCM_CHANNELS


def check_pcm(pcm: bytes | bytearray | memoryview, *, field: str = "pcm") -> bytes:
    """Check raw PCM (16-bit little-endian mono 24 kHz) and return it as ``bytes``.

    Only the shape can be checked: the bytes are not empty, hold whole 16-bit samples, and are not a WAV
    file (whose header would be played as noise; read it with :func:`read_wav` first).

    Raises:
        ConfigurationError: not bytes, empty, an odd number of bytes, or a WAV file; naming ``field``.
    """
    data = check_bytes(pcm, field, empty="there is no audio to speak")
    if len(data) % PCM_SAMPLE_WIDTH:
        raise ConfigurationError(
            f"has an odd number of bytes ({len(data)}): 16-bit PCM has 2 bytes per sample",
            field=field,
        )
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        raise ConfigurationError(
            "is a WAV file, not raw PCM: pass it through aioavatar.read_wav() first", field=field
        )
    return data


def pcm_duration(pcm: bytes | bytearray | memoryview) -> float:
    """Seconds of audio in PCM 16-bit mono 24 kHz bytes (``0.0`` for none).

    Raises:
        ConfigurationError: not bytes, or an odd number of bytes; naming ``pcm``.
    """
    if not isinstance(pcm, bytes | bytearray | memoryview):
        raise ConfigurationError(f"must be bytes, got {type(pcm).__name__}", field="pcm")
    size = pcm.nbytes if isinstance(pcm, memoryview) else len(pcm)
    if size % PCM_SAMPLE_WIDTH:
        raise ConfigurationError(
            f"has an odd number of bytes ({size}): 16-bit PCM has 2 bytes per sample", field="pcm"
        )
    return size / PCM_BYTES_PER_SECOND


def read_wav(source: str | os.PathLike[str] | bytes | bytearray | memoryview) -> bytes:
    """Read a WAV file (a path, or the file's bytes) and return its PCM frames, ready to speak.

    The file must be uncompressed PCM, 16-bit, mono, 24 000 Hz: nothing is converted, because a resampled
    or downmixed voice is the caller's choice to make. Reading a path blocks; it is meant for short
    prompts (call it through ``anyio.to_thread.run_sync`` for large files).

    Raises:
        ConfigurationError: the file cannot be read, is not a PCM WAV file, or is not 16-bit mono 24 kHz
            (the message names every property that is wrong); or it holds no audio.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        raw = check_bytes(source, "source", empty="there is no WAV file to read")
        where = "the WAV bytes"
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        where = f"WAV file {path.name!r}"
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise ConfigurationError(
                f"cannot read {where}: it does not exist", field="source"
            ) from None
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read {where}: {exc.strerror or type(exc).__name__}", field="source"
            ) from None
        except (ValueError, UnicodeError):  # a NUL byte or a lone surrogate in the path
            raise ConfigurationError(
                "is not a usable file path (it holds a NUL byte or invalid text)", field="source"
            ) from None
    else:
        raise ConfigurationError(
            f"must be a path or the bytes of a WAV file, got {type(source).__name__}",
            field="source",
        )
    try:
        with wave.open(io.BytesIO(raw), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ConfigurationError(
            f"{where} is not a readable PCM WAV file ({exc or type(exc).__name__})", field="source"
        ) from None
    wrong: list[str] = []
    if width != PCM_SAMPLE_WIDTH:
        wrong.append(f"{width * 8}-bit samples (need 16-bit)")
    if channels != PCM_CHANNELS:
        wrong.append(f"{channels} channels (need mono)")
    if rate != PCM_SAMPLE_RATE:
        wrong.append(f"{rate} Hz (need {PCM_SAMPLE_RATE} Hz)")
    if wrong:
        raise ConfigurationError(
            f"{where} has {', '.join(wrong)}: LiveAvatar plays PCM 16-bit mono 24 kHz only",
            field="source",
        )
    if not frames:
        raise ConfigurationError(f"{where} holds no audio", field="source")
    return frames
