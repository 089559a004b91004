"""``aioavatar._cli`` itself (``_cli/__init__.py``): the parser, ``--version``, each command's help, and the
CLI guide's list of every command and flag."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

import aioavatar
from aioavatar._cli import _parser

from .helpers import assert_one_line, invoke

pytestmark = pytest.mark.anyio


async def test_version_and_the_demo_help(capsys: pytest.CaptureFixture[str]) -> None:
    """`--version` prints `aioavatar <version>` and exits 0; `demo --help` describes the demo."""
    version = await invoke(capsys, "--version")
    assert (version.status, version.out) == (0, f"aioavatar {aioavatar.__version__}\n")
    helped = await invoke(capsys, "demo", "--help")
    assert helped.status == 0
    assert "Start an emulator of the LiveAvatar API inside this process" in " ".join(
        helped.out.split()
    )


def _commands() -> dict[str, list[list[str]]]:
    """Every command (``"run"``, ``"sessions stop"``, ...) and the spellings of each of its options."""
    found: dict[str, list[list[str]]] = {}

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subcommands:
            found[path] = [
                list(action.option_strings)
                for action in parser._actions
                if action.option_strings and "--help" not in action.option_strings
            ]
        for action in subcommands:
            for name, sub in action.choices.items():
                walk(sub, f"{path} {name}".strip())

    walk(_parser(), "")
    return found


def test_the_cli_guide_lists_every_command_and_flag() -> None:
    """The CLI guide (docs/guides/cli.md) has a line for each command naming all its flags (the
    emulator's own options may be in the testing guide's table instead)."""
    guides = Path(__file__).resolve().parent.parent.parent / "docs" / "guides"
    section = (guides / "cli.md").read_text(encoding="utf-8")
    readme = section + (guides / "testing.md").read_text(encoding="utf-8")
    commands = _commands()
    assert {"demo", "run", "sessions list", "sessions stop", "emulator"} <= set(commands)
    for command, options in commands.items():
        lines = [line for line in section.splitlines() if f"aioavatar {command}" in line]
        assert lines, f"no line for `aioavatar {command}`"
        where = "\n".join(lines) if command != "emulator" else readme
        missing = [
            spellings
            for spellings in options
            if not any(re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", where) for s in spellings)
        ]
        assert not missing, f"`aioavatar {command}`: {missing} not in the CLI guide"


@pytest.mark.parametrize(
    "argv",
    [
        ("sessions", "list", "--ks", "SECRET-KS-4567"),
        ("sessions", "list", "--apikey=SECRET-KS-4567"),
        ("sessions", "list", "--api_key", "SECRET-KS-4567", "--json"),
        ("demo", "--api-key", "SECRET-KS-4567"),
        ("sessions", "stop", "3fa85f64-5717-4562-b3fc-2c963f66afa6", "--ks=SECRET-KS-4567"),
        ("credits", "--ks=-SECRET-KS-4567"),  # a value that starts with "-" (1 token in 64 does)
        ("credits", "--ks", "-SECRET-KS-4567"),
        ("catalog", "list", "--api-key=-SECRET-KS-4567"),
        ("sessions", "list", "--ks", "SECRET1"),  # short (a truncated paste): masked all the same
        ("sessions", "list", "--token=e"),  # one letter: masked where given, no word cut into
    ],
)
async def test_a_credential_given_to_a_command_that_takes_none_is_not_echoed(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    """argparse quotes the arguments it does not recognise; a credential given to the wrong command
    (or misspelt) is one of them: the line names the flag, never its value; exit 2."""
    outcome = await invoke(capsys, *argv)
    assert outcome.status == 2
    assert_one_line(outcome.err, "unrecognized arguments", "**********")
    assert "SECRET" not in outcome.err + outcome.out
