"""Shared pytest configuration."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import AsyncIterator, Iterator

import pytest

from aioavatar import KalturaAvatarClient, LiveAvatarClient, RetryPolicy
from aioavatar.testing import KalturaEmulator, LiveAvatarEmulator

from .logs import LOGGERS, Keep
from .providers import API_KEY, AVATAR_ID, KS, Provider

# A launcher that ignores SIGINT (a shell's background job, nohup) passes that on to every process it
# starts, and Python then never installs its Ctrl-C handler: the tests that send Ctrl-C to a program
# would wait for it in vain. The test processes take Python's handler back, and the programs they
# start get the default again.
if (
    threading.current_thread() is threading.main_thread()
    and signal.getsignal(signal.SIGINT) == signal.SIG_IGN
):
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def anyio_backend() -> str:
    """Run ``@pytest.mark.anyio`` tests on asyncio."""
    return "asyncio"


__all__ = ["API_KEY", "AVATAR_ID", "KS"]

FAST_RETRIES = RetryPolicy(backoff_initial=0.01, backoff_max=0.05)


@pytest.fixture
async def emulator() -> AsyncIterator[LiveAvatarEmulator]:
    """A LiveAvatar emulator listening on 127.0.0.1."""
    async with LiveAvatarEmulator(api_key=API_KEY) as emu:
        yield emu


@pytest.fixture
async def client(emulator: LiveAvatarEmulator) -> AsyncIterator[LiveAvatarClient]:
    """A LiveAvatarClient pointed at the emulator, with fast retries."""
    async with LiveAvatarClient(
        API_KEY,
        base_url=emulator.base_url,
        retry_policy=RetryPolicy(backoff_initial=0.01, backoff_max=0.05),
    ) as c:
        yield c


@pytest.fixture
async def kaltura_emulator() -> AsyncIterator[KalturaEmulator]:
    """A Kaltura Avatar emulator listening on 127.0.0.1."""
    async with KalturaEmulator(ks=KS) as emu:
        yield emu


@pytest.fixture
async def kaltura_client(kaltura_emulator: KalturaEmulator) -> AsyncIterator[KalturaAvatarClient]:
    """A KalturaAvatarClient pointed at the Kaltura emulator, with fast retries."""
    async with KalturaAvatarClient(
        KS, base_url=kaltura_emulator.base_url, retry_policy=FAST_RETRIES
    ) as c:
        yield c


@pytest.fixture(params=["liveavatar", "kaltura"])
async def provider(request: pytest.FixtureRequest) -> AsyncIterator[Provider]:
    """Each provider in turn: its emulator, a client on it, and what its lifecycle sends."""
    if request.param == "liveavatar":
        async with (
            LiveAvatarEmulator(api_key=API_KEY) as la_emulator,
            LiveAvatarClient(
                API_KEY, base_url=la_emulator.base_url, retry_policy=FAST_RETRIES
            ) as la_client,
        ):
            yield Provider("liveavatar", la_emulator, la_client, ("token", "start"), "stop")
    else:
        async with (
            KalturaEmulator(ks=KS) as k_emulator,
            KalturaAvatarClient(
                KS, base_url=k_emulator.base_url, retry_policy=FAST_RETRIES
            ) as k_client,
        ):
            yield Provider("kaltura", k_emulator, k_client, ("create", "init_client"), "end")


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    """Every log record of every logger, all at DEBUG (aiohttp's and asyncio's included)."""
    keep = Keep()
    levels = {name: logging.getLogger(name).level for name in LOGGERS}
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    logging.getLogger().addHandler(keep)
    try:
        yield keep.records
    finally:
        logging.getLogger().removeHandler(keep)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
