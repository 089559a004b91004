"""pytest fixtures for testing your own code against the aioavatar emulators, without an account.

Installed with the package (the ``pytest11`` entry point ``aioavatar``), so the fixtures are available in
every test suite of a project that depends on aioavatar. The plugin lives outside the ``aioavatar``
package on purpose (as Hypothesis does with ``_hypothesis_pytestplugin``): loading it imports nothing of
aioavatar, aiohttp or the emulators, so a test run that uses no fixture pays nothing for it. Each fixture
imports what it needs when it first runs. ``aioavatar.testing.pytest_plugin`` is the same fixtures under
the package's name.

They are async fixtures for anyio's pytest plugin (it ships with anyio): mark the test
``@pytest.mark.anyio``.

``liveavatar_emulator``
    A running :class:`~aioavatar.testing.LiveAvatarEmulator` on 127.0.0.1 (a free port), fresh for each
    test: point your code at ``liveavatar_emulator.base_url`` with ``liveavatar_emulator.api_key``.
``liveavatar_client``
    A :class:`~aioavatar.LiveAvatarClient` entered and pointed at that emulator, with short retry backoff
    so that injected faults resolve in milliseconds.
``kaltura_emulator``
    A running :class:`~aioavatar.testing.KalturaEmulator`, fresh for each test: its ``base_url`` (the API
    root: the paths carry ``/v1``) and the admin KS it accepts, ``kaltura_emulator.ks``.
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
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from aioavatar import KalturaAvatarClient, LiveAvatarClient, RetryPolicy
    from aioavatar.testing import KalturaEmulator, LiveAvatarEmulator

__all__ = [
    "fast_retries",
    "kaltura_client",
    "kaltura_emulator",
    "liveavatar_client",
    "liveavatar_emulator",
]


def fast_retries() -> RetryPolicy:
    """The retry policy of the fixtures' clients: the production rules, with millisecond backoff."""
    from aioavatar import RetryPolicy

    return RetryPolicy(backoff_initial=0.01, backoff_max=0.05)


@pytest.fixture
async def liveavatar_emulator() -> AsyncIterator[LiveAvatarEmulator]:
    """A LiveAvatar emulator listening on 127.0.0.1, fresh for each test."""
    from aioavatar.testing import LiveAvatarEmulator

    async with LiveAvatarEmulator() as emulator:
        yield emulator


@pytest.fixture
async def liveavatar_client(
    liveavatar_emulator: LiveAvatarEmulator,
) -> AsyncIterator[LiveAvatarClient]:
    """A LiveAvatarClient entered and pointed at ``liveavatar_emulator``, with fast retries."""
    from aioavatar import LiveAvatarClient

    async with LiveAvatarClient(
        liveavatar_emulator.api_key,
        base_url=liveavatar_emulator.base_url,
        retry_policy=fast_retries(),
    ) as client:
        yield client


@pytest.fixture
async def kaltura_emulator() -> AsyncIterator[KalturaEmulator]:
    """A Kaltura Avatar emulator listening on 127.0.0.1, fresh for each test."""
    from aioavatar.testing import KalturaEmulator

    async with KalturaEmulator() as emulator:
        yield emulator


@pytest.fixture
async def kaltura_client(kaltura_emulator: KalturaEmulator) -> AsyncIterator[KalturaAvatarClient]:
    """A KalturaAvatarClient entered and pointed at ``kaltura_emulator`` with its KS, with fast retries."""
    from aioavatar import KalturaAvatarClient

    async with KalturaAvatarClient(
        kaltura_emulator.ks, base_url=kaltura_emulator.base_url, retry_policy=fast_retries()
    ) as client:
        yield client
