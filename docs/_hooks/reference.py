"""A MkDocs hook that writes the API reference when the site is built: one page per public module, one
``::: aioavatar.X`` entry per name of its ``__all__``, so a name added to an ``__all__`` is documented
without editing the docs (``tests/test_docs.py`` checks every public name has its entry)."""

from __future__ import annotations

import importlib
from typing import Any

#: (page, title, introduction, module whose ``__all__`` it documents, path the names are shown under).
PAGES: list[tuple[str, str, str, str, str]] = [
    (
        "reference/core.md",
        "aioavatar",
        "What both providers share: the lifecycle's options and state, retries and timeouts, "
        "secrets, audio helpers and logging.",
        "aioavatar",
        "aioavatar",
    ),
    (
        "reference/errors.md",
        "Errors",
        "The error tree: every error pickles and carries plain data, never a credential. Also "
        "importable from `aioavatar.exceptions`.",
        "aioavatar.exceptions",
        "aioavatar",
    ),
    (
        "reference/liveavatar.md",
        "LiveAvatar",
        "The LiveAvatar provider: client, session, token request and its parts (as models or as "
        "typed dicts), reads, and the LITE realtime connection. Also importable from "
        "`aioavatar.liveavatar`.",
        "aioavatar.liveavatar",
        "aioavatar",
    ),
    (
        "reference/kaltura.md",
        "Kaltura Avatar",
        "The Kaltura Avatar provider: client, session and models. Also importable from "
        "`aioavatar.kaltura`.",
        "aioavatar.kaltura",
        "aioavatar",
    ),
    (
        "reference/testing.md",
        "aioavatar.testing",
        "Local emulators of both APIs, their journals and faults. The pytest plugin's fixtures are "
        "described in [Testing your bot](../guides/testing.md#the-pytest-plugin).",
        "aioavatar.testing",
        "aioavatar.testing",
    ),
]


def public_names(module: str) -> list[str]:
    """The names a page documents: the module's ``__all__`` (the package root's without what the
    providers and the errors' pages hold), dunders left out."""
    names = list(importlib.import_module(module).__all__)
    if module == "aioavatar":
        others = {n for page in PAGES[1:4] for n in importlib.import_module(page[3]).__all__}
        names = [n for n in names if n not in others]
    return [n for n in names if not n.startswith("__")]


#: What a page adds after its names: the testing page, the pytest plugin's fixtures (its own module).
APPENDIX = {
    "aioavatar.testing": "## The pytest plugin\n\n::: aioavatar.testing.pytest_plugin\n"
    "    options:\n      show_root_heading: false\n      show_root_toc_entry: false\n"
    "      members: false\n\n"
    + "\n\n".join(
        f"::: aioavatar.testing.pytest_plugin.{name}\n    options:\n      heading_level: 3"
        for name in (
            "liveavatar_emulator",
            "liveavatar_client",
            "kaltura_emulator",
            "kaltura_client",
        )
    )
    + "\n",
}


def page(title: str, intro: str, module: str, shown_as: str) -> str:
    """The Markdown of one reference page."""
    entries = "\n\n".join(f"::: {shown_as}.{name}" for name in public_names(module))
    return f"# {title}\n\n{intro}\n\n{entries}\n\n{APPENDIX.get(module, '')}"


def on_files(files: Any, config: Any) -> Any:
    """Add the generated reference pages to the site."""
    from mkdocs.structure.files import File  # here: the tests import this module without MkDocs

    for path, title, intro, module, shown_as in PAGES:
        files.append(File.generated(config, path, content=page(title, intro, module, shown_as)))
    return files
