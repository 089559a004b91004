"""Shared pieces of the benchmarks: the emulator process, clocks, statistics, tables, JSON results.

Every benchmark talks to an emulator in another process (:class:`EmulatorProcess`) so that the CPU and
memory read in this process are the client's own. Both processes read ``time.monotonic()``, one clock on
one machine, so the emulator's arrival times compare directly with the client's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
API_KEY = "bench-api-key-0001"
AVATAR_ID = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"

_STARTUP_TIMEOUT = 30.0
_COMMAND_TIMEOUT = 120.0


class EmulatorProcess:
    """``python -m benchmarks._emulator`` in a child process, listening on 127.0.0.1."""

    def __init__(self, *, idle_timeout: float = 3600.0) -> None:
        self.idle_timeout = idle_timeout
        self.base_url = ""
        self._process: Process | None = None
        self._stdout: BufferedByteReceiveStream | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    async def __aenter__(self) -> Self:
        self._process = await anyio.open_process(
            [
                sys.executable,
                "-m",
                "benchmarks._emulator",
                "--api-key",
                API_KEY,
                "--idle-timeout",
                str(self.idle_timeout),
            ],
            cwd=ROOT,
            stderr=None,  # the emulator's errors go to our terminal
        )
        assert self._process.stdout is not None
        self._stdout = BufferedByteReceiveStream(self._process.stdout)
        with anyio.fail_after(_STARTUP_TIMEOUT):
            ready = await self._read_line()
        self.base_url = ready["base_url"]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with anyio.CancelScope(shield=True):
            try:
                assert process.stdin is not None
                await process.stdin.send(b"quit\n")
                with anyio.fail_after(10):
                    await process.wait()
            except Exception:
                process.kill()
                await process.wait()
            await process.aclose()

    async def _read_line(self) -> dict[str, Any]:
        assert self._stdout is not None
        line = await self._stdout.receive_until(b"\n", 1 << 20)
        reply: dict[str, Any] = json.loads(line)
        return reply

    async def command(self, line: str) -> dict[str, Any]:
        """Send one command line and return the emulator's JSON answer."""
        assert self._process is not None
        assert self._process.stdin is not None
        await self._process.stdin.send(line.encode() + b"\n")
        with anyio.fail_after(_COMMAND_TIMEOUT):
            reply = await self._read_line()
        if not reply.get("ok"):
            raise RuntimeError(f"emulator command {line!r} failed: {reply}")
        return reply

    async def journal(self) -> list[list[Any]]:
        """Every request received: ``[endpoint, session_id, at, status, stop_reason]``, by arrival."""
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "journal.json"
            await self.command(f"journal {path}")
            rows: list[list[Any]] = json.loads(path.read_text())
        return rows

    async def reset(self) -> None:
        """Forget the journal."""
        await self.command("reset")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the emulator process has used so far."""
        return process_cpu_seconds(self.pid)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of another process, from ``/proc/PID/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of the line)
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> float:
    """CPU time (user + system, every thread) of this process."""
    return time.process_time()


def rss_bytes() -> int:
    """Resident memory of this process now (``/proc/self/statm``)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


async def in_fresh_process(module: str, *args: str) -> dict[str, Any]:
    """``python -m module *args --out FILE`` in a fresh interpreter (memory an earlier run grew and
    freed would hide a later run's growth); the JSON it wrote to ``FILE``."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "result.json"
        command = [sys.executable, "-m", module, *args, "--out", str(out)]
        await anyio.run_process(command, cwd=ROOT, stdout=None, stderr=None, check=True)
        result: dict[str, Any] = json.loads(out.read_text())
    return result


def fresh_process_main(
    parser: argparse.ArgumentParser, run: Callable[..., Coroutine[Any, Any, dict[str, Any]]]
) -> None:
    """The child's side of :func:`in_fresh_process`: parse the arguments (``--out FILE`` added
    here), await ``run`` with each as the keyword of its name, write the JSON it returns to
    ``FILE`` (else stdout)."""
    parser.add_argument(
        "--out", type=Path, default=None, help="write the result here (else stdout)"
    )
    args = parser.parse_args()
    options = {name: value for name, value in vars(args).items() if name != "out"}
    text = json.dumps(anyio.run(lambda: run(**options)), indent=2)
    if args.out is None:
        sys.stdout.write(text + "\n")
    else:
        args.out.write_text(text)


# --- statistics -------------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """The first quartile, the median and the third quartile of ``values`` (within the values
    observed; all three the value itself for one, NaN for none)."""
    if len(values) < 2:
        only = values[0] if values else float("nan")
        return only, only, only
    low, mid, high = statistics.quantiles(values, n=4, method="inclusive")
    return low, mid, high


def balanced_order(names: Sequence[str], index: int) -> list[str]:
    """The order of ``names`` in round ``index`` of a Williams design: over every ``len(names)``
    rounds (twice that for an odd count) each name runs once at each position and right after each
    other name equally often, so that what one leaves behind (garbage, a warm or cold cache, an
    idle server) does not always fall on the same next one, as it does in a plain rotation."""
    n = len(names)
    first = [0]
    for step in range(1, n):  # 0, 1, n-1, 2, n-2, ...
        first.append((step + 1) // 2 if step % 2 else n - step // 2)
    square = [[(start + offset) % n for offset in first] for start in range(n)]
    if n % 2:  # an odd count needs each sequence reversed too
        square += [row[::-1] for row in square]
    return [names[i] for i in square[index % len(square)]]


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


# --- output -----------------------------------------------------------------------------------------


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table, padded so that it also reads well in a terminal."""
    text = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out.extend(line(r) for r in text)
    return "\n".join(out)


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _git_commit() -> str | None:
    """The commit measured, with ``+changes`` when ``src/`` differs from it."""
    commit = _git("rev-parse", "--short", "HEAD")
    if commit and _git("status", "--porcelain", "--", "src"):
        commit += "+changes"
    return commit


def machine_info() -> dict[str, Any]:
    """What the figures ran on."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": {
            name: _version(name) for name in ("aioavatar", "aiohttp", "anyio", "httpx", "cattrs")
        },
        "commit": _git_commit(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_result(name: str, payload: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/NAME.json`` (through a temporary file, so never half written)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"machine": machine_info(), **payload}, indent=2) + "\n")
    tmp.replace(path)
    return path
