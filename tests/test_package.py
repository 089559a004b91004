"""The package as it ships: the metadata a package index shows (licence, project URLs, the classifiers
of every supported Python) and, under ``nox -s tests``, that the suite runs against the installed wheel
rather than the source tree."""

from __future__ import annotations

import os
import re
import sysconfig
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

import aioavatar

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.mark.skipif(
    not os.environ.get("AIOAVATAR_TEST_INSTALLED"), reason="only under nox -s tests (the wheel)"
)
def test_the_suite_runs_against_the_installed_wheel() -> None:
    """Under ``nox -s tests`` aioavatar is imported from site-packages (the wheel nox built), not from
    ``src/``, and the wheel brought its typing marker."""
    module = Path(aioavatar.__file__).resolve()
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert module.is_relative_to(site), f"aioavatar imported from {module}, not {site}"
    assert not module.is_relative_to(ROOT / "src")
    assert (module.parent / "py.typed").is_file()


def test_the_licence_ships() -> None:
    """The MIT licence the metadata names is a file of the project, and the wheel's metadata lists it."""
    assert PYPROJECT["project"]["license"] == "MIT"
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "LICENSE" in PYPROJECT["project"]["license-files"]


def test_the_project_urls_are_declared() -> None:
    """Documentation, changelog, source and issues are linked from the package index."""
    urls = PYPROJECT["project"]["urls"]
    assert set(urls) == {"Documentation", "Changelog", "Source", "Issues"}
    assert all(url.startswith("https://") for url in urls.values())


def test_the_classifiers_name_every_supported_python() -> None:
    """Every 3.X classifier from ``requires-python``'s floor up, with no gap: the noxfile runs the
    sessions with each of them (the ones this machine has)."""
    versions = [
        tuple(map(int, m[1].split(".")))
        for c in PYPROJECT["project"]["classifiers"]
        if (m := re.fullmatch(r"Programming Language :: Python :: (3\.\d+)", c))
    ]
    floor = tuple(map(int, PYPROJECT["project"]["requires-python"].removeprefix(">=").split(".")))
    assert versions[0] == floor
    assert versions == [(3, minor) for minor in range(floor[1], floor[1] + len(versions))]


def test_the_installed_metadata_matches_pyproject() -> None:
    """What ``importlib.metadata`` reports for the installed package is what pyproject declares."""
    meta = metadata.metadata("aioavatar")
    assert meta["License-Expression"] == "MIT"
    assert {u.split(",")[0] for u in meta.get_all("Project-URL") or []} == set(
        PYPROJECT["project"]["urls"]
    )
