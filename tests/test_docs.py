"""The docs match the code: the generated pages of docs/ are what `python -m wxshop_cli.docgen`
writes today, every error slug the code can raise is declared in `errors.SLUGS` (the table of
docs/errors.md) with the exit code it is raised with, and the README's links and set-up
commands point at things that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import REPO
from wxshop_cli import docgen, errors

PACKAGE = REPO / "wxshop_cli"
ERROR_CLASSES = {name: value for name, value in vars(errors).items()
                 if isinstance(value, type) and issubclass(value, errors.WxError)}


@pytest.mark.parametrize("page", sorted(docgen.PAGES))
def test_generated_page_matches_the_code(page):
    path = REPO / "docs" / page
    assert path.is_file(), f"docs/{page} is missing: run `{docgen.COMMAND}`"
    expected = docgen.PAGES[page]()
    assert path.read_text(encoding="utf-8") == expected, (
        f"docs/{page} differs from what the code generates: run `{docgen.COMMAND}` and commit "
        "the result")


def test_the_command_reference_has_every_command_and_subcommand():
    text = (REPO / "docs" / "commands.md").read_text(encoding="utf-8")
    paths = [" ".join(["wxshop", *path]) for path in docgen.command_paths()]
    assert len(paths) > 40  # every group's subcommands, not only the table's names
    for title in paths:
        assert f"\n## {title}\n\n```text\nUsage: {title} " in text, title
    assert "\x1b" not in text  # no colour codes


# ------------------------------------------------------------------ slugs


def _error_class(call: ast.Call) -> type[errors.WxError] | None:
    func = call.func
    name = func.id if isinstance(func, ast.Name) else (
        func.attr if isinstance(func, ast.Attribute) else None)
    return ERROR_CLASSES.get(name or "")


class _SlugScan(ast.NodeVisitor):
    """Every way a module of the package names a slug:
    - a string given as `slug=` (or `*_slug=`) to any call, also inside `a if c else b`;
    - a string default of a parameter named `slug`/`*_slug` (`_invalid(…, slug="x")`);
    - the class default (`default_slug`) of an error constructed without `slug=`;
    - a `(slug, message)` tuple collected in `.invalid`/`.conflicts` (promotion changes);
    - `payment_<reason>` for each gateway refusal reason (checkout's REFUSAL_WORDS).
    A `slug=` value of any other form (a variable that is not the function's own `slug`
    parameter, an expression) is `unknown`: teach this scan where its slugs come from."""

    def __init__(self, path: Path) -> None:
        self.where = str(path.relative_to(REPO))
        self.found: list[tuple[str, str, type[errors.WxError] | None]] = []
        self.unknown: list[str] = []
        self.params: list[set[str]] = [set()]

    def add(self, slug: str, line: int, cls: type[errors.WxError] | None = None) -> None:
        self.found.append((slug, f"{self.where}:{line}", cls))

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        args = node.args
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        defaults = list(zip(
            [*args.posonlyargs, *args.args][-len(args.defaults):] if args.defaults else [],
            args.defaults, strict=True)) + list(zip(args.kwonlyargs, args.kw_defaults,
                                                    strict=True))
        for arg, default in defaults:
            if arg.arg.endswith("slug") and isinstance(default, ast.Constant) and (
                    isinstance(default.value, str)):
                self.add(default.value, default.lineno)
        self.params.append({arg.arg for arg in every})
        self.generic_visit(node)
        self.params.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node: ast.Call) -> None:
        cls = _error_class(node)
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        for name, value in keywords.items():
            if name.endswith("slug"):
                self.slug_value(value, cls if name == "slug" else None)
        if cls is not None and "slug" not in keywords and not any(
                k.arg is None for k in node.keywords):
            self.add(cls.default_slug, node.lineno, cls)
        func = node.func
        if (isinstance(func, ast.Attribute) and func.attr == "append"
                and isinstance(func.value, ast.Attribute)
                and func.value.attr in ("invalid", "conflicts") and node.args
                and isinstance(node.args[0], ast.Tuple) and node.args[0].elts
                and isinstance(node.args[0].elts[0], ast.Constant)):
            self.add(node.args[0].elts[0].value, node.lineno,
                     errors.InvalidInput if func.value.attr == "invalid" else errors.Conflict)
        self.generic_visit(node)

    def slug_value(self, value: ast.expr, cls: type[errors.WxError] | None) -> None:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            self.add(value.value, value.lineno, cls)
        elif isinstance(value, ast.IfExp):
            self.slug_value(value.body, cls)
            self.slug_value(value.orelse, cls)
        elif isinstance(value, ast.Name) and value.id in self.params[-1]:
            pass  # the function's own parameter: its callers' literals are scanned
        elif self.known(value, cls):
            pass
        else:
            self.unknown.append(f"{self.where}:{value.lineno}: slug={ast.unparse(value)}")

    def known(self, value: ast.expr, cls: type[errors.WxError] | None) -> bool:
        source = ast.unparse(value)
        if source == "f'payment_{reason}'":  # checkout: a closed order's refusal reason
            from wxshop_cli.core.checkout import REFUSAL_WORDS

            for reason in REFUSAL_WORDS:
                self.add(f"payment_{reason}", value.lineno, cls)
            return True
        if source == "stored.get('slug', 'sold_out')":  # a replayed refusal: raised before
            self.add("sold_out", value.lineno, cls)
            return True
        # Problems.raise_invalid/raise_conflicts: the tuples appended above.
        return source == "slug" and "promos" in self.where


def _scan() -> tuple[list[tuple[str, str, type[errors.WxError] | None]], list[str]]:
    found, unknown = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        scan = _SlugScan(path)
        scan.visit(ast.parse(path.read_text(encoding="utf-8")))
        found += scan.found
        unknown += scan.unknown
    return found, unknown


def test_every_slug_the_code_raises_is_declared_with_its_exit_code():
    found, unknown = _scan()
    assert unknown == [], "slugs this test cannot trace; extend _SlugScan.known"
    assert len({slug for slug, _, _ in found}) > 100
    undeclared = sorted({f"{slug} ({where})" for slug, where, _ in found
                         if slug not in errors.SLUGS})
    assert undeclared == [], (
        "declare each slug in errors.SLUGS (one line: exit code, meaning), then run "
        f"`{docgen.COMMAND}`")
    wrong_exit = sorted(
        f"{slug} ({where}): raised as {cls.__name__} (exit {cls.exit_code})"
        for slug, where, cls in found
        if cls is not None and slug in errors.SLUGS
        and cls.exit_code not in docgen._exits(errors.SLUGS[slug][0]))
    assert wrong_exit == []


def test_every_declared_slug_is_raised_somewhere():
    found, _ = _scan()
    raised = {slug for slug, _, _ in found}
    assert sorted(set(errors.SLUGS) - raised) == [], "remove slugs the code no longer raises"


def test_slug_and_exit_code_tables_are_well_formed():
    for slug, (exits, meaning) in errors.SLUGS.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", slug), slug
        assert meaning and "\n" not in meaning, slug
        assert all(code in errors.EXIT_CODES for code in docgen._exits(exits)), slug
    for cls in ERROR_CLASSES.values():
        assert cls.exit_code in errors.EXIT_CODES, cls


def test_the_scan_sees_a_slug_in_each_form_it_claims(tmp_path):
    """The scan itself: each form yields its slug, an untraceable one is reported."""
    source = '''
from wxshop_cli.errors import Conflict, InvalidInput, NotFound

def f(x, *, slug="from_default"):
    problems.conflicts.append(("from_tuple", "message"))
    other = pick()
    raise Conflict("m", slug="from_literal" if x else "from_else", read_only_slug=slug)

def g():
    raise NotFound("no slug given")

def h(other):
    raise InvalidInput("m", slug=other.slug)
'''
    module = REPO / "wxshop_cli" / "_scan_probe.py"  # never written: only its path is used
    scan = _SlugScan(module)
    scan.visit(ast.parse(source))
    slugs = {slug: cls for slug, _, cls in scan.found}
    assert set(slugs) == {"from_default", "from_tuple", "from_literal", "from_else",
                          "not_found"}
    assert slugs["from_literal"] is errors.Conflict and slugs["not_found"] is errors.NotFound
    assert scan.unknown == ["wxshop_cli/_scan_probe.py:13: slug=other.slug"]


# ------------------------------------------------------------------ README and links


def _readme() -> str:
    return (REPO / "README.md").read_text(encoding="utf-8")


def test_readme_is_short_and_starts_with_the_two_set_up_commands():
    text = _readme()
    assert len(text.splitlines()) <= 150
    blocks = re.findall(r"```sh\n(.*?)\n```", text, re.S)
    assert blocks[:2] == ["pip install . && wxshop demo",
                          "pip install -e '.[test]' && python -m pytest"]
    assert "WXSHOP_TEST_DATABASE_URL" in text


def test_ci_runs_the_readme_test_command_as_written_there():
    command = re.findall(r"```sh\n(.*?)\n```", _readme(), re.S)[1]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert command in ci


@pytest.mark.parametrize("page", ["README.md", "CONTRIBUTING.md",
                                  *sorted(f"docs/{p.name}" for p in (REPO / "docs").glob("*.md"))])
def test_relative_links_point_at_files_and_headings_that_exist(page):
    path = REPO / page
    text = path.read_text(encoding="utf-8")
    assert "../shared/" not in text and "BILLS.md" not in text  # not in the repo
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        assert linked.exists(), f"{page}: link to {target}"
        if anchor and linked.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", linked.read_text(encoding="utf-8"), re.M)
            anchors = {docgen._anchor(h) for h in headings}
            assert anchor in anchors, f"{page}: no heading for #{anchor} in {file or page}"


def test_the_bill_example_of_the_docs_is_the_one_the_tests_read():
    text = (REPO / "docs" / "bills-wechat.md").read_text(encoding="utf-8")
    example = re.search(r"## An example.*?\n```\n(.*?)\n```", text, re.S).group(1)
    data = (REPO / "tests" / "data" / "bills" / "example_all.csv").read_bytes().decode("utf-8")
    assert data.replace("\r\n", "\n").strip("\n") == example
