"""The house rules (issue 13) for the promotion, card, order and refund modules: every module
at most 400 lines, every function at most 60, and none of them in an import circle — imports
inside functions included, since those are how circles used to hide."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "wxshop_cli"
MODULES = sorted([
    *(PACKAGE / "core" / "promos").glob("*.py"),
    *(PACKAGE / "core" / "cards").glob("*.py"),
    PACKAGE / "core" / "promofile.py",
    PACKAGE / "core" / "orders.py",
    PACKAGE / "core" / "orderstates.py",
    PACKAGE / "core" / "refunds.py",
])
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _ids(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(PACKAGE)) for path in paths]


@pytest.mark.parametrize("path", MODULES, ids=_ids(MODULES))
def test_module_is_at_most_400_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_MODULE_LINES


@pytest.mark.parametrize("path", MODULES, ids=_ids(MODULES))
def test_every_function_is_at_most_60_lines(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    long = [f"{node.name}: {node.end_lineno - node.lineno + 1} lines" for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert long == []


def _imports(path: Path, known: set[str]) -> set[str]:
    """The wxshop modules a module imports anywhere in its body (not under TYPE_CHECKING);
    `from package import module` counts as importing the module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {id(node) for guard in ast.walk(tree) if isinstance(guard, ast.If)
               and ast.unparse(guard.test).endswith("TYPE_CHECKING")
               for node in ast.walk(guard)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in known
                      else node.module for alias in node.names}
    return found & known


def _graph() -> dict[str, set[str]]:
    paths = {_name(path): path for path in PACKAGE.rglob("*.py")}
    known = set(paths)
    return {name: _imports(path, known) - {name} for name, path in paths.items()}


def _circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def test_the_circle_finder_finds_a_hidden_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [{"a", "b", "c"}]
    assert _circles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_imports_inside_functions():
    graph = _graph()
    assert "wxshop_cli.core.promos" in graph["wxshop_cli.core.fixture_ops.catalog"]
    assert "wxshop_cli.core.refunds" in graph["wxshop_cli.core.orders"]


def test_no_module_here_is_in_an_import_circle():
    mine = {_name(path) for path in MODULES}
    assert [sorted(circle) for circle in _circles(_graph()) if circle & mine] == []
