"""The layers (CONTRIBUTING, Layout), checked by import-linter with the contracts in
pyproject.toml's [tool.importlinter]: the terminal (commands, demo, views, terminal, output,
tables) above the core, the core above the gateway and the database; the core, the database
and the gateway import nothing of the terminal (typer, click, rich, output, …); no import
circles. Plus what an import graph cannot see: no core module reads stdin."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

LINT = ("from importlinter.cli import lint_imports_command; "
        "lint_imports_command(prog_name='lint-imports')")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` with the project's configuration on the package under `root`."""
    return subprocess.run(
        [sys.executable, "-c", LINT, "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=root, capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)})


def test_the_layer_contracts_hold():
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory):
    """A copy of wxshop_cli's sources to break on purpose."""
    root = tmp_path_factory.mktemp("layers")
    shutil.copytree(REPO / "wxshop_cli", root / "wxshop_cli",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return root


@pytest.mark.parametrize("module,line,broken", [
    # the core prompting through output: both the layers and the forbidden rule
    ("core/paypassword.py", "from wxshop_cli.output import say",
     "wxshop_cli.core is not allowed to import wxshop_cli.output"),
    # the database drawing with Rich
    ("db/types.py", "import rich.table", "wxshop_cli.db is not allowed to import rich"),
    # the core reaching into a command module
    ("core/orders.py", "import wxshop_cli.commands.orders",
     "wxshop_cli.core is not allowed to import wxshop_cli.commands"),
    # a circle between two top-level modules that no layer names (money imports errors)
    ("errors.py", "import wxshop_cli.money", "No cycles are allowed in wxshop_cli."),
])
def test_breaking_a_rule_fails_the_check(package_copy, module, line, broken):
    path = package_copy / "wxshop_cli" / module
    original = path.read_text(encoding="utf-8")
    try:
        path.write_text(original + f"\n{line}\n", encoding="utf-8")
        result = _lint(package_copy)
    finally:
        path.write_text(original, encoding="utf-8")
    assert result.returncode == 1, result.stdout + result.stderr
    assert broken in result.stdout


# ------------------------------------------------------------------ stdin

def _reads_stdin(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute):  # sys.stdin
        return node.attr == "stdin" and isinstance(node.value, ast.Name) \
            and node.value.id == "sys"
    if isinstance(node, ast.ImportFrom):  # from sys import stdin, from getpass import …
        return node.module in ("sys", "getpass") and any(
            alias.name in ("stdin", "getpass") for alias in node.names)
    if isinstance(node, ast.Import):  # import getpass
        return any(alias.name == "getpass" for alias in node.names)
    if isinstance(node, ast.Call):  # input()
        return isinstance(node.func, ast.Name) and node.func.id == "input"
    return False


def _stdin_reads(source: str) -> int:
    """`sys.stdin` / `stdin` from sys, `input()`, and getpass, in one module's source."""
    return sum(_reads_stdin(node) for node in ast.walk(ast.parse(source)))


def test_no_core_database_or_gateway_module_reads_stdin():
    """The command reads stdin (or the terminal: wxshop_cli/terminal.py) and hands the core
    bytes, a stream or a value."""
    found = {}
    for layer in ("core", "db", "gateway"):
        for path in sorted((REPO / "wxshop_cli" / layer).rglob("*.py")):
            count = _stdin_reads(path.read_text(encoding="utf-8"))
            if count:
                found[path.relative_to(REPO).as_posix()] = count
    assert found == {}


@pytest.mark.parametrize("source", [
    "import sys\nsys.stdin.read()", "from sys import stdin", "input('x')",
    "import getpass", "from getpass import getpass"])
def test_the_stdin_check_sees_each_way_of_reading_it(source):
    assert _stdin_reads(source) == 1
