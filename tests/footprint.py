"""What an idle session adds for the garbage collector to walk, counted in an interpreter of its own.

``python -m tests.footprint PROVIDER BASE_URL API_KEY`` prints, as JSON, three measurements of the
tracked objects that 200 more idle sessions add each, beyond the plain asyncio task that holds each
block, against an emulator in another process (``tests/test_footprint.py`` runs it, so that nothing
an earlier test left behind is freed between two counts).
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from typing import Any

import anyio

from aioavatar import KalturaAvatarClient, LiveAvatarClient

from .providers import AVATAR_ID, KALTURA_AVATAR_ID

__all__ = ["idle_session_objects", "tracked"]


async def tracked(
    client: Any, provider: str, *, sessions: bool, batch: int = 200
) -> tuple[int, int]:
    """Objects the collector tracks while ``batch`` tasks wait, then while twice as many do (each
    inside a session or not): the second batch joins the first, so nothing is torn down between."""
    entered = 0
    batch_in = anyio.Event()
    leave = anyio.Event()

    async def hold() -> None:
        nonlocal entered, batch_in
        if not sessions:
            entered += 1
            if entered % batch == 0:
                batch_in.set()
            await leave.wait()
            return
        if provider == "liveavatar":
            # The longest interval each provider allows, so that few beats are in flight meanwhile;
            # a deadline, so that its timer is counted too.
            session = client.session(AVATAR_ID, max_session_duration=3600, keep_alive_interval=150)
        else:
            session = client.session(KALTURA_AVATAR_ID, keep_alive_interval=30)
        async with session:
            entered += 1
            if entered % batch == 0:
                batch_in.set()
            await leave.wait()

    counts: list[int] = []
    # Plain asyncio tasks, as a bot's own: a task anyio never saw, which a cancel scope around the
    # block (anyio's record of the task, a weak reference) would make heavier than one it spawned.
    async with asyncio.TaskGroup() as tg:
        for _ in range(2):
            batch_in = anyio.Event()
            for _ in range(batch):
                tg.create_task(hold())
            with anyio.fail_after(60):  # a hang, not a speed limit
                await batch_in.wait()
            # The fewest of a few counts: a keep-alive in flight (beats start at a random phase)
            # holds request objects for a moment, which would be counted as the session's.
            samples = []
            for _ in range(5):
                gc.collect()
                samples.append(len(gc.get_objects()))
                await anyio.sleep(0.05)
            counts.append(min(samples))
        leave.set()
    return counts[0], counts[1]


async def idle_session_objects(provider: str, base_url: str, api_key: str) -> list[float]:
    """Three measurements of the objects 200 more idle sessions add each, beyond 200 more plain
    waiting tasks, measured the same way. The pool holds four connections, so that its own objects
    barely move."""
    client_class = LiveAvatarClient if provider == "liveavatar" else KalturaAvatarClient
    measured = []
    async with client_class(api_key, base_url=base_url, connection_limit=4) as client:
        await tracked(client, provider, sessions=True, batch=20)  # imports, pool, workers
        for _ in range(3):
            plain = await tracked(client, provider, sessions=False)
            held = await tracked(client, provider, sessions=True)
            measured.append(((held[1] - held[0]) - (plain[1] - plain[0])) / 200)
    return measured


if __name__ == "__main__":
    provider, base_url, api_key = sys.argv[1:4]
    print(json.dumps(asyncio.run(idle_session_objects(provider, base_url, api_key))))
