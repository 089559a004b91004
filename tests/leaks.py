"""Checks that a test left no connection or task behind (shared by the reliability tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import anyio

from aioavatar import LiveAvatarClient


def acquired_connections(client: LiveAvatarClient) -> int:
    """Connections of the client's pool that are checked out (in use, or leaked)."""
    connector = client._transport.http_session.connector
    assert connector is not None
    return len(connector._acquired)  # aiohttp keeps no public count of connections in use


def task_snapshot() -> set[asyncio.Task[object]]:
    """The tasks running now (take it before the code under test starts any)."""
    return set(asyncio.all_tasks())


async def assert_no_tasks_left(baseline: set[asyncio.Task[object]], *, within: float = 5.0) -> None:
    """Wait (at most ``within`` seconds) for every task started since ``baseline`` to end.

    The emulator shares the loop: its per-connection handler tasks end once the client's sockets are
    closed, which takes a few loop turns. A task still running after ``within`` is a leak.
    """
    left: set[asyncio.Task[object]] = set()
    with anyio.move_on_after(within):
        while True:
            left = {t for t in asyncio.all_tasks() if t not in baseline and not t.done()}
            if not left:
                return
            await anyio.sleep(0.01)
    raise AssertionError(f"tasks left running: {sorted(repr(t) for t in left)}")


async def wait_until(condition: Callable[[], bool], *, within: float = 5.0) -> None:
    """Poll ``condition`` (state of another party: the emulator's journal, the pool) until it holds."""
    with anyio.fail_after(within):
        while True:
            if condition():
                return
            await anyio.sleep(0.005)
