"""Developer tasks: ``nox`` runs the tests (of the built wheel, on every supported Python this machine
has), the tests at the lowest allowed dependency versions, lint, typecheck and the docs; ``nox -s bench``
runs the benchmarks.

The Python versions come from ``pyproject.toml``'s classifiers: a version this machine lacks is skipped,
and said so when nox starts (CI needs only ``python3``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lowest", "lint", "typecheck", "docs"]
nox.options.reuse_existing_virtualenvs = True
# Run with the supported versions that are here, skip the others (also on CI, where nox would fail).
nox.options.error_on_missing_interpreters = False

PYPROJECT = nox.project.load_toml("pyproject.toml")
#: Every Python the package supports: its ``Programming Language :: Python :: 3.X`` classifiers.
PYTHONS = nox.project.python_versions(PYPROJECT)
#: The oldest Python the package supports (``requires-python``): the lowest-versions run uses it.
OLDEST_PYTHON = re.sub(r"[^\d.]", "", PYPROJECT["project"]["requires-python"])


def has_python(version: str) -> bool:
    """Whether ``python<version>`` is here and runs (a pyenv shim of a version not installed fails)."""
    found = shutil.which(f"python{version}")
    if found is None:
        return False
    return subprocess.run([found, "-c", ""], capture_output=True, check=False).returncode == 0  # noqa: S603 - our own interpreter lookup


#: The supported versions this machine has no interpreter for: their sessions are skipped.
MISSING_PYTHONS = [v for v in PYTHONS if not has_python(v)]
if MISSING_PYTHONS:
    print(  # noqa: T201 - nox shows it before the sessions' own lines
        f"nox: Python {', '.join(MISSING_PYTHONS)} not found on this machine: the sessions for "
        f"{'it' if len(MISSING_PYTHONS) == 1 else 'them'} are skipped "
        f"(supported: {', '.join(PYTHONS)})",
        file=sys.stderr,
    )

if len(MISSING_PYTHONS) == len(PYTHONS):
    # Every session would be skipped and nox would pass without running one test: fail instead.
    sys.exit(
        f"nox: none of the supported Pythons ({', '.join(PYTHONS)}) is on this machine: install one "
        "(python3.X on the PATH) to run the tests"
    )

#: What the wheel must hold, and what it must not (paths inside it).
WHEEL_MUST_HOLD = ("aioavatar/py.typed", "_aioavatar_cli.py", "_aioavatar_pytestplugin.py")
WHEEL_MUST_NOT_HOLD = ("tests/", "benchmarks/", "examples/", "docs/")


def groups(*names: str) -> list[str]:
    """The requirements of ``pyproject.toml``'s dependency groups."""
    return [r for name in names for r in nox.project.dependency_groups(PYPROJECT, name)]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Build the sdist and the wheel, check them, install the wheel and run the test suite against the
    installed package (not the source tree), on two workers. ``nox -s tests -- ARGS`` passes pytest
    ARGS instead of ``-n 2``."""
    session.install(*groups("package", "tests"))
    dist = Path(session.create_tmp()) / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(dist), silent=True)
    session.run("python", "-m", "twine", "check", "--strict", *map(str, dist.iterdir()))
    wheel = check_wheel(dist)
    session.install(str(wheel))  # with its runtime dependencies
    # The wheel itself, reinstalled even when a reused environment has this version already.
    session.install("--force-reinstall", "--no-deps", str(wheel))
    session.run(
        "pytest",
        *(session.posargs or ["-n", "2"]),
        env={"AIOAVATAR_TEST_INSTALLED": "1"},
    )


def check_wheel(dist: Path) -> Path:
    """The one wheel in ``dist``, after checking its file list: the typing marker and the top-level
    modules in, the tests, benchmarks, examples and docs out."""
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    names = zipfile.ZipFile(wheel).namelist()
    missing = [n for n in WHEEL_MUST_HOLD if n not in names]
    stray = [n for n in names if n.startswith(WHEEL_MUST_NOT_HOLD)]
    licensed = any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    if missing or stray or not licensed:
        raise nox.command.CommandFailed(
            f"{wheel.name}: missing {missing or 'nothing'}, "
            f"{'LICENSE' if not licensed else 'no LICENSE missing'}, must not hold {stray or 'nothing'}"
        )
    print(f"{wheel.name}: {len(names)} files checked; {sdist.name} built")  # noqa: T201
    return wheel


@nox.session(python=OLDEST_PYTHON)
def lowest(session: nox.Session) -> None:
    """The test suite on the oldest Python, with the lowest version of every runtime dependency that
    ``pyproject.toml`` allows: the declared floors are the tested ones."""
    constraints = Path(session.create_tmp()) / "lowest-direct.txt"
    constraints.write_text("\n".join(lowest_pins(PYPROJECT["project"]["dependencies"])) + "\n")
    session.install("-c", str(constraints), ".", *groups("tests"))
    session.run("python", "-m", "pip", "list", "--format=freeze", silent=False)
    session.run("pytest", *(session.posargs or ["-n", "2"]))


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
    session.install(*groups("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks (not run by default): tables on stdout, JSON in benchmarks/results/.

    ``nox -s bench -- --quick`` is a smoke run; ``-- --help`` lists the options.
    """
    session.install(".", *groups("bench"))
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on src/ and tests/, then the typing test (mypy over tests/typing_cases/, on the
    cache the first run left: the tests session has no mypy and skips it)."""
    session.install(".", *groups("typecheck"))
    session.run("mypy", "src", "tests")
    session.run("pytest", "-p", "no:cacheprovider", "tests/test_typing.py")


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site, built with ``--strict`` (a broken link or a missing name fails) into
    ``site/``. ``nox -s docs -- serve`` serves it instead."""
    session.install(".", *groups("docs"))
    session.env["NO_MKDOCS_2_WARNING"] = "1"  # Material's banner about MkDocs 2, on every build
    if session.posargs[:1] == ["serve"]:
        session.run("mkdocs", "serve", *session.posargs[1:])
    else:
        session.run("mkdocs", "build", "--strict", *session.posargs)
