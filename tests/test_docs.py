"""The documentation: every Python snippet of the README and of the site (``docs/``) runs as written
against the emulators, the README's links into the site and the docs URLs the package prints name
pages and anchors that exist, and the API reference has an entry for every public name.

Each ```python block is run as a script in a subprocess, with the environment a reader points at an
emulator (``LIVEAVATAR_API_KEY``/``LIVEAVATAR_BASE_URL``, ``KALTURA_AVATAR_KS``/
``KALTURA_AVATAR_BASE_URL``) and the files the snippets name (``hello.wav``, ``hello.mp3``) in its
working directory; a block that defines pytest tests is run by pytest (the plugin's fixtures bring their
own emulators). A block that is not meant to run says so on the line before its fence:
``<!-- not run: why -->``. The sandbox sessions of the emulator here end after one second instead of
sixty.
"""

from __future__ import annotations

import importlib.util
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

import aioavatar
import aioavatar.testing
import aioavatar.testing.pytest_plugin
from aioavatar.testing import KalturaEmulator, LiveAvatarEmulator

from .providers import API_KEY, KS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
#: Where the site is published (``mkdocs.yml``'s ``site_url``, pyproject's Documentation URL).
SITE_URL = "https://aioavatar.readthedocs.io/"
PAGES = [README, *sorted(p for p in DOCS.rglob("*.md") if "_hooks" not in p.parts)]
FENCE = re.compile(r"^(<!-- not run: .+ -->\n)?```python\n(.*?)^```", re.M | re.S)


def _blocks() -> list[tuple[str, str]]:
    """(test id, code) of every Python block meant to run: the page and the heading above it."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            if match[1]:
                continue
            headings = re.findall(r"^#+ (.+?)(?: \{#[\w-]+\})?$", text[: match.start()], re.M)
            where = re.sub(r"\W+", "-", (headings[-1] if headings else "top").lower()).strip("-")
            found.append((f"{page.relative_to(ROOT).with_suffix('')}:{where}", match[2]))
    return found


BLOCKS = _blocks()


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


def test_the_snippets_are_found() -> None:
    """The snippets are found on the README and on every guide that has them (a change of fence style
    would silently skip them all)."""
    pages = {test_id.partition(":")[0] for test_id, _ in BLOCKS}
    assert len(BLOCKS) >= 12
    assert {
        "README",
        "docs/getting-started",
        "docs/guides/lifecycle",
        "docs/guides/testing",
    } <= pages


@pytest.mark.anyio
@pytest.mark.parametrize("block", [b for _, b in BLOCKS], ids=[i for i, _ in BLOCKS])
async def test_each_snippet_runs_as_written(block: str, tmp_path: Path) -> None:
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


def _slug(heading: str) -> str:
    """The anchor MkDocs gives a heading (an explicit ``{#id}`` wins)."""
    explicit = re.search(r"\{#([\w-]+)\}\s*$", heading)
    if explicit:
        return explicit[1]
    text = re.sub(r"[^\w\s-]", "", heading.replace("`", "").lower()).strip()
    return re.sub(r"[-\s]+", "-", text)


def _anchors(page: Path) -> set[str]:
    return {_slug(h) for h in re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), re.M)}


def _page_of(url: str) -> tuple[Path, str]:
    """The docs page and anchor a site URL names (``guides/cli/#json-output``: guides/cli.md)."""
    path, _, anchor = url.removeprefix(SITE_URL).partition("#")
    path = path.strip("/")
    candidates = [DOCS / f"{path}.md", DOCS / path / "index.md"] if path else [DOCS / "index.md"]
    return next((c for c in candidates if c.is_file()), candidates[0]), anchor


def _site_links(text: str) -> list[str]:
    return re.findall(re.escape(SITE_URL) + r"[\w/#.-]*", text)


def test_the_readme_is_the_front_page() -> None:
    """The README is short: what it is, the two set-up commands, one example per provider and links
    into the site."""
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) < 120
    assert "aioavatar demo" in text
    assert ".venv/bin/nox" in text
    assert "LiveAvatarClient" in text
    assert "KalturaAvatarClient" in text
    assert len(_site_links(text)) >= 10


@pytest.mark.parametrize(
    "source",
    [README, *sorted((ROOT / "src").rglob("*.py")), ROOT / "pyproject.toml"],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_every_link_into_the_site_names_a_page_and_anchor(source: Path) -> None:
    """Every absolute docs URL (the README's, the package's messages and help texts, the package
    metadata) names a page of docs/ and, when it has one, an anchor of that page: they work on the
    package index and in a terminal."""
    for url in _site_links(source.read_text(encoding="utf-8")):
        page, anchor = _page_of(url)
        assert page.is_file(), f"{url}: no page {page.relative_to(ROOT)}"
        assert not anchor or anchor in _anchors(page), f"{url}: no anchor #{anchor}"


def _reference_hook() -> object:
    spec = importlib.util.spec_from_file_location(
        "reference_hook", DOCS / "_hooks" / "reference.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_api_reference_covers_every_public_name() -> None:
    """The pages the reference hook writes have a ``::: path`` entry for every name of the package's
    ``__all__`` (the providers' included) and of ``aioavatar.testing``'s, and for nothing else: a name
    another branch adds is documented without editing the docs."""
    hook = _reference_hook()
    written = "\n".join(hook.page(*spec[1:]) for spec in hook.PAGES)  # type: ignore[attr-defined]
    entries = re.findall(r"^::: ([\w.]+)$", written, re.M)
    assert len(entries) == len(set(entries))
    plugin = "aioavatar.testing.pytest_plugin"  # the fixtures, a module of their own
    fixtures = {e.rpartition(".")[2] for e in entries if e.startswith(f"{plugin}.")}
    assert fixtures == {n for n in aioavatar.testing.pytest_plugin.__all__ if n.islower()}
    entries = [e for e in entries if not e.startswith(plugin)]
    expected = {f"aioavatar.{n}" for n in aioavatar.__all__ if not n.startswith("__")}
    expected |= {f"aioavatar.testing.{n}" for n in aioavatar.testing.__all__}
    assert set(entries) == expected
