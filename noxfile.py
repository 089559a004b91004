"""Developer tasks: ``nox`` runs tests, the tests at the lowest allowed dependency versions, lint and
typecheck; ``nox -s bench`` runs the benchmarks."""

from __future__ import annotations

import re
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lowest", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

PYPROJECT = nox.project.load_toml("pyproject.toml")
#: The oldest Python the package supports (``requires-python``): the lowest-versions run uses it.
OLDEST_PYTHON = re.sub(r"[^\d.]", "", PYPROJECT["project"]["requires-python"])


@nox.session
def tests(session: nox.Session) -> None:
    """Run the default test suite (no network beyond 127.0.0.1)."""
    session.install(".", *nox.project.dependency_groups(PYPROJECT, "tests"))
    session.run("pytest", *session.posargs)


@nox.session(python=OLDEST_PYTHON)
def lowest(session: nox.Session) -> None:
    """The test suite on the oldest Python, with the lowest version of every runtime dependency that
    ``pyproject.toml`` allows: the declared floors are the tested ones."""
    constraints = Path(session.create_tmp()) / "lowest-direct.txt"
    constraints.write_text("\n".join(lowest_pins(PYPROJECT["project"]["dependencies"])) + "\n")
    session.install("-c", str(constraints), ".", *nox.project.dependency_groups(PYPROJECT, "tests"))
    session.run("python", "-m", "pip", "list", "--format=freeze", silent=False)
    session.run("pytest", *session.posargs)


def lowest_pins(requirements: list[str]) -> list[str]:
    """``name==floor`` for each ``name>=floor`` requirement (every runtime one must have a floor)."""
    pins = []
    for requirement in requirements:
        match = re.fullmatch(r"\s*([A-Za-z0-9._-]+)\s*>=\s*([\w.]+)\s*(?:,.*)?", requirement)
        if match is None:
            raise ValueError(f"{requirement!r}: every runtime dependency needs a >= floor")
        pins.append(f"{match[1]}=={match[2]}")
    return pins


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks (not run by default): tables on stdout, JSON in benchmarks/results/.

    ``nox -s bench -- --quick`` is a smoke run; ``-- --help`` lists the options.
    """
    session.install(".", *nox.project.dependency_groups(PYPROJECT, "bench"))
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on src/ and tests/."""
    session.install(".", *nox.project.dependency_groups(PYPROJECT, "typecheck"))
    session.run("mypy", "src", "tests")
