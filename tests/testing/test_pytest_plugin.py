"""The pytest plugin, as a user's test suite sees it: installed by the entry point, used with anyio."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

USER_CONFTEST = """
import pytest

@pytest.fixture
def anyio_backend():
    return "asyncio"
"""

USER_TESTS = """
import pytest
from aioavatar import LiveAvatarClient
from aioavatar.testing import LiveAvatarEmulator

AVATAR_ID = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"


async def my_bot(client):
    async with client.session(AVATAR_ID, is_sandbox=True) as session:
        return session.session_id


@pytest.mark.anyio
async def test_bot_stops_its_session(liveavatar_emulator, liveavatar_client):
    assert isinstance(liveavatar_emulator, LiveAvatarEmulator)
    assert isinstance(liveavatar_client, LiveAvatarClient)
    assert liveavatar_client.base_url == liveavatar_emulator.base_url
    session_id = await my_bot(liveavatar_client)
    assert liveavatar_emulator.stop_reasons(session_id) == ["USER_CLOSED"]


def test_the_plugin_is_loaded_by_its_entry_point(request):
    assert request.config.pluginmanager.has_plugin("aioavatar")


@pytest.mark.anyio
async def test_each_test_gets_a_fresh_emulator(liveavatar_emulator):
    assert liveavatar_emulator.sessions == {}
    assert liveavatar_emulator.journal == []


@pytest.mark.anyio
async def test_kaltura_bot_speaks_and_ends_its_session(kaltura_emulator, kaltura_client):
    assert kaltura_client.base_url == kaltura_emulator.base_url
    async with kaltura_client.session("avatar-1") as session:
        await session.say_audio(b"ID3-not-really-mp3", duration=0.5)
    (recorded,) = kaltura_emulator.sessions.values()
    assert [turn.duration for turn in recorded.turns] == [0.5]
    assert len(kaltura_emulator.requests("end", session_id=recorded.id)) == 1


@pytest.mark.anyio
async def test_injected_faults_are_retried(liveavatar_emulator, liveavatar_client):
    liveavatar_emulator.inject("token", status=503, times=2)
    session_id = await my_bot(liveavatar_client)
    assert len(liveavatar_emulator.requests("token")) == 3
    assert liveavatar_emulator.stop_reasons(session_id) == ["USER_CLOSED"]
"""

WRONG_TEST = """

@pytest.mark.anyio
async def test_wrong_expectation_fails(liveavatar_emulator, liveavatar_client):
    session_id = await my_bot(liveavatar_client)
    assert liveavatar_emulator.stop_reasons(session_id) == ["SERVER_ERROR"]
"""


def test_fixtures_work_in_a_users_suite_through_the_entry_point(pytester: pytest.Pytester) -> None:
    """A user's suite, in its own process, gets both fixtures from the installed entry point; a wrong
    assertion about what the emulator received fails as it should."""
    pytester.makeconftest(USER_CONFTEST)
    pytester.makepyfile(test_bot=USER_TESTS + WRONG_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(["*FAILED test_bot.py::test_wrong_expectation_fails*"])


def test_plugin_can_be_disabled_by_name(pytester: pytest.Pytester) -> None:
    """The plugin is registered as ``aioavatar``: ``-p no:aioavatar`` removes its fixtures."""
    pytester.makeconftest(USER_CONFTEST)
    pytester.makepyfile(test_bot=USER_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:aioavatar")
    result.assert_outcomes(failed=1, errors=4)
    result.stdout.fnmatch_lines(["*fixture 'liveavatar_emulator' not found*"])


def test_overriding_the_emulator_fixture_changes_what_the_client_uses(
    pytester: pytest.Pytester,
) -> None:
    """A user's own ``liveavatar_emulator`` (another API key, short timers) is what the client talks to."""
    pytester.makeconftest(
        USER_CONFTEST
        + """
from aioavatar.testing import LiveAvatarEmulator

@pytest.fixture
async def liveavatar_emulator():
    async with LiveAvatarEmulator(api_key="my-own-key", idle_timeout=0.1) as emulator:
        yield emulator
"""
    )
    pytester.makepyfile(
        test_override="""
        import anyio
        import pytest

        @pytest.mark.anyio
        async def test_override(liveavatar_emulator, liveavatar_client):
            assert liveavatar_emulator.api_key == "my-own-key"
            token = await liveavatar_client.create_session_token(
                "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"
            )
            await liveavatar_client.start_session(token.session_token)
            with anyio.fail_after(10):  # a hang guard: the 0.1 s idle window ends it
                while liveavatar_emulator.sessions[token.session_id].state != "ended":
                    await anyio.sleep(0.01)
            assert liveavatar_emulator.sessions[token.session_id].end_reason == "IDLE_TIMEOUT"
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_package_module_serves_the_same_fixtures(pytester: pytest.Pytester) -> None:
    """A conftest naming ``aioavatar.testing.pytest_plugin`` gets the fixtures with the entry point off."""
    pytester.makeconftest(USER_CONFTEST + 'pytest_plugins = ["aioavatar.testing.pytest_plugin"]\n')
    pytester.makepyfile(test_bot=USER_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:aioavatar")
    result.assert_outcomes(passed=4, failed=1)  # the entry-point check fails: it is off
    result.stdout.fnmatch_lines(
        ["*FAILED test_bot.py::test_the_plugin_is_loaded_by_its_entry_point*"]
    )


LAZY_CONFTEST = (
    USER_CONFTEST
    + """
import json
import sys

WATCHED = (
    "aiohttp",
    "aioavatar",
    "aioavatar.testing",
    "aioavatar.testing._liveavatar",
    "aioavatar.testing._kaltura",
)


def pytest_collection_finish(session):
    loaded = [name for name in WATCHED if name in sys.modules]
    plugin = session.config.pluginmanager.has_plugin("aioavatar")
    (session.config.invocation_params.dir / "loaded.json").write_text(json.dumps([plugin, loaded]))
"""
)

LAZY_TESTS = """
import sys

import pytest


def test_no_fixture_used_yet():
    assert "aiohttp" not in sys.modules


@pytest.mark.anyio
async def test_a_fixture_imports_on_use(kaltura_emulator):
    assert "aiohttp" in sys.modules
    assert "aioavatar.testing._kaltura" in sys.modules
"""


def test_the_plugin_imports_nothing_until_a_fixture_is_used(pytester: pytest.Pytester) -> None:
    """After collection, in a user's own pytest process, neither aiohttp nor aioavatar nor an emulator
    is imported though the plugin is loaded; the first fixture used imports them."""
    pytester.makeconftest(LAZY_CONFTEST)
    pytester.makepyfile(test_lazy=LAZY_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=2)
    plugin_loaded, loaded = json.loads((pytester.path / "loaded.json").read_text())
    assert plugin_loaded is True
    assert loaded == []
