"""``python -m benchmarks`` (or ``nox -s bench``): run the benchmarks, print their tables, write JSON.

Every benchmark talks to an emulator in a separate process on 127.0.0.1 and nothing else. Results go to
``benchmarks/results/<name>.json``; ``summary.md`` there holds the tables and the verdict on each target of
the README's "Performance" section. ``--quick`` is a smoke run (small counts, minutes become seconds); its
figures say nothing about the targets.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import anyio

from . import calls, census, imports, lifecycle, scale
from ._harness import RESULTS, in_fresh_process, machine_info, markdown_table, write_result

BENCHMARKS = ("calls", "lifecycle", "scale", "census", "imports")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help=f"comma-separated subset of {', '.join(BENCHMARKS)} (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run with small counts")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of calls and lifecycle")
    parser.add_argument(
        "--sessions",
        type=int,
        default=None,
        help="scale: one configuration with this many sessions "
        "(default: 10,000 at 10 s for 60 s, then 50,000 at 60 s for 120 s)",
    )
    parser.add_argument("--interval", type=float, default=None, help="scale: keep-alive, s")
    parser.add_argument("--window", type=float, default=None, help="scale: steady window, s")
    parser.add_argument(
        "--scale-runs",
        type=int,
        default=None,
        help="scale: runs of aioavatar and of bare aiohttp each, in pairs of alternating order, "
        "whose medians are judged (default 3 up to 10,000 sessions; 1 above that or under "
        "--quick); the gc.freeze() variant runs once",
    )
    parser.add_argument(
        "--no-freeze-variant",
        action="store_true",
        help="scale: skip the run with gc.freeze() after the ramp",
    )
    return parser


async def _scale_process(variant: str, freeze: bool, options: dict[str, Any]) -> dict[str, Any]:
    """One scale run in a fresh interpreter: memory grown by an earlier run would be reused."""
    args = ["--variant", variant, *(f"--{key}={value}" for key, value in options.items())]
    if freeze:
        args.append("--gc-freeze")
    return await in_fresh_process("benchmarks.scale", *args)


#: The scale configurations of a full run: (sessions, keep-alive interval s, steady window s).
SCALE_CONFIGS = ((10_000, 10.0, 60.0), (50_000, 60.0, 120.0))
QUICK_SCALE_CONFIGS = ((300, 1.0, 5.0),)


async def _run_scale_config(
    args: argparse.Namespace, quick: bool, sessions: int, interval: float, window: float
) -> dict[str, Any]:
    """One configuration: aioavatar and bare aiohttp ``--scale-runs`` times each, in pairs whose
    order alternates (the SDK first in the first pair, bare aiohttp first in the second, ...), and
    their medians judged; at up to 10,000 sessions (unless ``--no-freeze-variant``) aioavatar with
    ``gc.freeze()`` once, after the first pair."""
    options: dict[str, Any] = {
        "sessions": sessions,
        "window": window,
        "cancel": min(1_000, max(1, sessions // 10)),
        "interval": interval,
    }
    variants: list[tuple[str, str, bool]] = [
        ("aioavatar", "aioavatar", False),
        ("aiohttp", "aiohttp", False),
    ]
    if not args.no_freeze_variant and sessions <= 10_000:
        variants.append(("aioavatar + gc.freeze()", "aioavatar", True))
    scale_runs = args.scale_runs or (1 if quick or sessions > 10_000 else 3)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in variants}
    for index in range(scale_runs):
        order = variants if index % 2 == 0 else [variants[1], variants[0], *variants[2:]]
        for name, variant, freeze in order:
            if index == 0 or not freeze:
                print(f"  scale {sessions:,} at {interval:g} s: {name} ...", flush=True)
                runs[name].append(await _scale_process(variant, freeze, options))
    headlines = {name: scale.headline(r) for name, r in runs.items()}
    bare = headlines["aiohttp"]
    return {
        "settings": {**options, "runs_each": scale_runs},
        "headline": headlines,
        "ratios": scale.ratios(headlines["aioavatar"], bare),
        "targets": scale.targets(headlines["aioavatar"], bare),
        "targets_with_gc_freeze": (
            scale.targets(headlines["aioavatar + gc.freeze()"], bare)
            if "aioavatar + gc.freeze()" in headlines
            else None
        ),
        "runs": runs,
        "table": scale.table(headlines),
    }


async def _run_scale(args: argparse.Namespace, quick: bool) -> dict[str, Any]:
    if args.sessions or args.window or args.interval:
        base = (QUICK_SCALE_CONFIGS if quick else SCALE_CONFIGS)[0]
        configs: tuple[tuple[int, float, float], ...] = (
            (args.sessions or base[0], args.interval or base[1], args.window or base[2]),
        )
    else:
        configs = QUICK_SCALE_CONFIGS if quick else SCALE_CONFIGS
    results = [await _run_scale_config(args, quick, *config) for config in configs]
    return {
        "benchmark": "scale",
        "configurations": results,
        "targets": {k: v for r in results for k, v in r["targets"].items()},
        "table": "\n\n".join(r["table"] for r in results),
    }


async def _main(args: argparse.Namespace) -> int:
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    quick = args.quick
    results: dict[str, dict[str, Any]] = {}
    started = time.monotonic()
    for name in BENCHMARKS:
        if name not in chosen:
            continue
        print(f"== {name}", flush=True)
        if name == "calls":
            result = await calls.run(
                rounds=args.rounds or (4 if quick else 100), lifecycles=5 if quick else 30
            )
        elif name == "lifecycle":
            result = await lifecycle.run(
                rounds=args.rounds or (2 if quick else 20),
                sessions=100 if quick else 300,
                limit=1.0 if quick else 2.0,
                warmup=20 if quick else 100,
            )
        elif name == "scale":
            result = await _run_scale(args, quick)
        elif name == "census":
            result = await census.run(
                sessions=300 if quick else 10_000, steady=1.0 if quick else census.STEADY
            )
        else:
            result = await anyio.to_thread.run_sync(lambda: imports.run(repeats=3 if quick else 9))
        result["quick"] = quick
        results[name] = result
        print(result["table"], flush=True)
        path = write_result(name, result)
        print(f"-> {path.relative_to(RESULTS.parent.parent)}\n", flush=True)
    elapsed = time.monotonic() - started
    verdicts = [
        [name, target, outcome]
        for name, result in results.items()
        for target, outcome in (result.get("targets") or {}).items()
    ]
    summary = markdown_table(["benchmark", "target", "verdict"], verdicts) if verdicts else ""
    machine = machine_info()
    header = (
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
        f"{machine['os']}, Python {machine['python']}, aiohttp {machine['packages']['aiohttp']}, "
        f"anyio {machine['packages']['anyio']}; {elapsed:.0f} s in all"
        + (" (--quick: the figures say nothing)" if quick else "")
    )
    print("== targets")
    print(summary)
    print(header)
    tables = "\n\n".join(f"### {name}\n\n{r['table']}" for name, r in results.items())
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "summary.md").write_text(f"{header}\n\n{tables}\n\n### targets\n\n{summary}\n")
    write_result("summary", {"elapsed_s": round(elapsed, 1), "quick": quick, "verdicts": verdicts})
    return 0


def main() -> int:
    return anyio.run(_main, _parser().parse_args())


if __name__ == "__main__":
    sys.exit(main())
