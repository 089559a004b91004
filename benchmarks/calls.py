"""Benchmark 1, per-call overhead: client CPU per call of token, start, keep-alive and stop.

The SDK against the same four calls written with bare ``aiohttp`` (the floor), with ``httpx``, and through
the REST client of ``livekit-plugins-liveavatar`` (token, start and stop: it has no REST keep-alive). Calls
are made one at a time (concurrency 1), so the CPU read around each ``await`` is that call's own.

Each implementation opens one client for the whole run and warms it up; then many short rounds run every
implementation for a few lifecycles each, in a balanced order (``_harness.balanced_order``), so that all
of them are measured under the same state of the machine: a shared VM's speed drifts by tens of percent
over seconds, and blocks of hundreds of lifecycles measured one after the other gave per-round ratios
from 0.9x to 1.4x. Figures are totals over every round; ratios are ratios of totals, and the quartiles
of the per-round ratios show the spread.

The rounds are shared out over five fresh interpreters, run one after the other against the same
emulator, each opening every implementation anew (a different one first in each). How fast a client
runs also depends on where its objects and code land in memory, which is drawn once per process and
client, not per round, so more rounds in one process do not average it out. Measured on the 2-vCPU
VM: four clients of the same class (bare aiohttp) in one process differed by up to 5.5 % over 100
rounds, two of them by 1.2 % in the next run; copies of the same SDK code in one process by up to
5 %; and with all the rounds in one process, four runs in a row gave the SDK 1.00x to 1.04x the
livekit plugin's CPU per start call (the same code 1.01x and 1.00x). Each process's ratio is printed
beside the pooled one.

Targets: every call at most 1.10x bare aiohttp, the keep-alive at most 1.05x, and no call above the
livekit plugin's.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
from typing import Any, cast

from ._harness import (
    EmulatorProcess,
    balanced_order,
    cpu_seconds,
    fresh_process_main,
    in_fresh_process,
    markdown_table,
    quartiles,
    verdict,
)
from ._impls import IMPLEMENTATIONS, Calls, whole_session

OPS = ("token", "start", "keep_alive", "stop")
TARGET_VS_AIOHTTP = 1.10
TARGET_KEEP_ALIVE_VS_AIOHTTP = 1.05
PEER = "livekit"
#: Fresh interpreters the rounds are shared out over (see :func:`run`).
PROCESSES = 5


async def _measure(calls: Calls, lifecycles: int) -> dict[str, float]:
    """CPU seconds spent in each operation over ``lifecycles`` sequential lifecycles."""
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
    spent["token+start+stop"] = spent["token"] + spent["start"] + spent["stop"]
    return spent


def _cell(value: float, fmt: str, suffix: str = "") -> str:
    return "n/a" if math.isnan(value) else format(value, fmt) + suffix


async def _worker(
    base_url: str, *, rounds: int, lifecycles: int, warmup: int, first: int
) -> dict[str, Any]:
    """One process's share: every implementation opened (from the ``first``-th on, so that each
    is opened first in some process), warmed up, then ``rounds`` balanced rounds."""
    names = list(IMPLEMENTATIONS)
    opening = names[first % len(names) :] + names[: first % len(names)]
    per_round: list[dict[str, dict[str, float]]] = []
    async with contextlib.AsyncExitStack() as stack:
        opened: dict[str, Calls] = {}
        for name in opening:
            opened[name] = cast(
                Calls, await stack.enter_async_context(IMPLEMENTATIONS[name](base_url))
            )
        for calls in opened.values():
            for _ in range(warmup):
                await whole_session(calls)
        gc.collect()
        for index in range(rounds):
            order = balanced_order(names, index)
            per_round.append({name: await _measure(opened[name], lifecycles) for name in order})
    return {
        "names": names,
        "has_keep_alive": {name: opened[name].has_keep_alive for name in names},
        "rounds": per_round,
    }


async def run(
    *, rounds: int, lifecycles: int, warmup: int = 30, processes: int = PROCESSES
) -> dict[str, Any]:
    """Run the benchmark; returns the JSON-ready result (``table`` holds the printed table).

    The rounds are shared out over ``processes`` fresh interpreters, one after the other, each
    opening every implementation anew: how fast one client runs depends on where its objects and
    code land in memory, which is drawn once per process and instance, not per round (see the
    module's docstring)."""
    processes = max(1, min(processes, rounds))
    shares = [rounds // processes + (index < rounds % processes) for index in range(processes)]
    per_process: list[list[dict[str, dict[str, float]]]] = []
    async with EmulatorProcess() as emulator:
        for index, share in enumerate(shares):
            await emulator.reset()  # the emulator's journal stays small
            part = await in_fresh_process(
                "benchmarks.calls",
                f"--base-url={emulator.base_url}",
                f"--rounds={share}",
                f"--lifecycles={lifecycles}",
                f"--warmup={warmup}",
                f"--first={index}",
            )
            per_process.append(part["rounds"])
    per_round = [figures for part_rounds in per_process for figures in part_rounds]
    names: list[str] = part["names"]
    has_keep_alive: dict[str, bool] = part["has_keep_alive"]
    columns = [*OPS, "token+start+stop"]
    totals = {name: {op: sum(r[name][op] for r in per_round) for op in columns} for name in names}
    count = rounds * lifecycles
    per_call = {
        name: {
            op: math.nan
            if op == "keep_alive" and not has_keep_alive[name]
            else totals[name][op] / count * 1e6
            for op in columns
        }
        for name in names
    }

    def ratio(a: str, b: str) -> dict[str, float]:
        return {op: per_call[a][op] / per_call[b][op] for op in columns}

    ratios = {other: ratio(other, "aiohttp") for other in names if other != "aiohttp"}
    versus = {
        f"aioavatar / {other}": ratio("aioavatar", other)
        for other in ("httpx", PEER)
        if other in names  # the livekit plugin is optional
    }
    spread = {
        op: quartiles([r["aioavatar"][op] / r["aiohttp"][op] for r in per_round])
        for op in ("keep_alive", "token+start+stop")
    }
    # What each process gave on its own: the spread a single-process run would have drawn from.
    rival = PEER if PEER in names else "aiohttp"
    by_process = {
        op: [
            sum(r["aioavatar"][op] for r in part) / sum(r[rival][op] for r in part)
            for part in per_process
        ]
        for op in ("token", "start", "stop")
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
    rows = [[name, *(_cell(per_call[name][op], ".0f") for op in columns)] for name in names]
    for name, ratio_row in ratios.items():
        rows.append([f"{name} / aiohttp", *(_cell(ratio_row[op], ".2f", "x") for op in columns)])
    for label, ratio_row in versus.items():
        rows.append([label, *(_cell(ratio_row[op], ".2f", "x") for op in columns)])
    table = (
        markdown_table(["client CPU per call (us)", *columns], rows)
        + "\n"
        + (
            "per-round aioavatar / aiohttp, quartiles: "
            + "; ".join(
                f"{op} {low:.2f}x / {mid:.2f}x / {high:.2f}x"
                for op, (low, mid, high) in spread.items()
            )
        )
        + "\n"
        + (
            f"aioavatar / {rival} in each of the {len(per_process)} processes: "
            + "; ".join(
                f"{op} " + " ".join(f"{value:.3f}" for value in values)
                for op, values in by_process.items()
            )
        )
    )
    return {
        "benchmark": "calls",
        "settings": {
            "rounds": rounds,
            "lifecycles_per_round": lifecycles,
            "warmup": warmup,
            "processes": len(per_process),
        },
        "cpu_us_per_call": per_call,
        "per_round_quartiles_sdk_vs_aiohttp": spread,
        "ratio_vs_aiohttp": ratios,
        "ratio_sdk_vs": versus,
        f"ratio_sdk_vs_{rival}_per_process": by_process,
        "rounds": per_round,
        "targets": targets,
        "table": table,
    }


def main() -> None:
    """``python -m benchmarks.calls``: one process's share of the rounds (see :func:`run`)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.calls")
    parser.add_argument("--base-url", required=True, help="the emulator's")
    parser.add_argument("--rounds", type=int, required=True)
    parser.add_argument("--lifecycles", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--first", type=int, default=0, help="the implementation opened first")
    fresh_process_main(parser, _worker)


if __name__ == "__main__":
    main()
