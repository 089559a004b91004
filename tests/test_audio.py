"""``aioavatar._audio``: the local checks of the audio a LITE avatar speaks (PCM 16-bit mono 24 kHz) and
reading it from a WAV file; anything else is a ConfigurationError before anything is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from aioavatar import ConfigurationError, check_pcm, pcm_duration, read_wav

from .audio import SECOND, wav_bytes


def test_check_pcm_rejects_bad_audio() -> None:
    """Odd byte counts, empty audio, WAV files and non-bytes are ConfigurationError."""
    assert check_pcm(bytearray(b"\x00\x01")) == b"\x00\x01"
    with pytest.raises(ConfigurationError, match="odd number of bytes"):
        check_pcm(b"\x00\x01\x02")
    with pytest.raises(ConfigurationError, match="empty"):
        check_pcm(b"")
    with pytest.raises(ConfigurationError, match="read_wav"):
        check_pcm(wav_bytes())
    with pytest.raises(ConfigurationError, match="str"):
        check_pcm("audio")  # type: ignore[arg-type]


def test_read_wav(tmp_path: Path) -> None:
    """A 16-bit mono 24 kHz WAV gives its frames, from a path or bytes; any other format is refused by name."""
    good = wav_bytes(seconds=0.25)
    path = tmp_path / "hello.wav"
    path.write_bytes(good)
    assert read_wav(path) == read_wav(good) == b"\x00" * int(0.25 * SECOND)
    with pytest.raises(ConfigurationError, match="8-bit samples"):
        read_wav(wav_bytes(width=1))
    with pytest.raises(ConfigurationError, match="2 channels"):
        read_wav(wav_bytes(channels=2))
    with pytest.raises(ConfigurationError, match="44100 Hz") as info:
        read_wav(wav_bytes(rate=44_100))
    assert info.value.field == "source"
    with pytest.raises(ConfigurationError, match=r"32-bit samples.*2 channels.*16000 Hz"):
        read_wav(wav_bytes(width=4, channels=2, rate=16_000))
    with pytest.raises(ConfigurationError, match="not a readable PCM WAV"):
        read_wav(b"RIFF....WAVEjunk")
    with pytest.raises(ConfigurationError, match="cannot read"):
        read_wav(tmp_path / "missing.wav")
    with pytest.raises(ConfigurationError, match="no audio"):
        read_wav(wav_bytes(seconds=0))


def test_a_released_buffer_is_a_configuration_error() -> None:
    """A released memoryview passed as audio is refused (not a ValueError from bytes())."""
    view = memoryview(b"\x00\x00")
    view.release()
    with pytest.raises(ConfigurationError):
        check_pcm(view)
    with pytest.raises(ConfigurationError):
        read_wav(view)


def test_pcm_duration_counts_samples_and_refuses_what_is_not_pcm() -> None:
    """Seconds of 24 kHz 16-bit mono (an empty buffer is none); anything that is not bytes, or holds
    half a sample, is a ConfigurationError naming ``pcm``, not a TypeError or a made-up length."""
    assert pcm_duration(b"") == 0.0
    assert pcm_duration(b"\x00" * SECOND) == 1.0
    assert pcm_duration(memoryview(bytearray(SECOND)).cast("h")) == 1.0
    for bad in (None, 5, "abcd", [0, 0], b"\x00\x00\x00"):
        with pytest.raises(ConfigurationError) as info:
            pcm_duration(bad)  # type: ignore[arg-type]
        assert info.value.field == "pcm"
