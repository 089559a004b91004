"""What an idle session costs the garbage collector, counted (not timed): every object the collector
tracks is work for each of its full collections, which stall the loop at 10,000 sessions."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from aioavatar import KalturaAvatarClient, LiveAvatarClient

from .providers import AVATAR_ID, KALTURA_AVATAR_ID

pytestmark = pytest.mark.anyio

#: The most objects an idle session may add, beyond the task that holds its block. Measured at 28
#: (LiveAvatar, with a deadline) and 19-21 (Kaltura) when this was written: the session, its backend,
#: token, request and answer, the keep-alive with one loop timer per armed job, the block's cancel
#: scope and the context manager's generator; a task group, a task per session or a closure per beat
#: would break it.
MAX_OBJECTS_PER_SESSION = 32


@pytest.fixture(params=["liveavatar", "kaltura"])
def emulator_process(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """An emulator in a process of its own, so that its objects are not counted with the client's."""
    command = [sys.executable, "-m", "aioavatar", "emulator", "--provider", request.param]
    with subprocess.Popen(  # noqa: S603 - this interpreter, this package
        [*command, "--port", "0", "--json"], stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        try:
            yield {"provider": request.param, **json.loads(process.stdout.readline())}
        finally:
            process.terminate()


async def _tracked_while_idle(client: Any, provider: str, count: int, *, sessions: bool) -> int:
    """Objects the collector tracks while ``count`` tasks wait, each inside a session or not."""
    inside = 0
    all_inside = anyio.Event()
    leave = anyio.Event()
    tracked = 0

    async def hold() -> None:
        nonlocal inside
        if not sessions:
            inside += 1
            if inside == count:
                all_inside.set()
            await leave.wait()
            return
        if provider == "liveavatar":
            session = client.session(AVATAR_ID, is_sandbox=True, keep_alive_interval=30)
        else:
            session = client.session(KALTURA_AVATAR_ID, keep_alive_interval=30)
        async with session:
            inside += 1
            if inside == count:
                all_inside.set()
            await leave.wait()

    async with anyio.create_task_group() as tg:
        for _ in range(count):
            tg.start_soon(hold)
        with anyio.fail_after(60):  # a hang, not a speed limit
            await all_inside.wait()
        # The fewest of a few counts: a keep-alive in flight (beats start at a random phase) holds
        # request objects for a moment, which would be counted as the session's.
        samples = []
        for _ in range(5):
            gc.collect()
            samples.append(len(gc.get_objects()))
            await anyio.sleep(0.05)
        tracked = min(samples)
        leave.set()
    return tracked


async def test_an_idle_session_adds_few_objects_for_the_garbage_collector(
    emulator_process: dict[str, Any],
) -> None:
    """Between 200 and 400 idle sessions, each adds at most 32 tracked objects beyond the task that
    holds its block (plain waiting tasks are the baseline, measured the same way)."""
    provider = emulator_process["provider"]
    client_class = LiveAvatarClient if provider == "liveavatar" else KalturaAvatarClient
    async with client_class(
        emulator_process["api_key"], base_url=emulator_process["base_url"]
    ) as client:
        await _tracked_while_idle(client, provider, 200, sessions=True)  # imports, pool, workers
        plain = [await _tracked_while_idle(client, provider, n, sessions=False) for n in (200, 400)]
        held = [await _tracked_while_idle(client, provider, n, sessions=True) for n in (200, 400)]
    per_session = ((held[1] - held[0]) - (plain[1] - plain[0])) / 200
    assert 0 < per_session <= MAX_OBJECTS_PER_SESSION, (plain, held)
