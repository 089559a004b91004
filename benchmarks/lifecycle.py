"""Benchmark 2, lifecycle throughput: complete sessions per second at concurrency 50.

A complete session is token, start, one keep-alive and stop. ``concurrency`` workers run sessions back to
back until ``sessions`` are done (or ``limit`` seconds have passed: httpx is slow here). Rows:

- ``aioavatar session``: ``async with client.session(...)`` (token and start on enter, the session's
  timers on the client's keep-alive scheduler, stop on exit) with one keep-alive sent through the client
  inside the block. The session's own keep-alive interval is the longest allowed (150 s), so that its
  timer (set and cancelled with every session) never adds a second beat.
- ``aioavatar client``: the four calls through :class:`~aioavatar.LiveAvatarClient`.
- ``aiohttp``: the four calls with bare aiohttp (the reference); ``httpx``: the same with httpx (context).

Each row opens its client once and warms it up, as a service keeps its client; then every round runs
every row once (300 sessions each by default), in a balanced order (``_harness.balanced_order``), so
that all rows are measured under the same state of the machine. Figures are totals over every round
(sessions per second: all the sessions over all the time); ratios are ratios of totals, and the
quartiles of the per-round ratios show the spread. Before, each round opened a new client per row and
the median of five per-round ratios was judged: per-round ratios from 69 % to 98 % within one run on a
shared VM, whose speed drifts over seconds, made that median a draw (the per-call benchmark had the same
flaw, see ``calls.py``).

Both client and emulator are Python processes on the same two cores: when the emulator's core is the
bottleneck every row gets nearly the same throughput, so the client CPU per session (what a faster
server would turn into throughput) is reported beside it.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio

from aioavatar import LiveAvatarClient

from ._harness import (
    API_KEY,
    AVATAR_ID,
    EmulatorProcess,
    balanced_order,
    cpu_seconds,
    markdown_table,
    quartiles,
    verdict,
)
from ._impls import AiohttpCalls, Calls, HttpxCalls, SdkCalls, whole_session

TARGET_RATIO = 0.85
ROWS = ("aioavatar session", "aioavatar client", "aiohttp", "httpx")
Lifecycle = Callable[[], Awaitable[None]]


def _calls_lifecycle(calls: Calls) -> Lifecycle:
    async def lifecycle() -> None:
        await whole_session(calls)

    return lifecycle


def _session_lifecycle(client: LiveAvatarClient) -> Lifecycle:
    async def lifecycle() -> None:
        async with client.session(AVATAR_ID, keep_alive_interval=150.0) as session:
            await client.keep_alive(session.session_id)

    return lifecycle


async def _drive(
    lifecycle: Lifecycle, sessions: int, concurrency: int, limit: float
) -> tuple[int, float, float]:
    """Run up to ``sessions`` lifecycles with ``concurrency`` workers, starting none after ``limit``
    seconds; returns (sessions done, wall s, client CPU s)."""
    remaining = sessions
    done = 0
    wall0, cpu0 = anyio.current_time(), cpu_seconds()
    stop_at = wall0 + limit

    async def worker() -> None:
        nonlocal remaining, done
        while remaining > 0 and anyio.current_time() < stop_at:
            remaining -= 1
            await lifecycle()
            done += 1

    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    return done, anyio.current_time() - wall0, cpu_seconds() - cpu0


@contextlib.asynccontextmanager
async def _opened(row: str, base_url: str) -> AsyncIterator[Lifecycle]:
    """The lifecycle of ``row``, on a client opened for as long as the context lasts."""
    if row == "aioavatar session":
        async with LiveAvatarClient(API_KEY, base_url=base_url) as client:
            yield _session_lifecycle(client)
        return
    factories: dict[str, type[SdkCalls | AiohttpCalls | HttpxCalls]] = {
        "aioavatar client": SdkCalls,
        "aiohttp": AiohttpCalls,
        "httpx": HttpxCalls,
    }
    async with factories[row](base_url) as calls:
        yield _calls_lifecycle(calls)


async def run(
    *, rounds: int, sessions: int, limit: float = 2.0, concurrency: int = 50, warmup: int = 100
) -> dict[str, Any]:
    """Run the benchmark; returns the JSON-ready result (``table`` holds the printed table).

    Each run does ``sessions`` complete sessions, or as many as it starts within ``limit`` seconds.
    """
    per_round: list[dict[str, dict[str, float]]] = []
    async with EmulatorProcess() as emulator, contextlib.AsyncExitStack() as stack:
        lifecycles: dict[str, Lifecycle] = {}
        for row in ROWS:
            lifecycles[row] = await stack.enter_async_context(_opened(row, emulator.base_url))
            await _drive(lifecycles[row], warmup, concurrency, limit)
        await emulator.reset()
        gc.collect()  # the warm-up's garbage, not the first timed row's
        for index in range(rounds):
            order = balanced_order(ROWS, index)
            figures: dict[str, dict[str, float]] = {}
            for row in order:
                emu0 = emulator.cpu_seconds()
                done, wall, cpu = await _drive(lifecycles[row], sessions, concurrency, limit)
                figures[row] = {
                    "sessions": done,
                    "wall": wall,
                    "cpu": cpu,
                    "emulator_cpu": emulator.cpu_seconds() - emu0,
                }
            per_round.append(figures)
            await emulator.reset()
    totals = {
        row: {k: sum(r[row][k] for r in per_round) for k in per_round[0][row]} for row in ROWS
    }
    figures_of = {
        row: {
            "sessions_per_s": t["sessions"] / t["wall"],
            "cpu_us_per_session": t["cpu"] / t["sessions"] * 1e6,
            "client_cores": t["cpu"] / t["wall"],
            "emulator_cores": t["emulator_cpu"] / t["wall"],
        }
        for row, t in totals.items()
    }
    bare = figures_of["aiohttp"]
    throughput_ratio = {
        row: figures_of[row]["sessions_per_s"] / bare["sessions_per_s"] for row in ROWS
    }
    cpu_ratio = {
        row: figures_of[row]["cpu_us_per_session"] / bare["cpu_us_per_session"] for row in ROWS
    }
    low, mid, high = quartiles(
        [
            (r["aioavatar session"]["sessions"] / r["aioavatar session"]["wall"])
            / (r["aiohttp"]["sessions"] / r["aiohttp"]["wall"])
            for r in per_round
        ]
    )
    rows = [
        [
            row,
            f"{figures_of[row]['sessions_per_s']:.0f}",
            f"{throughput_ratio[row]:.0%}",
            f"{figures_of[row]['cpu_us_per_session']:.0f}",
            f"{cpu_ratio[row]:.2f}x",
            f"{figures_of[row]['client_cores']:.2f} / {figures_of[row]['emulator_cores']:.2f}",
        ]
        for row in ROWS
    ]
    table = markdown_table(
        [
            f"concurrency {concurrency}",
            "sessions/s",
            "vs aiohttp",
            "client CPU per session (us)",
            "vs aiohttp",
            "cores: client / emulator",
        ],
        rows,
    ) + (
        f"\nper-round aioavatar session / aiohttp sessions per second, quartiles: "
        f"{low:.0%} / {mid:.0%} / {high:.0%}"
    )
    met = throughput_ratio["aioavatar session"] >= TARGET_RATIO
    return {
        "benchmark": "lifecycle",
        "settings": {
            "rounds": rounds,
            "sessions_per_run": sessions,
            "seconds_per_run_at_most": limit,
            "concurrency": concurrency,
            "warmup": warmup,
        },
        "figures": figures_of,
        "per_round_quartiles_session_vs_aiohttp": [low, mid, high],
        "throughput_vs_aiohttp": throughput_ratio,
        "cpu_vs_aiohttp": cpu_ratio,
        "rounds": per_round,
        "targets": {
            f"lifecycle throughput (aioavatar session) >= {TARGET_RATIO:.0%} of bare aiohttp": verdict(
                met
            )
        },
        "table": table,
    }
