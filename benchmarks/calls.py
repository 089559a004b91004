"""Benchmark 1, per-call overhead: client CPU per call of token, start, keep-alive and stop.

The SDK against the same four calls written with bare ``aiohttp`` (the floor) and with ``httpx``. Calls are
made one at a time (concurrency 1), so the CPU read around each ``await`` is that call's own. Each round
runs every implementation once, in a rotating order, after a warm-up; figures are medians over rounds, and
ratios are taken within each round, then their median is reported.
"""

from __future__ import annotations

import gc
from typing import Any

from ._harness import EmulatorProcess, cpu_seconds, markdown_table, median, verdict
from ._impls import IMPLEMENTATIONS, Calls

OPS = ("token", "start", "keep_alive", "stop")
TARGET_VS_AIOHTTP = 1.3


async def _measure(calls: Calls, lifecycles: int, warmup: int) -> dict[str, float]:
    """CPU microseconds per call of each operation, over ``lifecycles`` sequential lifecycles."""
    for _ in range(warmup):
        session_id, token = await calls.token()
        await calls.start(token)
        await calls.keep_alive(session_id, token)
        await calls.stop(session_id, token)
    gc.collect()
    spent = dict.fromkeys(OPS, 0.0)
    for _ in range(lifecycles):
        c0 = cpu_seconds()
        session_id, token = await calls.token()
        c1 = cpu_seconds()
        await calls.start(token)
        c2 = cpu_seconds()
        await calls.keep_alive(session_id, token)
        c3 = cpu_seconds()
        await calls.stop(session_id, token)
        c4 = cpu_seconds()
        spent["token"] += c1 - c0
        spent["start"] += c2 - c1
        spent["keep_alive"] += c3 - c2
        spent["stop"] += c4 - c3
    per_call = {op: spent[op] / lifecycles * 1e6 for op in OPS}
    per_call["all four"] = sum(per_call[op] for op in OPS)
    return per_call


async def run(*, rounds: int, lifecycles: int, warmup: int = 30) -> dict[str, Any]:
    """Run the benchmark; returns the JSON-ready result (``table`` holds the printed table)."""
    names = list(IMPLEMENTATIONS)
    per_round: list[dict[str, dict[str, float]]] = []
    async with EmulatorProcess() as emulator:
        for index in range(rounds):
            order = names[index % len(names) :] + names[: index % len(names)]
            figures: dict[str, dict[str, float]] = {}
            for name in order:
                async with IMPLEMENTATIONS[name](emulator.base_url) as calls:
                    figures[name] = await _measure(calls, lifecycles, warmup)
            per_round.append(figures)
            await emulator.reset()
    columns = [*OPS, "all four"]
    medians = {
        name: {op: median([r[name][op] for r in per_round]) for op in columns} for name in names
    }
    ratios = {
        other: {op: median([r[other][op] / r["aiohttp"][op] for r in per_round]) for op in columns}
        for other in ("aioavatar", "httpx")
    }
    sdk_vs_httpx = {
        op: median([r["aioavatar"][op] / r["httpx"][op] for r in per_round]) for op in columns
    }
    within = all(ratios["aioavatar"][op] <= TARGET_VS_AIOHTTP for op in columns)
    below_httpx = all(sdk_vs_httpx[op] < 1.0 for op in columns)
    rows = [[name, *(f"{medians[name][op]:.0f}" for op in columns)] for name in names]
    rows.append(["aioavatar / aiohttp", *(f"{ratios['aioavatar'][op]:.2f}x" for op in columns)])
    rows.append(["httpx / aiohttp", *(f"{ratios['httpx'][op]:.2f}x" for op in columns)])
    rows.append(["aioavatar / httpx", *(f"{sdk_vs_httpx[op]:.2f}x" for op in columns)])
    table = markdown_table(["client CPU per call (us)", *columns], rows)
    return {
        "benchmark": "calls",
        "settings": {"rounds": rounds, "lifecycles_per_round": lifecycles, "warmup": warmup},
        "cpu_us_per_call": medians,
        "ratio_vs_aiohttp": ratios,
        "ratio_sdk_vs_httpx": sdk_vs_httpx,
        "rounds": per_round,
        "targets": {
            f"per-call CPU within {TARGET_VS_AIOHTTP}x of bare aiohttp": verdict(within),
            "per-call CPU below httpx": verdict(below_httpx),
        },
        "table": table,
    }
