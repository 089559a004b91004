"""``python -m aioavatar``: the same as the ``aioavatar`` console script."""

from __future__ import annotations

import contextlib
import sys

EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return its exit status.

    Ctrl-C at any moment, while the command line is being imported included, exits 130 without a
    traceback, and a closed standard output 141. (The console script enters through
    ``_aioavatar_cli``, which also covers the import of the ``aioavatar`` package itself.)
    """
    try:
        try:
            from ._cli import run

            status = run(argv)
        except SystemExit as exc:  # argparse: --help, --version, a usage error
            status = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        if sys.stdout is not None:  # None: started with standard output closed (`>&-`)
            sys.stdout.flush()  # here, where a reader that has gone can still be handled
    except KeyboardInterrupt:
        _say("aioavatar: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        from ._cli.common import silence_stdout

        silence_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as exc:  # standard output cannot be written (a full disk, say)
        from ._cli.common import silence_stdout

        silence_stdout()
        _say(f"aioavatar: cannot write to standard output: {exc}")
        return 1
    return status


def _say(line: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
