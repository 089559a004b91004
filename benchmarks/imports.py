"""Benchmark 4, import time: ``import aioavatar`` against ``import aiohttp`` alone.

Each import runs in a fresh interpreter and is timed inside it (interpreter start-up excluded); the two are
alternated and the medians reported, with the ratio taken within each pair.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from ._harness import markdown_table, median

MODULES = ("aioavatar", "aiohttp")
_SNIPPET = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def _time_import(module: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _SNIPPET.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return float(out.stdout.strip())


def run(*, repeats: int) -> dict[str, Any]:
    """Run the benchmark; returns the JSON-ready result (``table`` holds the printed table)."""
    samples: dict[str, list[float]] = {m: [] for m in MODULES}
    ratios: list[float] = []
    for _ in range(repeats):
        pair = {m: _time_import(m) for m in MODULES}
        for m in MODULES:
            samples[m].append(pair[m])
        ratios.append(pair["aioavatar"] / pair["aiohttp"])
    medians = {m: median(samples[m]) for m in MODULES}
    ratio = median(ratios)
    table = markdown_table(
        ["import time (ms)", "median"],
        [
            ["import aioavatar", f"{medians['aioavatar'] * 1000:.0f}"],
            ["import aiohttp", f"{medians['aiohttp'] * 1000:.0f}"],
            ["aioavatar / aiohttp", f"{ratio:.2f}x"],
        ],
    )
    return {
        "benchmark": "imports",
        "settings": {"repeats": repeats},
        "seconds": medians,
        "samples": samples,
        "ratio": ratio,
        "table": table,
    }
