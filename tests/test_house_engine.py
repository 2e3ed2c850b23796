"""The house rules for the purchase engine, audit, rehearsal, database and gateway modules:
every module at most 400 lines and every function at most 60 (issue 13). The generated
initial migration is exempt (CONTRIBUTING says why)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "wxshop_cli"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
OWNED = ("core/checkout", "core/audit", "core/bulkbuy", "core/rehearsal", "core/fixture_ops",
         "db", "gateway", "core/fixtures.py", "core/numbers.py", "core/inbox.py",
         "core/identity.py", "core/cardnumber.py")
EXEMPT = {"db/migrations/versions/0001_initial_schema.py"}


def _modules() -> list[str]:
    found = []
    for entry in OWNED:
        path = PACKAGE / entry
        paths = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        found += [p.relative_to(PACKAGE).as_posix() for p in paths]
    return [name for name in found if name not in EXEMPT]


MODULES = _modules()


def test_the_list_covers_the_packages():
    assert {"core/checkout/__init__.py", "core/audit/orders.py", "db/models/book.py",
            "db/engine.py", "gateway/sandbox.py"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_module_and_functions_are_short(name):
    source = (PACKAGE / name).read_text(encoding="utf-8")
    assert len(source.splitlines()) <= MAX_MODULE_LINES, f"{name}: over {MAX_MODULE_LINES}"
    long = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            if node.end_lineno - first + 1 > MAX_FUNCTION_LINES:
                long.append(f"{node.name} ({node.end_lineno - first + 1} lines)")
    assert not long, f"{name}: functions over {MAX_FUNCTION_LINES} lines: {', '.join(long)}"
