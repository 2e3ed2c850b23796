from __future__ import annotations

from typing import Annotated, Any

import typer

#: A terminal shows this many violations; JSON and pipes get up to --limit.
TERMINAL_ROWS = 100
TSV_HEADER = ("kind", "ids", "expected", "found", "detail")


def audit(
    limit: Annotated[str, typer.Option(
        "--limit", metavar="N", help="List at most N violations (all are counted; default "
                                     "1000, 0 lists none).")] = "1000",
) -> None:
    """Check the book's invariants in one consistent read. Exit 0 when clean, 8 when
    anything is violated (printed on stdout, not an error).

    Examples:
      $ wxshop audit
      $ wxshop audit --json --limit 50
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import audit as service
    from wxshop_cli.core.catalog import parse_count
    from wxshop_cli.db.engine import database
    from wxshop_cli.output import print_json, say, stdout_is_terminal

    settings = current()
    count = service.check_limit(parse_count(limit, option="--limit",
                                            slug="invalid_audit_limit"))
    _require_existing_database(settings)
    # The clock read in the display zone: the details' times are shown in WXSHOP_TZ.
    report = service.audit_book(database(), settings.clock.now().astimezone(settings.tz),
                                limit=count)
    document = report.to_json()
    if settings.json:
        print_json(document)
    elif stdout_is_terminal():
        _render(document)
    else:
        _tsv(document)
        say(_one_line(document))
    if not report.clean:
        raise typer.Exit(8)


def _one_line(document: dict[str, Any]) -> str:
    rows = sum(document["checked"].values())
    if document["clean"]:
        return f"audit: clean, {rows:,} rows checked in {len(document['checked'])} invariants"
    shown = (f" ({document['listed']:,} listed)" if document["truncated"] else "")
    return (f"audit: {document['violation_count']:,} violations{shown} in {rows:,} rows "
            "checked")


def ids_text(violation: dict[str, Any]) -> str:
    """The ids of a violation as `key=value` words (every key but the fixed ones)."""
    fixed = {"kind", "expected", "found", "detail"}
    return " ".join(f"{key}={value}" for key, value in violation.items()
                    if key not in fixed and value is not None)


def _value(value: Any) -> str:
    import json

    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _clean(text: str) -> str:
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def _tsv(document: dict[str, Any]) -> None:
    import sys

    lines = ["\t".join(TSV_HEADER)]
    for violation in document["violations"]:
        lines.append("\t".join(_clean(text) for text in (
            violation["kind"], ids_text(violation), _value(violation["expected"]),
            _value(violation["found"]), violation["detail"])))
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def _render(document: dict[str, Any]) -> None:
    from collections import Counter

    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    from wxshop_cli import tables
    from wxshop_cli.core.audit import kinds
    from wxshop_cli.output import out_console

    console = out_console()
    per_check: Counter[str] = Counter()
    owner = kinds()
    for kind, found in document["counts"].items():
        per_check[owner.get(kind, "?")] += found
    grid = Table(box=None, padding=(0, 2), header_style="bold")
    grid.add_column("invariant")
    grid.add_column("rows", justify="right")
    grid.add_column("violations", justify="right")
    for name, rows in document["checked"].items():
        bad = per_check[name]
        grid.add_row(name, f"{rows:,}", Text(f"{bad:,}" if bad else "✓",
                                             style="red" if bad else "green"))
    verdict = ("[green]✓ clean: every invariant holds[/green]" if document["clean"] else
               f"[red]✗ {document['violation_count']:,} violations[/red]")
    console.print(Panel(grid, title="Audit of the book", subtitle=verdict,
                        title_align="left", expand=False))
    rows = document["violations"][:TERMINAL_ROWS]
    if rows:
        cols = [
            tables.Col("kind", lambda r: Text(r["kind"], style="red")),
            tables.Col("ids", lambda r: ids_text(r).replace(" ", "\n")),
            tables.Col("expected", lambda r: _value(r["expected"]), justify="right"),
            tables.Col("found", lambda r: _value(r["found"]), justify="right"),
            tables.Col("detail", lambda r: r["detail"], flexible=True),
        ]
        console.print(tables.FitTable(rows, cols, title="Violations"))
    more = document["violation_count"] - len(rows)
    if more > 0:
        console.print(f"[dim]… and {more:,} more (see --json or a pipe, and --limit)[/dim]")



def _require_existing_database(settings) -> None:
    """An audit reads: a mistyped path must not create an empty book that audits clean."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    from wxshop_cli.errors import NotFound

    url = make_url(settings.db_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" \
            and not Path(url.database).exists():
        raise NotFound(f"no database at {url.database}", slug="database_not_found",
                       hint="check --db / WXSHOP_DB; an audit never creates a database")
