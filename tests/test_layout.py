"""The test suite's own rules: the tests of ``x/_y.py`` are in ``tests/x/test_y.py``, and every test says,
in its docstring, the behaviour it pins.

Cross-cutting suites (the fault matrix, the no-leak suite, the soak, the README, ...) are listed below
with the concern each one holds; any other test file must be named for a module of the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
PACKAGE = TESTS.parent / "src" / "aioavatar"

#: Test files that are not named for one module, and what each one holds instead.
CROSS_CUTTING = {
    "test_architecture.py": "the package's layering, as ARCHITECTURE.md draws it",
    "test_footprint.py": "what an idle session costs the garbage collector, counted",
    "test_layout.py": "these rules",
    "test_public_api.py": "the public surface: __all__ sorted, complete and documented",
    "test_public_inputs.py": "every public callable fed hostile values (property-based)",
    "test_reliability.py": "hostile answers and per-call retry policies on every endpoint",
    "test_secrets.py": "no credential in any log record, repr, error or pickle, end to end",
    "test_soak.py": "500 sessions on one client with transient failures",
    "test_examples.py": "the programs in examples/",
    "test_docs.py": "the README and the docs site: snippets run as written, links, reference",
    "test_typing.py": "the types users see: mypy over right and wrong calls, aliases, module paths",
    "test_package.py": "the package as it ships: metadata, and the tests run on the installed wheel",
    "test_live.py": "the real API, opt-in (-m live)",
    "cli/test_main.py": "the entry points: aioavatar/__main__.py and _aioavatar_cli.py",
    "testing/test_command.py": "python -m aioavatar.testing (testing/__main__.py) and its flags",
    "testing/test_conformance_kaltura.py": "the Kaltura emulator against what real clients send",
    "testing/test_conformance_liveavatar.py": "the LiveAvatar emulator against what real clients send",
    "testing/test_liveavatar_rest.py": "the LiveAvatar emulator's REST API (testing/_liveavatar/)",
    "testing/test_liveavatar_ws.py": "the LiveAvatar emulator's LITE WebSocket (testing/_liveavatar/)",
    "testing/test_rate_limits.py": "the emulators' rate limits (testing/_ratelimit.py)",
}


def _test_files() -> list[Path]:
    return sorted(TESTS.rglob("test_*.py"))


def _name(path: Path) -> str:
    return path.relative_to(TESTS).as_posix()


def _module_of(path: Path) -> Path | None:
    """The module or package of ``src/aioavatar`` that ``tests/<dirs>/test_<name>.py`` is named for."""
    package = PACKAGE
    for part in path.relative_to(TESTS).parent.parts:
        package = next(
            (c for c in (package / part, package / f"_{part}") if c.is_dir()), package / part
        )
    stem = path.stem.removeprefix("test_")
    candidates = [f"_{stem}.py", f"{stem}.py", f"_{stem}", stem]
    if stem in ("init", "main"):
        candidates.append(f"__{stem}__.py")
    return next((package / c for c in candidates if (package / c).exists()), None)


@pytest.mark.parametrize("path", _test_files(), ids=_name)
def test_every_test_file_is_named_for_its_module(path: Path) -> None:
    """A test file is named for the module it tests (tests/x/test_y.py for x/_y.py), unless it is a
    listed cross-cutting suite."""
    if _name(path) in CROSS_CUTTING:
        return
    assert _module_of(path) is not None, (
        f"tests/{_name(path)} names no module of src/aioavatar: rename it after the module it "
        "tests, or list it in CROSS_CUTTING with the concern it holds"
    )


def test_the_cross_cutting_list_names_existing_files_only() -> None:
    """Every file listed as cross-cutting exists and is not named for a module after all."""
    for name in CROSS_CUTTING:
        path = TESTS / name
        assert path.is_file(), f"CROSS_CUTTING lists tests/{name}, which does not exist"
        assert _module_of(path) is None, f"tests/{name} is named for {_module_of(path)}"


def test_every_test_and_test_module_has_a_docstring() -> None:
    """Each test module says what it covers, and each test function says the behaviour it pins."""
    missing = []
    for path in _test_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if not (ast.get_docstring(tree) or "").strip():
            missing.append(f"tests/{_name(path)}: the module")
        missing += [
            f"tests/{_name(path)}:{node.lineno}: {node.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test_")
            and not (ast.get_docstring(node) or "").strip()
        ]
    assert not missing, "no docstring:\n" + "\n".join(missing)
