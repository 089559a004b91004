"""Every Python snippet of the README runs as written, against the emulators.

Each ```python block is run as a script in a subprocess, with the environment a reader points at an
emulator (``LIVEAVATAR_API_KEY``/``LIVEAVATAR_BASE_URL``, ``KALTURA_AVATAR_KS``/
``KALTURA_AVATAR_BASE_URL``) and the files the snippets name (``hello.wav``, ``hello.mp3``) in its
working directory; a block that defines pytest tests is run by pytest (the plugin's fixtures bring their
own emulators). The sandbox sessions of the emulator here end after one second instead of sixty.
"""

from __future__ import annotations

import io
import math
import os
import re
import struct
import sys
import wave
from pathlib import Path

import anyio
import pytest

from aioavatar.testing import KalturaEmulator, LiveAvatarEmulator

from .providers import API_KEY, KS

pytestmark = pytest.mark.anyio

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)


def _block_id(block: str) -> str:
    """A readable test id: the README heading above the block and its place under it."""
    text = README.read_text(encoding="utf-8")
    before = text[: text.index(block)]
    headings = re.findall(r"^#+ (.+)$", before, re.M)
    heading = headings[-1] if headings else "top"
    return re.sub(r"\W+", "-", heading.lower()).strip("-")


def _tone_wav(seconds: float = 0.3) -> bytes:
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 24_000)))
        for i in range(int(24_000 * seconds))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(24_000)
        wav.writeframes(frames)
    return out.getvalue()


def test_the_readme_has_snippets() -> None:
    """The README's snippets are found (a change of fence style would silently skip them all)."""
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("block", BLOCKS, ids=[_block_id(b) for b in BLOCKS])
async def test_each_readme_snippet_runs_as_written(block: str, tmp_path: Path) -> None:
    """The snippet exits 0 against the emulators, with no traceback."""
    (tmp_path / "hello.wav").write_bytes(_tone_wav())
    (tmp_path / "hello.mp3").write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00not really an mp3")
    async with (
        LiveAvatarEmulator(api_key=API_KEY, sandbox_max_duration=1.0) as liveavatar,
        KalturaEmulator(ks=KS) as kaltura,
    ):
        env = {
            **os.environ,
            "LIVEAVATAR_API_KEY": API_KEY,
            "LIVEAVATAR_BASE_URL": liveavatar.base_url,
            "KALTURA_AVATAR_KS": KS,
            "KALTURA_AVATAR_BASE_URL": kaltura.base_url,
        }
        if "def test_" in block:
            script = tmp_path / "test_snippet.py"
            command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(script)]
        else:
            script = tmp_path / "snippet.py"
            command = [sys.executable, str(script)]
        script.write_text(block, encoding="utf-8")
        with anyio.fail_after(60):
            done = await anyio.run_process(command, cwd=tmp_path, env=env, check=False)
    output = done.stdout.decode() + done.stderr.decode()
    assert done.returncode == 0, output
    assert "Traceback" not in output
