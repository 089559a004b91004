"""Benchmark 3, scale: thousands of concurrent sessions on one client, then a thousand cancelled at once.

One :class:`~aioavatar.LiveAvatarClient` (its defaults: 150 connections, beats on 100 of them) holds
``sessions`` sessions open through ``client.session(...)`` with a ``keep_alive_interval`` of ``interval``
(two configurations by default: 10,000 sessions at 10 s, and 50,000 at 60 s), one asyncio task per
session as a bot service would have. The same is run side by side with what one would write instead: one
task per session running a keep-alive loop over bare ``aiohttp`` (a pool of 100 connections, aiohttp's
default: as many as the SDK's beats get; the same fixed-rate schedule with a random phase). Once every
session is up and a settling period has passed, a steady-state window (60 s by default) is measured:

- **keep-alive lateness**: the emulator records when each keep-alive arrived. A session's beats are due on a
  fixed grid (``interval`` apart, from a random phase); the grid is fitted to the session's own arrivals (its
  least late beat counts as on time), and a beat's lateness is its arrival minus its grid point. This is
  measured from outside the SDK: it covers event-loop lag, the SDK's own work, waiting for a pooled
  connection and the trip to the server. The SDK's due times are not public, so the fit can only
  under-state lateness by the best beat's own lateness; the loop-lag probe (a task that sleeps to fixed due
  times every 50 ms in the client's loop) measures the loop's part directly.
- **client CPU** in cores (CPU seconds of this process over wall seconds) and the emulator's, for context.
- **client memory per session**: RSS growth from before the first session to the end of the window, divided
  by the number of sessions (the task that holds each session included).
- **failed calls**: requests the emulator answered with an error or not at all, sessions that failed to
  open or close, and keep-alives the sessions counted as failed.
- garbage-collector pauses of the client in the window (``gc.callbacks``), the usual cause of lateness.

Then ``cancel`` session tasks are cancelled at once (``task.cancel()`` on each, in one go): the figure is the
time from the cancellation to the arrival of the last of their stops at the emulator; each must have
received exactly one stop (with ``USER_DISCONNECTED`` for the SDK). Then every other session leaves at once
(a service shutting down): the figure is the time to the arrival of the last of their stops, and every
session must have received exactly one stop, none abandoned by the client.

Every target is a ratio against the bare aiohttp loops measured in the same run (see :func:`targets`).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import random
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import anyio
import attrs

from aioavatar import LiveAvatarClient

from ._harness import (
    API_KEY,
    AVATAR_ID,
    EmulatorProcess,
    cpu_seconds,
    fresh_process_main,
    markdown_table,
    median,
    percentile,
    rss_bytes,
    verdict,
)
from ._impls import AiohttpCalls, whole_session

#: Keep-alive lateness p99: at most this, or ``TARGET_RATIO_LATENESS`` times bare aiohttp's if larger.
TARGET_LATENESS_FLOOR_MS = 50.0
TARGET_RATIO_LATENESS = 1.2
TARGET_RATIO_LOOP_STALL = 1.2
TARGET_RATIO_CORES = 1.15
TARGET_RATIO_MEMORY = 2.0
TARGET_RATIO_OPEN = 1.5
TARGET_RATIO_CANCEL = 1.5
TARGET_RATIO_SHUTDOWN = 1.5
PROBE_PERIOD = 0.05
VARIANTS = ("aioavatar", "aiohttp")


@attrs.define
class _Run:
    """What the session tasks and the probes record while the benchmark runs."""

    total: int
    up: int = 0
    all_up: anyio.Event = attrs.field(factory=anyio.Event)
    session_ids: dict[int, str] = attrs.field(factory=dict)
    open_errors: list[str] = attrs.field(factory=list)
    exit_errors: list[str] = attrs.field(factory=list)
    keep_alives_failed: int = 0
    probe: list[tuple[float, float]] = attrs.field(factory=list)  # (due, lag)
    gc_pauses: list[tuple[float, float, int]] = attrs.field(factory=list)  # (at, seconds, gen)

    def opened(self, index: int, session_id: str) -> None:
        self.session_ids[index] = session_id
        self.up += 1
        if self.up == self.total:
            self.all_up.set()


class Release:
    """What the SDK's session tasks wait on until the rest leave together: a one-way event whose
    waiters are one future each, in a list that :meth:`set` walks once.

    Not an ``asyncio.Event`` (nor ``anyio.Event``, which wraps it): its waiters are a deque, and a
    cancelled waiter removes itself by a linear scan of it. With 50,000 sessions waiting, cancelling
    1,000 of them held the loop for 0.6 to 1.2 s in that scan alone, a cost of the benchmark's wait
    that the bare aiohttp loops (waiting in ``asyncio.sleep``) never paid. Here a cancelled waiter
    costs no time: its future stays in the list (one entry, a one-shot event's) and :meth:`set`
    skips it.
    """

    __slots__ = ("_is_set", "_waiters")

    def __init__(self) -> None:
        self._is_set = False
        self._waiters: list[asyncio.Future[None]] = []

    def is_set(self) -> bool:
        return self._is_set

    def set(self) -> None:
        self._is_set = True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self) -> None:
        if self._is_set:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter


Holder = Callable[[int], Coroutine[Any, Any, None]]


def _sdk_holder(
    client: LiveAvatarClient,
    run: _Run,
    slots: anyio.Semaphore,
    release: Release,
    interval: float,
) -> Holder:
    async def hold(index: int) -> None:
        """One SDK session, held open until ``release`` or a cancellation; opening takes a slot."""
        await slots.acquire()
        holding_slot = True
        session = None
        try:
            async with client.session(AVATAR_ID, keep_alive_interval=interval) as session:
                slots.release()
                holding_slot = False
                run.opened(index, session.session_id)
                await release.wait()
        except Exception as exc:
            (run.exit_errors if index in run.session_ids else run.open_errors).append(repr(exc))
        finally:
            if holding_slot:
                slots.release()
            if session is not None and index in run.session_ids:
                run.keep_alives_failed += session.statistics().keep_alives_failed

    return hold


def _aiohttp_holder(
    calls: AiohttpCalls,
    run: _Run,
    slots: anyio.Semaphore,
    release: Release,
    interval: float,
) -> Holder:
    async def hold(index: int) -> None:
        """The same with bare aiohttp: token, start, a fixed-rate keep-alive loop, stop on the way out."""
        async with slots:
            try:
                session_id, token = await calls.token()
                await calls.start(session_id, token)
            except Exception as exc:
                run.open_errors.append(repr(exc))
                return
        run.opened(index, session_id)
        loop = asyncio.get_running_loop()
        due = loop.time() + random.uniform(0.0, interval)
        try:
            while not release.is_set():
                await asyncio.sleep(due - loop.time())
                try:
                    await calls.keep_alive(session_id, token)
                except Exception:
                    run.keep_alives_failed += 1
                now = loop.time()
                due += interval
                while due <= now:
                    due += interval
        finally:
            try:
                await calls.stop(session_id, token)
            except Exception as exc:
                run.exit_errors.append(repr(exc))

    return hold


async def warm_holder(
    variant: str,
    client: LiveAvatarClient,
    calls: AiohttpCalls,
    run: _Run,
    slots: anyio.Semaphore,
    release: Release,
    interval: float,
) -> Holder:
    """The holder of ``variant`` ("aioavatar" or "aiohttp"), every code path it takes warmed up
    first (20 whole sessions), so that a baseline taken next does not count first-use costs."""
    if variant == "aioavatar":
        for _ in range(20):
            async with client.session(AVATAR_ID, keep_alive_interval=interval):
                pass
        return _sdk_holder(client, run, slots, release, interval)
    for _ in range(20):
        await whole_session(calls)
    return _aiohttp_holder(calls, run, slots, release, interval)


async def _loop_probe(run: _Run) -> None:
    """Sleep to fixed due times and record how late the loop woke us (the loop's own lag)."""
    loop = asyncio.get_running_loop()
    due = loop.time() + PROBE_PERIOD
    while True:
        await asyncio.sleep(due - loop.time())
        run.probe.append((due, loop.time() - due))
        due += PROBE_PERIOD


def _gc_tracker(run: _Run) -> Callable[[str, dict[str, Any]], None]:
    started: dict[str, float] = {}

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started["at"] = time.perf_counter()
        elif "at" in started:
            pause = time.perf_counter() - started.pop("at")
            run.gc_pauses.append((time.monotonic(), pause, info["generation"]))

    return callback


def _lateness(
    journal: list[list[Any]], interval: float, start: float, end: float
) -> tuple[list[float], int, int]:
    """Lateness (s) of the beats that arrived in ``[start, end)``, beats due there, beats received."""
    arrivals: dict[str, list[float]] = defaultdict(list)
    for endpoint, session_id, at, status, _reason in journal:
        if endpoint == "keep_alive" and session_id is not None and status == 200:
            arrivals[session_id].append(at)
    lateness: list[float] = []
    expected = received = 0
    for times in arrivals.values():
        times.sort()
        first = times[0]
        offsets = [t - round((t - first) / interval) * interval for t in times]
        phase = min(offsets)  # the session's grid: its least late beat counts as on time
        for t, offset in zip(times, offsets, strict=True):
            if start <= t < end:
                lateness.append(offset - phase)
                received += 1
        k_first = int((start - phase) // interval) + 1
        k_last = int((end - phase) // interval)
        expected += max(0, k_last - k_first + 1)
    return lateness, expected, received


async def run(
    variant: str = "aioavatar",
    *,
    sessions: int = 10_000,
    interval: float = 10.0,
    window: float = 60.0,
    settle: float | None = None,
    cancel: int = 1_000,
    ramp_concurrency: int = 100,
    ramp_timeout: float | None = None,
    gc_freeze: bool = False,
    profile: Path | None = None,
) -> dict[str, Any]:
    """Run the benchmark once for ``variant`` ("aioavatar" or "aiohttp"); returns the JSON-ready result.

    ``gc_freeze`` calls ``gc.freeze()`` once every session is up (an application-level setting, off by
    default); ``profile`` writes a cProfile of the client over the window to that path.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}")
    settle = interval if settle is None else settle
    ramp_timeout = max(300.0, sessions / 50) if ramp_timeout is None else ramp_timeout
    cancel = min(cancel, sessions)
    run = _Run(total=sessions)
    release = Release()
    step = max(1, sessions // max(1, cancel))
    cancel_ids = set(list(range(0, sessions, step))[:cancel])
    gc_callback = _gc_tracker(run)
    slots = anyio.Semaphore(ramp_concurrency)
    async with EmulatorProcess(idle_timeout=3600.0) as emulator:
        async with (
            LiveAvatarClient(API_KEY, base_url=emulator.base_url) as client,
            AiohttpCalls(emulator.base_url) as calls,
        ):
            hold = await warm_holder(variant, client, calls, run, slots, release, interval)
            await emulator.reset()
            gc.collect()
            rss_before = rss_bytes()
            gc.callbacks.append(gc_callback)
            try:
                async with asyncio.TaskGroup() as tg:
                    probe = tg.create_task(_loop_probe(run))
                    ramp_start = time.monotonic()
                    tasks = {i: tg.create_task(hold(i)) for i in range(sessions)}
                    with anyio.fail_after(ramp_timeout):
                        while not run.all_up.is_set():
                            if len(run.open_errors) + run.up >= sessions:
                                break  # some failed to open: measure the others
                            await anyio.sleep(0.1)
                    ramp_end = time.monotonic()
                    if gc_freeze:
                        gc.freeze()
                    await anyio.sleep(settle)

                    profiler = cProfile.Profile() if profile is not None else None
                    w_start, cpu_start = time.monotonic(), cpu_seconds()
                    emu_start, rss_start = emulator.cpu_seconds(), rss_bytes()
                    if profiler is not None:
                        profiler.enable()
                    await anyio.sleep(window)
                    if profiler is not None:
                        profiler.disable()
                    w_end, cpu_end = time.monotonic(), cpu_seconds()
                    emu_end, rss_end = emulator.cpu_seconds(), rss_bytes()
                    if profiler is not None and profile is not None:
                        profiler.dump_stats(profile)

                    cancelled_tasks = [tasks[i] for i in cancel_ids]
                    cancel_at = time.monotonic()
                    for task in cancelled_tasks:
                        task.cancel()
                    with anyio.fail_after(60):
                        await asyncio.wait(cancelled_tasks)
                    cancel_local = time.monotonic() - cancel_at

                    teardown_at = time.monotonic()
                    release.set()
                    rest = [t for i, t in tasks.items() if i not in cancel_ids]
                    if variant == "aiohttp":  # its loops end by cancellation
                        for task in rest:
                            task.cancel()
                    with anyio.fail_after(max(120.0, sessions / 100)):
                        await asyncio.wait(rest)
                    teardown = time.monotonic() - teardown_at
                    probe.cancel()
            finally:
                gc.callbacks.remove(gc_callback)
                if gc_freeze:
                    gc.unfreeze()
        journal = await emulator.journal()

    lateness, expected, received = _lateness(journal, interval, w_start, w_end)
    failed_requests = [row for row in journal if row[3] is None or row[3] >= 300]
    stops: dict[str, list[str]] = defaultdict(list)
    stop_arrivals: dict[str, float] = {}
    for endpoint, session_id, at, _status, reason in journal:
        if endpoint == "stop" and session_id is not None:
            stops[session_id].append(reason)
            stop_arrivals[session_id] = max(at, stop_arrivals.get(session_id, at))
    cancelled = [run.session_ids[i] for i in cancel_ids if i in run.session_ids]
    received_stops = [stop_arrivals[sid] for sid in cancelled if sid in stop_arrivals]
    cancel_seconds = (
        max(received_stops) - cancel_at
        if cancelled and len(received_stops) == len(cancelled)
        else float("inf")
    )
    expected_reason = "USER_DISCONNECTED" if variant == "aioavatar" else "USER_CLOSED"
    cancel_reasons_ok = all(stops.get(sid) == [expected_reason] for sid in cancelled)
    cancelled_set = set(cancelled)
    rest_ids = [sid for sid in run.session_ids.values() if sid not in cancelled_set]
    rest_arrivals = [stop_arrivals[sid] for sid in rest_ids if sid in stop_arrivals]
    rest_seconds = (
        max(rest_arrivals) - teardown_at
        if rest_ids and len(rest_arrivals) == len(rest_ids)
        else float("inf")
    )
    stopped_once = all(len(stops.get(sid, [])) == 1 for sid in run.session_ids.values())
    window_probe = [lag for due, lag in run.probe if w_start <= due < w_end]
    window_gc = [(at, pause, gen) for at, pause, gen in run.gc_pauses if w_start <= at < w_end]
    # What the collector took while the thousand were cancelled (a full collection of every session
    # held, when one lands in it, is a large part of that figure: the table counts the runs it fell
    # in, the performance guide gives its share run by run).
    cancel_gc = [
        (pause, gen)
        for at, pause, gen in run.gc_pauses
        if cancel_at <= at <= cancel_at + cancel_local
    ]
    opened = len(run.session_ids)
    failed = (
        len(failed_requests)
        + len(run.open_errors)
        + len(run.exit_errors)
        + run.keep_alives_failed
        + (sessions - opened)
    )
    wall = w_end - w_start
    figures: dict[str, Any] = {
        "variant": variant,
        "gc_freeze": gc_freeze,
        "sessions": sessions,
        "opened": opened,
        "interval_s": interval,
        "window_s": round(wall, 2),
        "ramp_s": round(ramp_end - ramp_start, 2),
        "keep_alives_in_window": {"due": expected, "received": received},
        "keep_alives_per_s": round(received / wall, 1),
        "lateness_ms": {
            "p50": round(percentile(lateness, 50) * 1000, 2),
            "p90": round(percentile(lateness, 90) * 1000, 2),
            "p99": round(percentile(lateness, 99) * 1000, 2),
            "max": round(max(lateness, default=float("nan")) * 1000, 2),
        },
        "loop_lag_ms": {
            "p50": round(percentile(window_probe, 50) * 1000, 2),
            "p99": round(percentile(window_probe, 99) * 1000, 2),
            "max": round(max(window_probe, default=float("nan")) * 1000, 2),
        },
        "gc_in_window": {
            "collections": len(window_gc),
            "full_collections": sum(1 for *_, gen in window_gc if gen == 2),
            "max_pause_ms": round(max((p for _, p, _ in window_gc), default=0.0) * 1000, 1),
            "total_pause_s": round(sum(p for _, p, _ in window_gc), 3),
        },
        "client_cores": round((cpu_end - cpu_start) / wall, 3),
        "emulator_cores": round((emu_end - emu_start) / wall, 3),
        "rss_mib": {
            "before": round(rss_before / 2**20, 1),
            "window_start": round(rss_start / 2**20, 1),
            "window_end": round(rss_end / 2**20, 1),
        },
        "bytes_per_session": round((rss_end - rss_before) / max(1, opened)),
        "failed_calls": failed,
        "failures": {
            "requests": len(failed_requests),
            "open_errors": len(run.open_errors),
            "exit_errors": len(run.exit_errors),
            "keep_alives_failed": run.keep_alives_failed,
            "examples": (run.open_errors + run.exit_errors)[:5]
            + [str(r) for r in failed_requests[:5]],
        },
        "cancel": {
            "sessions": len(cancelled),
            "seconds_to_last_stop": round(cancel_seconds, 3),
            "client_exit_s": round(cancel_local, 3),
            "stop_reasons_ok": cancel_reasons_ok,
            "full_collections": sum(1 for _, gen in cancel_gc if gen == 2),
            "gc_pause_s": round(sum(pause for pause, _ in cancel_gc), 3),
        },
        "every_session_stopped_exactly_once": stopped_once,
        "shutdown": {
            "sessions": len(rest_ids),
            "seconds_to_last_stop": round(rest_seconds, 3),
            "client_exit_s": round(teardown, 2),
            "abandoned": len(run.exit_errors),
        },
    }
    return {"benchmark": "scale", "figures": figures}


def _median_of(figs: list[dict[str, Any]], *path: str) -> float:
    values = []
    for fig in figs:
        value: Any = fig
        for key in path:
            value = value[key]
        values.append(float(value))
    return median(values)


def headline(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the runs of one variant of the figures the targets are about."""
    figs = [r["figures"] for r in runs]
    return {
        "runs": len(figs),
        "lateness_p50_ms": _median_of(figs, "lateness_ms", "p50"),
        "lateness_p99_ms": _median_of(figs, "lateness_ms", "p99"),
        "loop_lag_p99_ms": _median_of(figs, "loop_lag_ms", "p99"),
        "loop_stall_ms": _median_of(figs, "loop_lag_ms", "max"),
        "max_gc_pause_ms": _median_of(figs, "gc_in_window", "max_pause_ms"),
        "full_collections": _median_of(figs, "gc_in_window", "full_collections"),
        "client_cores": _median_of(figs, "client_cores"),
        "emulator_cores": _median_of(figs, "emulator_cores"),
        "bytes_per_session": _median_of(figs, "bytes_per_session"),
        "failed_calls": max(f["failed_calls"] for f in figs),
        "cancel_seconds": _median_of(figs, "cancel", "seconds_to_last_stop"),
        "cancel_reasons_ok": all(f["cancel"]["stop_reasons_ok"] for f in figs),
        "cancel_runs_with_full_collection": sum(1 for f in figs if f["cancel"]["full_collections"]),
        "cancel_gc_pause_s": _median_of(figs, "cancel", "gc_pause_s"),
        "shutdown_seconds": _median_of(figs, "shutdown", "seconds_to_last_stop"),
        "abandoned": max(f["shutdown"]["abandoned"] for f in figs),
        "stopped_exactly_once": all(f["every_session_stopped_exactly_once"] for f in figs),
        "keep_alives_per_s": _median_of(figs, "keep_alives_per_s"),
        "ramp_s": _median_of(figs, "ramp_s"),
        "sessions": figs[0]["sessions"],
        "cancelled": figs[0]["cancel"]["sessions"],
        "leaving": figs[0]["shutdown"]["sessions"],
        "interval_s": figs[0]["interval_s"],
        "window_s": figs[0]["window_s"],
    }


def lateness_bound_ms(bare: dict[str, Any]) -> float:
    """The keep-alive lateness p99 allowed: the floor, or a ratio of bare aiohttp's when larger."""
    return max(TARGET_LATENESS_FLOOR_MS, TARGET_RATIO_LATENESS * float(bare["lateness_p99_ms"]))


def targets(h: dict[str, Any], bare: dict[str, Any]) -> dict[str, str]:
    """The verdict on each scale target: one variant's headline against bare aiohttp's, same run."""
    n = f"{h['sessions']:,} at {h['interval_s']:g} s"
    return {
        f"{n}: no failed call": verdict(h["failed_calls"] == 0),
        f"{n}: keep-alive lateness p99 <= max({TARGET_LATENESS_FLOOR_MS:g} ms, {TARGET_RATIO_LATENESS:g}x bare)": verdict(
            h["lateness_p99_ms"] <= lateness_bound_ms(bare)
        ),
        f"{n}: longest loop stall <= {TARGET_RATIO_LOOP_STALL:g}x bare": verdict(
            h["loop_stall_ms"] <= TARGET_RATIO_LOOP_STALL * bare["loop_stall_ms"]
        ),
        f"{n}: client CPU <= {TARGET_RATIO_CORES:g}x bare": verdict(
            h["client_cores"] <= TARGET_RATIO_CORES * bare["client_cores"]
        ),
        f"{n}: client memory per session <= {TARGET_RATIO_MEMORY:g}x bare": verdict(
            h["bytes_per_session"] <= TARGET_RATIO_MEMORY * bare["bytes_per_session"]
        ),
        f"{n}: time to open every session <= {TARGET_RATIO_OPEN:g}x bare": verdict(
            h["ramp_s"] <= TARGET_RATIO_OPEN * bare["ramp_s"]
        ),
        f"{n}: {h['cancelled']:,} cancelled all stopped within {TARGET_RATIO_CANCEL:g}x bare": verdict(
            h["cancel_seconds"] <= TARGET_RATIO_CANCEL * bare["cancel_seconds"]
            and h["cancel_reasons_ok"]
        ),
        f"{n}: the other {h['leaving']:,} leaving at once all stopped once, "
        f"within {TARGET_RATIO_SHUTDOWN:g}x bare": verdict(
            h["shutdown_seconds"] <= TARGET_RATIO_SHUTDOWN * bare["shutdown_seconds"]
            and h["abandoned"] == 0
            and h["stopped_exactly_once"]
        ),
    }


def ratios(h: dict[str, Any], bare: dict[str, Any]) -> dict[str, float]:
    """Each judged figure of ``h`` over bare aiohttp's (lateness against its own bound)."""
    return {
        "lateness_p99_vs_bound": h["lateness_p99_ms"] / lateness_bound_ms(bare),
        "loop_stall": h["loop_stall_ms"] / bare["loop_stall_ms"],
        "client_cores": h["client_cores"] / bare["client_cores"],
        "bytes_per_session": h["bytes_per_session"] / bare["bytes_per_session"],
        "open": h["ramp_s"] / bare["ramp_s"],
        "cancel": h["cancel_seconds"] / bare["cancel_seconds"],
        "shutdown": h["shutdown_seconds"] / bare["shutdown_seconds"],
    }


def table(columns: dict[str, dict[str, Any]]) -> str:
    """One column per variant (name -> headline; "aioavatar" and "aiohttp" among them), a column of
    aioavatar's ratio to bare aiohttp, and the target; one row per figure."""
    rows: list[list[str]] = []
    sdk, bare = columns["aioavatar"], columns["aiohttp"]

    def row(
        label: str,
        fmt: Callable[[dict[str, Any]], str],
        key: str | None = None,
        target: str = "",
    ) -> None:
        ratio = f"{sdk[key] / bare[key]:.2f}x" if key and bare[key] else ""
        rows.append([label, *(fmt(h) for h in columns.values()), ratio, target])

    row(
        "failed calls / abandoned stops",
        lambda h: f"{h['failed_calls']} / {h['abandoned']}",
        target="0",
    )
    row(
        "keep-alive lateness p50 / p99",
        lambda h: f"{h['lateness_p50_ms']:.1f} / {h['lateness_p99_ms']:.1f} ms",
        "lateness_p99_ms",
        f"p99 <= {lateness_bound_ms(bare):.0f} ms "
        f"(max({TARGET_LATENESS_FLOOR_MS:g} ms, {TARGET_RATIO_LATENESS:g}x))",
    )
    row(
        "longest loop stall (probe) / loop lag p99",
        lambda h: f"{h['loop_stall_ms']:.0f} / {h['loop_lag_p99_ms']:.1f} ms",
        "loop_stall_ms",
        f"<= {TARGET_RATIO_LOOP_STALL:g}x",
    )
    row(
        "longest GC pause / full collections",
        lambda h: f"{h['max_gc_pause_ms']:.0f} ms / {h['full_collections']:.0f}",
    )
    row(
        "client CPU",
        lambda h: f"{h['client_cores']:.3f} cores",
        "client_cores",
        f"<= {TARGET_RATIO_CORES:g}x",
    )
    row(
        "client memory per session",
        lambda h: f"{h['bytes_per_session'] / 1024:.1f} KB",
        "bytes_per_session",
        f"<= {TARGET_RATIO_MEMORY:g}x",
    )
    row(
        "time to open every session",
        lambda h: f"{h['ramp_s']:.1f} s",
        "ramp_s",
        f"<= {TARGET_RATIO_OPEN:g}x",
    )
    row(
        f"{sdk['cancelled']:,} cancelled at once: last stop received after",
        lambda h: f"{h['cancel_seconds']:.2f} s",
        "cancel_seconds",
        f"<= {TARGET_RATIO_CANCEL:g}x",
    )
    row(
        "  collector while they were cancelled: pause / runs with a full collection there",
        lambda h: (
            f"{h['cancel_gc_pause_s'] * 1000:.0f} ms / "
            f"{h['cancel_runs_with_full_collection']} of {h['runs']}"
        ),
    )
    row(
        f"the other {sdk['leaving']:,} leaving at once: last stop received after",
        lambda h: f"{h['shutdown_seconds']:.2f} s",
        "shutdown_seconds",
        f"<= {TARGET_RATIO_SHUTDOWN:g}x, each stopped once",
    )
    row("keep-alives per second", lambda h: f"{h['keep_alives_per_s']:.0f}")
    row("emulator CPU (context)", lambda h: f"{h['emulator_cores']:.3f} cores")
    row("runs (medians shown)", lambda h: str(h["runs"]))
    title = (
        f"{sdk['sessions']:,} sessions, {sdk['interval_s']:g} s keep-alive, "
        f"{sdk['window_s']:.0f} s window"
    )
    return markdown_table([title, *columns, "aioavatar / aiohttp", "target"], rows)


def main() -> None:
    """``python -m benchmarks.scale``: one run in a fresh process (so that RSS growth is this run's)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale")
    parser.add_argument("--variant", choices=VARIANTS, default="aioavatar")
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--cancel", type=int, default=1_000)
    parser.add_argument("--gc-freeze", action="store_true")
    parser.add_argument(
        "--profile", type=Path, default=None, help="cProfile the window to this file"
    )
    fresh_process_main(parser, run)


if __name__ == "__main__":
    main()
