"""House rules that the code's shape keeps (issue 13): no module over 400 lines, no function
over 60. Checked here for the packages already split; the list grows as modules are split."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "wxshop_cli"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

CHECKED = sorted(
    path for pattern in ("core/billformat/*.py", "core/reconcile/*.py", "core/bill_export.py")
    for path in PACKAGE.glob(pattern))


def long_functions(source: str) -> list[tuple[str, int]]:
    """(name, lines) of every function or method longer than the limit, nested ones included
    (a function's lines include those of the functions it defines)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = node.end_lineno - node.lineno + 1
            if lines > MAX_FUNCTION_LINES:
                found.append((node.name, lines))
    return found


def test_the_checked_packages_exist():
    names = {path.relative_to(PACKAGE).as_posix() for path in CHECKED}
    assert {"core/billformat/reader.py", "core/reconcile/match.py",
            "core/bill_export.py"} <= names


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_module_and_function_lengths(path: Path):
    source = path.read_text(encoding="utf-8")
    assert len(source.splitlines()) <= MAX_MODULE_LINES
    assert long_functions(source) == []


def test_the_check_finds_a_long_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    assert long_functions(f"def short():\n    pass\n\ndef long():\n{body}\n") == [
        ("long", MAX_FUNCTION_LINES + 1)]
