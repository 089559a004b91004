"""Benchmark 2, lifecycle throughput: complete sessions per second at concurrency 50.

A complete session is token, start, one keep-alive and stop. ``concurrency`` workers run sessions back to
back until ``sessions`` are done (or ``limit`` seconds have passed: httpx is slow here). Rows:

- ``aioavatar session``: ``async with client.session(...)`` (token and start on enter, the session's
  timers on the client's keep-alive scheduler, stop on exit) with one keep-alive sent through the client
  inside the block. The session's own keep-alive interval is the longest allowed (150 s), so that its
  timer (set and cancelled with every session) never adds a second beat.
- ``aioavatar client``: the four calls through :class:`~aioavatar.LiveAvatarClient`.
- ``aiohttp``: the four calls with bare aiohttp (the reference); ``httpx``: the same with httpx (context).

Each round runs every row once, in a rotating order; figures are medians over rounds, and the ratios are
taken within each round. Both client and emulator are Python processes on a shared machine: when the
emulator's core is the bottleneck every row gets the same throughput, so the client CPU per session (what
a faster server would turn into throughput) is reported beside it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from aioavatar import LiveAvatarClient

from ._harness import (
    API_KEY,
    AVATAR_ID,
    EmulatorProcess,
    cpu_seconds,
    markdown_table,
    median,
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


async def _one(
    row: str, base_url: str, sessions: int, concurrency: int, warmup: int, limit: float
) -> tuple[int, float, float]:
    if row == "aioavatar session":
        async with LiveAvatarClient(API_KEY, base_url=base_url) as client:
            lifecycle = _session_lifecycle(client)
            await _drive(lifecycle, warmup, concurrency, limit)
            return await _drive(lifecycle, sessions, concurrency, limit)
    factories: dict[str, type[SdkCalls | AiohttpCalls | HttpxCalls]] = {
        "aioavatar client": SdkCalls,
        "aiohttp": AiohttpCalls,
        "httpx": HttpxCalls,
    }
    async with factories[row](base_url) as calls:
        lifecycle = _calls_lifecycle(calls)
        await _drive(lifecycle, warmup, concurrency, limit)
        return await _drive(lifecycle, sessions, concurrency, limit)


async def run(
    *, rounds: int, sessions: int, limit: float = 3.0, concurrency: int = 50, warmup: int = 100
) -> dict[str, Any]:
    """Run the benchmark; returns the JSON-ready result (``table`` holds the printed table).

    Each run does ``sessions`` complete sessions, or as many as it starts within ``limit`` seconds.
    """
    per_round: list[dict[str, dict[str, float]]] = []
    async with EmulatorProcess() as emulator:
        for index in range(rounds):
            order = [*ROWS[index % len(ROWS) :], *ROWS[: index % len(ROWS)]]
            figures: dict[str, dict[str, float]] = {}
            for row in order:
                emu0 = emulator.cpu_seconds()
                done, wall, cpu = await _one(
                    row, emulator.base_url, sessions, concurrency, warmup, limit
                )
                emu = emulator.cpu_seconds() - emu0
                figures[row] = {
                    "sessions": done,
                    "sessions_per_s": done / wall,
                    "cpu_us_per_session": cpu / done * 1e6,
                    "client_cores": cpu / wall,
                    "emulator_cores": emu / wall,  # includes the warm-up: context only
                }
            per_round.append(figures)
            await emulator.reset()
    keys = ("sessions_per_s", "cpu_us_per_session", "client_cores", "emulator_cores")
    medians = {row: {k: median([r[row][k] for r in per_round]) for k in keys} for row in ROWS}
    throughput_ratio = {
        row: median([r[row]["sessions_per_s"] / r["aiohttp"]["sessions_per_s"] for r in per_round])
        for row in ROWS
    }
    cpu_ratio = {
        row: median(
            [r[row]["cpu_us_per_session"] / r["aiohttp"]["cpu_us_per_session"] for r in per_round]
        )
        for row in ROWS
    }
    rows = [
        [
            row,
            f"{medians[row]['sessions_per_s']:.0f}",
            f"{throughput_ratio[row]:.0%}",
            f"{medians[row]['cpu_us_per_session']:.0f}",
            f"{cpu_ratio[row]:.2f}x",
            f"{medians[row]['client_cores']:.2f} / {medians[row]['emulator_cores']:.2f}",
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
        "medians": medians,
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
