"""``aioavatar avatars list``, ``voices list``, ``credits`` and ``catalog list`` (``_cli/resources.py``)
run as a user runs them (subprocesses, against the emulators), and ``run --sandbox`` without an avatar
id: what is printed, what the server received, and the same exit statuses and one-line errors as every
command."""

from __future__ import annotations

import json

import pytest

from aioavatar import SANDBOX_AVATAR_ID
from aioavatar.testing import KalturaEmulator, LiveAvatarEmulator

from .helpers import assert_clean, assert_one_line, invoke, spawn

pytestmark = pytest.mark.anyio


async def run(*argv: str, env: dict[str, str]) -> tuple[int, str, str]:
    """``python -m aioavatar ARGV`` to its end: status, standard output, standard error."""
    cli = await spawn(*argv, env=env)
    async with cli.process:
        outcome = await cli.finish()
    assert_clean(outcome)
    return outcome.status, outcome.out, outcome.err


async def test_avatars_list_public_json_holds_the_sandbox_avatar(
    emulator: LiveAvatarEmulator, env: dict[str, str]
) -> None:
    """`avatars list --public --json`: every public avatar, the sandbox one marked, from
    GET /v1/avatars/public."""
    status, out, _ = await run("avatars", "list", "--public", "--json", env=env)
    assert status == 0
    document = json.loads(out)
    assert document["count"] == 3
    sandbox = [a for a in document["avatars"] if a["sandbox"]]
    assert [a["id"] for a in sandbox] == [SANDBOX_AVATAR_ID]
    assert set(sandbox[0]) == {"id", "name", "status", "type", "default_voice", "sandbox"}
    assert [r.path for r in emulator.journal] == ["/v1/avatars/public"]


async def test_avatars_list_is_a_table_and_limit_reads_no_more_pages(
    emulator: LiveAvatarEmulator, env: dict[str, str]
) -> None:
    """`avatars list` prints the account's avatars as a table with a count; `--limit` stops at the
    page that holds the last one shown."""
    for index in range(150):
        emulator.add_avatar(f"Seeded {index}")
    status, out, _ = await run("avatars", "list", "--limit", "3", env=env)
    assert status == 0
    header, *rows, summary = out.splitlines()
    assert header.split()[:2] == ["ID", "NAME"]
    assert [row.split()[1] for row in rows] == ["My", "Seeded", "Seeded"]
    assert summary == "151 avatars (showing 3; raise --limit for more)"
    assert [r.query["page"] for r in emulator.requests("avatars")] == ["1"]
    status, out, _ = await run("avatars", "list", "--limit", "120", "--json", env=env)
    assert len(json.loads(out)["avatars"]) == 120
    assert [r.query["page"] for r in emulator.requests("avatars")] == ["1", "1", "2"]


async def test_a_name_the_server_wrote_reaches_the_terminal_plainly(
    emulator: LiveAvatarEmulator, env: dict[str, str]
) -> None:
    """An avatar named with a terminal escape sequence: the table shows ``?`` for each control
    character, and none reaches standard output."""
    emulator.add_avatar("Evil\x1b]0;PWNED\x07\x1b[2J")
    status, out, _ = await run("avatars", "list", env=env)
    assert status == 0
    assert "\x1b" not in out
    assert "Evil?]0;PWNED??[2J" in out


async def test_voices_list(emulator: LiveAvatarEmulator, env: dict[str, str]) -> None:
    """`voices list --type private` sends the filter and shows the account's voice."""
    status, out, _ = await run("voices", "list", "--type", "private", env=env)
    assert status == 0
    assert "My cloned voice" in out
    assert out.splitlines()[-1] == "1 voices"
    assert emulator.requests("voices")[-1].query["voice_type"] == "private"


async def test_credits_text_and_json(emulator: LiveAvatarEmulator, env: dict[str, str]) -> None:
    """`credits` prints the exact balance and the minutes of each mode it pays for."""
    emulator.add_credits("-9987.5")  # 12.5 left
    status, out, _ = await run("credits", env=env)
    assert status == 0
    assert out.splitlines() == [
        "12.5000 credits left",
        "about 6 minutes of FULL sessions (2 a minute) or 12 of LITE (1 a minute); "
        "sandbox sessions are free",
    ]
    status, out, _ = await run("credits", "--json", env=env)
    assert json.loads(out) == {"credits_left": "12.5000", "minutes": {"FULL": "6", "LITE": "12"}}


async def test_catalog_list_by_type(
    kaltura_emulator: KalturaEmulator, kaltura_env: dict[str, str]
) -> None:
    """`catalog list --type visual --json` posts the Visual filter with the KS and lists the avatars
    with their catalog ids."""
    status, out, _ = await run("catalog", "list", "--type", "VISUAL", "--json", env=kaltura_env)
    assert status == 0
    document = json.loads(out)
    assert document["count"] == 3
    assert {item["type"] for item in document["items"]} == {"Visual"}
    request = kaltura_emulator.requests("catalog_list")[-1]
    assert request.body["filter"] == {"typeEqual": "Visual"}
    assert request.auth == "ks"
    status, out, _ = await run("catalog", "list", "--type", "voice", env=kaltura_env)
    assert "Warm female (en-US)" in out


async def test_errors_are_one_line_with_the_usual_statuses(
    emulator: LiveAvatarEmulator, env: dict[str, str], kaltura_env: dict[str, str]
) -> None:
    """No API key: exit 2 with the fix; a refused key: exit 1 with the status; no KS for the
    catalog: exit 2; a refused KS: exit 1 naming the KS (not the LiveAvatar key); a bad --type:
    exit 2 (argparse, one line)."""
    without_key = {k: v for k, v in env.items() if k != "LIVEAVATAR_API_KEY"}
    status, _, err = await run("credits", env=without_key)
    assert status == 2
    assert_one_line(err, "LIVEAVATAR_API_KEY")
    status, _, err = await run("avatars", "list", env={**env, "LIVEAVATAR_API_KEY": "wrong-key"})
    assert status == 1
    assert_one_line(err, "401")
    without_ks = {k: v for k, v in kaltura_env.items() if k != "KALTURA_AVATAR_KS"}
    status, _, err = await run("catalog", "list", env=without_ks)
    assert status == 2
    assert_one_line(err, "KALTURA_AVATAR_KS")
    refused = {**kaltura_env, "KALTURA_AVATAR_KS": "not-a-valid-ks"}
    status, _, err = await run("catalog", "list", env=refused)
    assert status == 1
    assert_one_line(err, "401", "the KS (KALTURA_AVATAR_KS")
    assert "LIVEAVATAR_API_KEY" not in err
    status, _, err = await run("voices", "list", "--type", "cloned", env=env)
    assert status == 2
    assert_one_line(err, "--type")


async def test_run_sandbox_without_an_avatar_uses_the_sandbox_avatar(
    emulator: LiveAvatarEmulator, env: dict[str, str]
) -> None:
    """`run --sandbox` with no avatar id asks for a sandbox session of the sandbox avatar."""
    status, out, _ = await run("run", "--sandbox", "--duration", "0.2", "--json", env=env)
    assert status == 0, out
    (token,) = emulator.requests("token")
    assert token.body["avatar_id"] == SANDBOX_AVATAR_ID
    assert token.body["is_sandbox"] is True


async def test_run_without_an_avatar_or_sandbox_names_both_fixes(
    capsys: pytest.CaptureFixture[str], env: dict[str, str]
) -> None:
    """`run` with neither an avatar id nor --sandbox is a usage error naming --sandbox too."""
    outcome = await invoke(capsys, "run")
    assert outcome.status == 2
    assert_one_line(outcome.err, "AVATAR_ID", "--sandbox")
