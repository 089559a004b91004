"""``python -m aioavatar.testing``: serve the LiveAvatar emulator until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import anyio

from aioavatar.testing._liveavatar import LiveAvatarEmulator

__all__ = ["main", "serve"]


async def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str = "emulator-api-key",
    idle_timeout: float = 300.0,
    sandbox_max_duration: float = 60.0,
    on_ready: Callable[[LiveAvatarEmulator], None] | None = None,
) -> None:
    """Run a :class:`LiveAvatarEmulator` until cancelled.

    ``on_ready`` is called with the running emulator once it listens (its ``base_url`` is then
    valid); by default the base URL and the API key are printed to standard output.
    """
    emulator = LiveAvatarEmulator(
        api_key,
        host=host,
        port=port,
        idle_timeout=idle_timeout,
        sandbox_max_duration=sandbox_max_duration,
    )
    async with emulator:
        (on_ready or _announce)(emulator)
        await anyio.sleep_forever()


def _announce(emulator: LiveAvatarEmulator) -> None:
    sys.stdout.write(
        f"LiveAvatar emulator listening on {emulator.base_url}\n"
        f"API key: {emulator.api_key}\n"
        "Press Ctrl-C to stop.\n"
    )
    sys.stdout.flush()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m aioavatar.testing",
        description="Serve a local emulator of the LiveAvatar session API until Ctrl-C.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8000, help="port to bind, 0 for any free port (default 8000)"
    )
    parser.add_argument(
        "--api-key", default="emulator-api-key", help="the API key clients must send"
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=300.0,
        metavar="S",
        help="seconds without keep-alive before a session ends (default 300)",
    )
    parser.add_argument(
        "--sandbox-max-duration",
        type=float,
        default=60.0,
        metavar="S",
        help="maximum duration of sandbox sessions in seconds (default 60)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), serve until Ctrl-C and return the exit code."""
    args = _parser().parse_args(argv)
    try:
        anyio.run(
            lambda: serve(
                host=args.host,
                port=args.port,
                api_key=args.api_key,
                idle_timeout=args.idle_timeout,
                sandbox_max_duration=args.sandbox_max_duration,
            )
        )
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
