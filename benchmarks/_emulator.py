"""The benchmarks' server process: a :class:`~aioavatar.testing.LiveAvatarEmulator` driven over stdin.

The harness starts it as ``python -m benchmarks._emulator --api-key K --idle-timeout S`` so that the client
under test has a process (and a core) of its own. Once it listens it prints one JSON line
``{"base_url": ..., "pid": ...}``; then it answers each command line read on stdin with one JSON line:

``journal PATH``
    write the journal to ``PATH`` as JSON: one ``[endpoint, session_id, at, status, reason]`` per request,
    ``at`` being the arrival time on the ``time.monotonic()`` clock (the client's clock too: both processes
    run on one machine) and ``reason`` the end reason of a stop (else ``null``).
``reset``
    forget the journal.
``quit``
    exit (so does the end of stdin, when the harness goes away).

The emulator's own garbage collection runs young generations only, once a second: with ten thousand
sessions and a growing journal, a full collection stalls this process for a large fraction of a second, and
the requests queued meanwhile would be stamped late and counted as the client's lateness. Nothing here runs
for long enough for the uncollected cycles of the oldest generation to matter.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from typing import Any

import anyio

from aioavatar.testing import LiveAvatarEmulator


def _journal_rows(emulator: LiveAvatarEmulator) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for record in emulator.journal:
        reason = None
        if record.endpoint == "stop" and isinstance(record.body, dict):
            reason = record.body.get("reason")
        rows.append([record.endpoint, record.session_id, record.at, record.status, reason])
    return rows


def _reply(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def _young_collections() -> None:
    while True:
        await anyio.sleep(1.0)
        gc.collect(1)


async def _serve(api_key: str, idle_timeout: float) -> None:
    gc.disable()
    async with (
        LiveAvatarEmulator(
            api_key,
            host="127.0.0.1",
            port=0,
            idle_timeout=idle_timeout,
            credits=10**9,  # 50,000 FULL sessions for hours: never the benchmark's limit
        ) as emulator,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(_young_collections)
        _reply({"base_url": emulator.base_url})
        while True:
            line = await anyio.to_thread.run_sync(sys.stdin.readline)
            command, _, argument = line.strip().partition(" ")
            if command in ("", "quit"):
                tg.cancel_scope.cancel()
                return
            if command == "journal":
                rows = _journal_rows(emulator)
                await anyio.Path(argument).write_text(json.dumps(rows))
                _reply({"ok": True, "requests": len(rows)})
            elif command == "reset":
                emulator.journal.clear()
                _reply({"ok": True})
            else:
                _reply({"ok": False, "error": f"unknown command {command!r}"})


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._emulator")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--idle-timeout", type=float, default=3600.0)
    args = parser.parse_args()
    anyio.run(_serve, args.api_key, args.idle_timeout)


if __name__ == "__main__":
    main()
