"""Benchmark 1, per-call overhead: client CPU per call of token, start, keep-alive and stop.

The SDK against the same four calls written with bare ``aiohttp`` (the floor), with ``httpx``, and through
the REST client of ``livekit-plugins-liveavatar`` (token, start and stop: it has no REST keep-alive). Calls
are made one at a time (concurrency 1), so the CPU read around each ``await`` is that call's own. Each
round runs every implementation once, in a rotating order, after a warm-up; figures are medians over
rounds, and ratios are taken within each round, then their median is reported.

Targets: every call at most 1.10x bare aiohttp, the keep-alive at most 1.05x, and no call above the
livekit plugin's.
"""

from __future__ import annotations

import gc
import math
from typing import Any

from ._harness import EmulatorProcess, cpu_seconds, markdown_table, median, verdict
from ._impls import IMPLEMENTATIONS, Calls, whole_session

OPS = ("token", "start", "keep_alive", "stop")
TARGET_VS_AIOHTTP = 1.10
TARGET_KEEP_ALIVE_VS_AIOHTTP = 1.05
PEER = "livekit"


async def _measure(calls: Calls, lifecycles: int, warmup: int) -> dict[str, float]:
    """CPU microseconds per call of each operation, over ``lifecycles`` sequential lifecycles."""
    for _ in range(warmup):
        await whole_session(calls)
    gc.collect()
    spent = dict.fromkeys(OPS, 0.0)
    for _ in range(lifecycles):
        c0 = cpu_seconds()
        session_id, token = await calls.token()
        c1 = cpu_seconds()
        await calls.start(session_id, token)
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
    if not calls.has_keep_alive:
        per_call["keep_alive"] = math.nan
    per_call["token+start+stop"] = per_call["token"] + per_call["start"] + per_call["stop"]
    return per_call


def _cell(value: float, fmt: str, suffix: str = "") -> str:
    return "n/a" if math.isnan(value) else format(value, fmt) + suffix


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
    columns = [*OPS, "token+start+stop"]
    medians = {
        name: {op: median([r[name][op] for r in per_round]) for op in columns} for name in names
    }

    def ratio(a: str, b: str) -> dict[str, float]:
        return {op: median([r[a][op] / r[b][op] for r in per_round]) for op in columns}

    ratios = {other: ratio(other, "aiohttp") for other in names if other != "aiohttp"}
    versus = {
        f"aioavatar / {other}": ratio("aioavatar", other)
        for other in ("httpx", PEER)
        if other in names  # the livekit plugin is optional
    }
    sdk = ratios["aioavatar"]
    targets = {
        f"every call <= {TARGET_VS_AIOHTTP:.2f}x bare aiohttp (CPU per call)": verdict(
            all(sdk[op] <= TARGET_VS_AIOHTTP for op in OPS)
        ),
        f"keep-alive <= {TARGET_KEEP_ALIVE_VS_AIOHTTP:.2f}x bare aiohttp": verdict(
            sdk["keep_alive"] <= TARGET_KEEP_ALIVE_VS_AIOHTTP
        ),
    }
    if PEER in names:
        peer = versus[f"aioavatar / {PEER}"]
        targets["no call above the livekit plugin's REST client"] = verdict(
            all(peer[op] <= 1.0 for op in ("token", "start", "stop"))
        )
    else:
        targets["no call above the livekit plugin's REST client"] = (
            "not measured (livekit-plugins-liveavatar not installed)"
        )
    rows = [[name, *(_cell(medians[name][op], ".0f") for op in columns)] for name in names]
    for name, ratio_row in ratios.items():
        rows.append([f"{name} / aiohttp", *(_cell(ratio_row[op], ".2f", "x") for op in columns)])
    for label, ratio_row in versus.items():
        rows.append([label, *(_cell(ratio_row[op], ".2f", "x") for op in columns)])
    table = markdown_table(["client CPU per call (us)", *columns], rows)
    return {
        "benchmark": "calls",
        "settings": {"rounds": rounds, "lifecycles_per_round": lifecycles, "warmup": warmup},
        "cpu_us_per_call": medians,
        "ratio_vs_aiohttp": ratios,
        "ratio_sdk_vs": versus,
        "rounds": per_round,
        "targets": targets,
        "table": table,
    }
