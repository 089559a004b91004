"""The package's shape, as ARCHITECTURE.md draws it: no import cycle, layers one way, small modules."""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "aioavatar"
MAX_LINES = 450


def _name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _top_level_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported: not under ``if TYPE_CHECKING``, not in a function."""
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom | ast.If | ast.Try):
            for child in ast.walk(node):
                if isinstance(child, ast.Import | ast.ImportFrom):
                    yield child


def _imported(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[tuple[str, str | None]]:
    """(module imported, name taken from it or None) for each target of one import statement."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name, None
        return
    base = module.split(".")
    if MODULES[module].name != "__init__.py":
        base = base[:-1]
    if node.level:
        base = base[: len(base) - node.level + 1]
        source = ".".join([*base, *([node.module] if node.module else [])])
    else:
        source = node.module or ""
    for alias in node.names:
        submodule = f"{source}.{alias.name}"
        # `from package import x` runs the package even when x is its submodule
        yield source, None if submodule in MODULES else alias.name
        if submodule in MODULES:
            yield submodule, None


def _known(target: str) -> str | None:
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for module, path in MODULES.items():
        for node in _top_level_imports(ast.parse(path.read_text())):
            for target, _ in _imported(module, node):
                known = _known(target)
                if known is not None and known != module:
                    graph[module].add(known)
                while known is not None:  # importing a module runs its packages first
                    if known != module and not module.startswith(known + "."):
                        graph[module].add(known)
                    known = _known(known.rpartition(".")[0])
    return graph


def test_no_import_cycle() -> None:
    """No cycle among the package's modules, counting every import that runs at import time."""
    try:
        graphlib.TopologicalSorter(_graph()).prepare()
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in ("liveavatar", "kaltura", "testing", "_cli"):
        return parts[1]
    return "core"


def test_layers_import_one_way() -> None:
    """The core imports no provider, a provider not the other, and nothing imports testing or the CLI."""
    allowed = {
        "core": {"core"},
        "liveavatar": {"core", "liveavatar"},
        "kaltura": {"core", "kaltura"},
        "testing": {"core", "liveavatar", "kaltura", "testing"},
        "_cli": {"core", "liveavatar", "kaltura", "testing", "_cli"},
    }
    wrong = [
        f"{module} imports {target}"
        for module, targets in _graph().items()
        for target in targets
        if module != "aioavatar"  # the package root re-exports the providers
        and target != "aioavatar"  # every module's package root runs first
        and _layer(target) not in allowed[_layer(module)]
    ]
    assert wrong == []


#: The private names taken from outside the package, on purpose: a protected start or stop runs in its
#: caller's steps as a stand-in task, swapping the loop's current task as asyncio's own eager start
#: does (``_cancellation._drive``); both exist from Python 3.11 to 3.14.
PRIVATE_IMPORTS_ALLOWED = {
    ("aioavatar._cancellation", "asyncio.tasks", "_enter_task"),
    ("aioavatar._cancellation", "asyncio.tasks", "_leave_task"),
}


def test_no_module_imports_another_modules_private_names() -> None:
    """``from x import _name`` takes another module's private name: none in src/ but the listed."""
    taken = {
        (module, source, name)
        for module, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom)
        for source, name in _imported(module, node)
        if name is not None and name.startswith("_") and not name.startswith("__")
    }
    assert taken == PRIVATE_IMPORTS_ALLOWED


def test_no_module_over_the_size_limit() -> None:
    """Every module under src/ stays within 450 lines (one concern, one place)."""
    sizes = {
        str(path.relative_to(SRC)): len(path.read_text().splitlines()) for path in SRC.rglob("*.py")
    }
    assert {path: lines for path, lines in sizes.items() if lines > MAX_LINES} == {}
