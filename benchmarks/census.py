"""Benchmark 5, census: what idle sessions give the garbage collector to walk, counted, not timed in a run.

A full collection walks every object the collector tracks, and the longest loop stall at scale is one
full collection (see ``scale.py``). This counts what causes it, away from the noise of a running
window: ``sessions`` sessions (10,000 by default) are opened on one client and left idle, each in an
asyncio task of its own, then the tracked objects are counted (``len(gc.get_objects())`` against the
count before the first session, per session) and a full collection is timed (``gc.collect()``, the
fewest milliseconds of five). Three shapes, each in a fresh interpreter:

- ``aioavatar``: ``async with client.session(...)`` held in the task (the scale benchmark's holder);
- ``aiohttp``: the scale benchmark's bare aiohttp loop (token, start, then a keep-alive loop);
- ``task``: the task alone, waiting on an event with no session in it: the least any design can
  cost where the user's own task holds the session, since the session's objects come on top of it.

Then what decides *when* a full collection comes: CPython starts one once more than ten intermediate
collections (of the two young generations) have run since the last, and the objects they promoted
into the oldest generation are at least a quarter of what the last full collection left there.
Counted with ``gc.callbacks``: the objects each shape promotes in a steady window (``--steady``
seconds, ``STEADY`` by default), and those it promotes while one session in ``CANCEL_EVERY`` is
cancelled at once (the scale benchmark's thousand at 10,000), against a quarter of the oldest
generation. A window counts what its intermediate collections promote, the objects young when it
began included, and what a collector with other work (resurrected objects, tuples it stops tracking)
does not count: a few percent more than CPython's own count.

No target is judged here: the figures explain the scale benchmark's stall ratio (``aioavatar`` over
``aiohttp``), how much of it the ``task`` row already is, and where its full collections fall.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time
from pathlib import Path
from typing import Any

import anyio

from aioavatar import LiveAvatarClient

from . import scale
from ._harness import API_KEY, EmulatorProcess, in_fresh_process, markdown_table
from ._impls import AiohttpCalls

VARIANTS = ("aioavatar", "aiohttp", "task")
INTERVAL = 10.0
#: The steady window whose promotions are counted (seconds), and one session in how many is cancelled.
STEADY = 10.0
CANCEL_EVERY = 10


class Promotions:
    """What the collector promotes into its oldest generation, counted from ``gc.callbacks``: each
    intermediate collection (of generations 0 and 1) moves what survives it there."""

    def __init__(self) -> None:
        self.promoted = 0
        self.intermediate = 0
        self.full = 0
        self._young = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        generation = info["generation"]
        if phase == "start":
            if generation == 1:
                self._young = len(gc.get_objects(0)) + len(gc.get_objects(1))
            elif generation == 2:
                self.full += 1
        elif generation == 1:
            self.intermediate += 1
            self.promoted += self._young - info["collected"]

    def reset(self) -> dict[str, int]:
        """The counts so far, then zero."""
        counts = {"promoted": self.promoted, "intermediate": self.intermediate, "full": self.full}
        self.promoted = self.intermediate = self.full = 0
        return counts


async def _measure(variant: str, sessions: int, steady_seconds: float = STEADY) -> dict[str, Any]:
    """Open ``sessions`` of ``variant``, leave them idle, count and collect."""
    async with (
        EmulatorProcess(idle_timeout=3600.0) as emulator,
        LiveAvatarClient(API_KEY, base_url=emulator.base_url) as client,
        AiohttpCalls(emulator.base_url) as calls,
    ):
        run = scale._Run(total=sessions)
        release = scale.Release()
        slots = anyio.Semaphore(100)
        hold: scale.Holder
        if variant == "task":

            async def hold(index: int) -> None:
                run.opened(index, str(index))
                await release.wait()

        else:
            hold = await scale.warm_holder(variant, client, calls, run, slots, release, INTERVAL)

        gc.collect()
        before = len(gc.get_objects())
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(hold(i)) for i in range(sessions)]
            with anyio.fail_after(max(300.0, sessions / 50)):  # a hang, not a speed limit
                await run.all_up.wait()
            await anyio.sleep(1.0)
            counts: list[int] = []
            pauses: list[float] = []
            for _ in range(5):
                started = time.perf_counter()
                gc.collect()
                pauses.append(time.perf_counter() - started)
                counts.append(len(gc.get_objects()))
                await anyio.sleep(0.2)  # beats in flight come and go between counts
            oldest = len(gc.get_objects(2))  # as the last full collection left it
            promotions = Promotions()
            gc.callbacks.append(promotions)
            try:
                await anyio.sleep(steady_seconds)
                steady = promotions.reset()
                cancelled = tasks[::CANCEL_EVERY]
                for task in cancelled:
                    task.cancel()
                with anyio.fail_after(120):  # a hang, not a speed limit
                    await asyncio.wait(cancelled)
                cancelling = promotions.reset()
            finally:
                gc.callbacks.remove(promotions)
            release.set()
            if variant == "aiohttp":  # its loops end by cancellation
                for task in tasks:
                    task.cancel()
    return {
        "variant": variant,
        "sessions": sessions,
        "baseline_objects": before,
        "objects_per_session": round((min(counts) - before) / sessions, 2),
        "full_collection_ms": round(min(pauses) * 1000, 1),
        "full_collection_ms_median": round(statistics.median(pauses) * 1000, 1),
        "steady_seconds": steady_seconds,
        "steady": steady,
        "cancelled": len(cancelled),
        "cancelling": cancelling,
        "oldest_generation": oldest,
    }


async def run(sessions: int = 10_000, steady: float = STEADY) -> dict[str, Any]:
    """Each shape in a fresh interpreter; the table and the JSON-ready result."""
    rows = {
        variant: await in_fresh_process(
            "benchmarks.census",
            "--variant",
            variant,
            "--sessions",
            str(sessions),
            "--steady",
            str(steady),
        )
        for variant in VARIANTS
    }
    bare = rows["aiohttp"]["full_collection_ms"] or 1.0
    any_row = next(iter(rows.values()))
    promotions = markdown_table(
        [
            f"{sessions:,} sessions",
            f"promoted in {any_row['steady_seconds']:g} s steady (intermediate / full collections)",
            f"promoted cancelling {any_row['cancelled']:,} (per session; full collections)",
            "a quarter of the oldest generation",
        ],
        [
            [
                name,
                f"{row['steady']['promoted']:,} ({row['steady']['intermediate']} / "
                f"{row['steady']['full']})",
                f"{row['cancelling']['promoted']:,} "
                f"({row['cancelling']['promoted'] / max(1, row['cancelled']):.0f}; "
                f"{row['cancelling']['full']})",
                f"{row['oldest_generation'] // 4:,}",
            ]
            for name, row in rows.items()
        ],
    )
    table = (
        markdown_table(
            [
                f"{sessions:,} idle",
                "tracked objects per session",
                "full collection (ms)",
                "vs aiohttp",
            ],
            [
                [
                    name,
                    f"{row['objects_per_session']:.1f}",
                    f"{row['full_collection_ms']:.0f}",
                    f"{row['full_collection_ms'] / bare:.2f}x",
                ]
                for name, row in rows.items()
            ],
        )
        + "\n\n"
        + promotions
    )
    return {"benchmark": "census", "sessions": sessions, "rows": rows, "table": table}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.census", description=__doc__)
    parser.add_argument("--variant", choices=VARIANTS, required=True)
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--steady", type=float, default=STEADY)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    result = asyncio.run(_measure(args.variant, args.sessions, args.steady))
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
