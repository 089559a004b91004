"""pytest fixtures for testing your own code against the emulators, without an account.

Installed with the package (the ``pytest11`` entry point ``aioavatar``), so the fixtures are available in
every test suite of a project that depends on aioavatar. They are async fixtures for anyio's pytest plugin
(it ships with anyio): mark the test ``@pytest.mark.anyio``.

``liveavatar_emulator``
    A running :class:`~aioavatar.testing.LiveAvatarEmulator` on 127.0.0.1 (a free port), fresh for each
    test: point your code at ``liveavatar_emulator.base_url`` with ``liveavatar_emulator.api_key``.
``liveavatar_client``
    A :class:`~aioavatar.LiveAvatarClient` entered and pointed at that emulator, with short retry backoff
    so that injected faults resolve in milliseconds.
``kaltura_emulator``
    A running :class:`~aioavatar.testing.KalturaEmulator`, fresh for each test: its ``base_url`` (ending
    in ``/v1``) and the admin KS it accepts, ``kaltura_emulator.ks``.
``kaltura_client``
    A :class:`~aioavatar.KalturaAvatarClient` entered and pointed at that emulator with its KS, with the
    same short retry backoff.

::

    @pytest.mark.anyio
    async def test_my_bot_stops_its_session(liveavatar_emulator, liveavatar_client):
        async with liveavatar_client.session(AVATAR_ID) as session:
            await my_bot(session)
        assert liveavatar_emulator.stop_reasons(session.session_id) == ["USER_CLOSED"]

To change an emulator (another API key, a short idle timeout), override its fixture in your
``conftest.py``; the client fixture then uses yours::

    @pytest.fixture
    async def liveavatar_emulator():
        async with LiveAvatarEmulator(idle_timeout=2) as emulator:
            yield emulator
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from aioavatar._retry import RetryPolicy
from aioavatar.kaltura import KalturaAvatarClient
from aioavatar.liveavatar import LiveAvatarClient
from aioavatar.testing._kaltura import KalturaEmulator
from aioavatar.testing._liveavatar import LiveAvatarEmulator

__all__ = [
    "FAST_RETRIES",
    "kaltura_client",
    "kaltura_emulator",
    "liveavatar_client",
    "liveavatar_emulator",
]

#: The retry policy of the fixtures' clients: the production rules, with millisecond backoff.
FAST_RETRIES = RetryPolicy(backoff_initial=0.01, backoff_max=0.05)


@pytest.fixture
async def liveavatar_emulator() -> AsyncIterator[LiveAvatarEmulator]:
    """A LiveAvatar emulator listening on 127.0.0.1, fresh for each test."""
    async with LiveAvatarEmulator() as emulator:
        yield emulator


@pytest.fixture
async def liveavatar_client(
    liveavatar_emulator: LiveAvatarEmulator,
) -> AsyncIterator[LiveAvatarClient]:
    """A LiveAvatarClient entered and pointed at ``liveavatar_emulator``, with fast retries."""
    async with LiveAvatarClient(
        liveavatar_emulator.api_key,
        base_url=liveavatar_emulator.base_url,
        retry_policy=FAST_RETRIES,
    ) as client:
        yield client


@pytest.fixture
async def kaltura_emulator() -> AsyncIterator[KalturaEmulator]:
    """A Kaltura Avatar emulator listening on 127.0.0.1, fresh for each test."""
    async with KalturaEmulator() as emulator:
        yield emulator


@pytest.fixture
async def kaltura_client(kaltura_emulator: KalturaEmulator) -> AsyncIterator[KalturaAvatarClient]:
    """A KalturaAvatarClient entered and pointed at ``kaltura_emulator`` with its KS, with fast retries."""
    async with KalturaAvatarClient(
        kaltura_emulator.ks, base_url=kaltura_emulator.base_url, retry_policy=FAST_RETRIES
    ) as client:
        yield client
