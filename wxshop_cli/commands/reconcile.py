from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from wxshop_cli.cli import group
from wxshop_cli.output import Column

app = group("reconciliations", "Stored reconciliation runs: list, show, resolve items.")

#: Progress bars appear on a terminal for bills at least this big (decompressed bytes).
PROGRESS_MIN_BYTES = 256 * 1024
#: A terminal shows this many discrepancies; JSON and pipes get all of them.
TERMINAL_ROWS = 100

DISCREPANCY_COLUMNS = [
    Column("id", "id"), Column("kind", "kind"), Column("status", "status"),
    Column("line", "line_no"), Column("out_trade_no", "out_trade_no"),
    Column("transaction_id", "transaction_id"), Column("refund_no", "refund_no"),
    Column("bill", "bill_amount_fen", "money"), Column("book", "book_amount_fen", "money"),
    Column("detail", "detail"), Column("note", "note"),
]
RUN_COLUMNS = [
    Column("run_id", "run_id"), Column("bill_date", "bill_date"),
    Column("bill_type", "bill_type"), Column("rows", "rows"), Column("matched", "matched"),
    Column("open", "open"), Column("deferred", "deferred"), Column("resolved", "resolved"),
    Column("created_at", "created_at", "time"), Column("source", "source"),
]
RESOLVED_COLUMNS = [Column("run_id", "run_id"), *DISCREPANCY_COLUMNS,
                    Column("resolved_at", "resolved_at", "time"),
                    Column("changed", "changed", "bool")]


def reconcile(
    file: Annotated[str, typer.Argument(metavar="FILE",
                                        help="The bill: a path (plain or gzip) or '-' for "
                                             "stdin.")],
    date: Annotated[dt.datetime | None, typer.Option(
        "--date", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
        help="The bill day (Beijing). Default: the day of the bill's times.")] = None,
    rerun: Annotated[bool, typer.Option("--rerun", help="Match again even if this bill was "
                                                        "reconciled before.")] = False,
) -> None:
    """Compare a WeChat Pay trade bill with the order book. Exit 0 when nothing is open,
    8 when discrepancies are (printed on stdout, not an error)."""
    import sys

    from wxshop_cli.config import current
    from wxshop_cli.core.billformat import open_bill
    from wxshop_cli.output import err_console, warn

    settings = current()
    with open_bill(file) as source:
        from wxshop_cli.core import reconcile as service
        from wxshop_cli.db.engine import database

        db = database()
        bars = None
        if sys.stderr.isatty() and source.size >= PROGRESS_MIN_BYTES:
            bars = _Bars(err_console())
        try:
            outcome = service.reconcile(db, source, bill_date=date.date() if date else None,
                                        rerun=rerun, now=settings.clock.now(),
                                        progress=bars, warn=warn)
        finally:
            if bars is not None:
                bars.stop()
    open_count = show_run(db, outcome.run_id, replayed=outcome.replayed)
    if open_count:
        raise typer.Exit(8)


@app.command("list")
def list_() -> None:
    """Reconciliation runs, newest first, with their open / deferred / resolved counts."""
    from wxshop_cli.config import current
    from wxshop_cli.core import reconcile as service
    from wxshop_cli.db.engine import database
    from wxshop_cli.output import emit

    with database().transaction(read_only=True) as session:
        runs = service.list_runs(session, current().tz)
    emit(runs, RUN_COLUMNS, title="Reconciliation runs", empty="no reconciliation runs")


@app.command("show")
def show(run_id: Annotated[str, typer.Argument(metavar="RUN")]) -> None:
    """One run with every discrepancy (exit 0 whatever it holds)."""
    from wxshop_cli.db.engine import database

    show_run(database(), run_id, replayed=None)


@app.command("resolve")
def resolve(
    run_id: Annotated[str, typer.Argument(metavar="RUN")],
    item_id: Annotated[str, typer.Argument(metavar="ITEM", help="A discrepancy id (dsc_…).")],
    note: Annotated[str, typer.Option("--note", metavar="TEXT",
                                      help="How the difference was settled.")],
) -> None:
    """Close an open or deferred discrepancy with a note."""
    from wxshop_cli.config import current
    from wxshop_cli.core import reconcile as service
    from wxshop_cli.db.engine import database
    from wxshop_cli.output import emit

    settings = current()
    service.check_note(note)
    item, changed = service.resolve(database(), run_id, item_id, note, settings.clock.now())
    emit({"run_id": run_id, **service.discrepancy_public(item, settings.tz),
          "changed": changed}, RESOLVED_COLUMNS, title="Resolved")


# ------------------------------------------------------------------ rendering a run


def show_run(db: Any, run_id: str, *, replayed: bool | None) -> int:
    """Print a run (JSON, terminal summary and table, or TSV) and return its open count."""
    import sys

    from wxshop_cli.config import current
    from wxshop_cli.core import reconcile as service
    from wxshop_cli.output import say, stdout_is_terminal, tsv_cell

    settings = current()
    tz = settings.tz
    with db.transaction(read_only=True) as session:
        summary = service.run_summary(session, run_id, tz)
        if replayed is not None:
            summary["replayed"] = replayed
        items = service.iter_discrepancies(session, run_id, tz)
        if settings.json:
            _write_json(summary, items)
        elif stdout_is_terminal():
            _render(summary, items)
        else:
            lines = ["\t".join(c.header for c in DISCREPANCY_COLUMNS)]
            for item in items:
                lines.append("\t".join(tsv_cell(c.text(item, terminal=False))
                                       for c in DISCREPANCY_COLUMNS))
                if len(lines) >= 1000:
                    sys.stdout.write("\n".join(lines) + "\n")
                    lines.clear()
            if lines:
                sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()
            say(_one_line(summary))
    return summary["open"]


def _one_line(summary: dict[str, Any]) -> str:
    stored = " (stored run)" if summary.get("replayed") else ""
    return (f"{summary['run_id']}{stored}: {summary['bill_type']} bill of "
            f"{summary['bill_date']}, {summary['rows']} rows, {summary['matched']} matched, "
            f"{summary['open']} open, {summary['deferred']} deferred, "
            f"{summary['resolved']} resolved")


def _write_json(summary: dict[str, Any], items: Any) -> None:
    """One JSON document, written as the discrepancies stream out of the database."""
    import sys

    from wxshop_cli.output import dumps

    head = dumps(summary, indent=2)
    write = sys.stdout.write
    write(head[:-2] + ',\n  "discrepancies": [')
    first = True
    for item in items:
        write(("\n    " if first else ",\n    ") + dumps(item))
        first = False
    write("]\n}\n" if first else "\n  ]\n}\n")
    sys.stdout.flush()


def _render(summary: dict[str, Any], items: Any) -> None:
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    from wxshop_cli.money import display
    from wxshop_cli.output import out_console

    bill, book = summary["totals"]["bill"], summary["totals"]["book"]
    totals = Table(box=None, padding=(0, 2), header_style="bold")
    totals.add_column("")
    totals.add_column("bill", justify="right")
    totals.add_column("book", justify="right")
    totals.add_row("payments", f"{bill['payments']:,}", f"{book['payments']:,}")
    totals.add_row("", display(bill["payment_fen"]), display(book["payment_fen"]))
    totals.add_row("refunds", f"{bill['refunds']:,}", f"{book['refunds']:,}")
    totals.add_row("", display(bill["refund_fen"]), display(book["refund_fen"]))
    totals.add_row("net", display(bill["net_fen"]), display(book["net_fen"]), style="bold")
    totals.add_row("fees", display(bill["fee_fen"]), "")
    verdict = ("[green]✓ nothing open[/green]" if summary["open"] == 0
               else f"[red]✗ {summary['open']} open[/red]")
    lines = [f"{summary['bill_type']} bill of {summary['bill_date']}: "
             f"{summary['matched']:,} of {summary['rows']:,} rows matched",
             verdict]
    if summary["deferred"]:
        lines.append(f"[yellow]{summary['deferred']} deferred[/yellow] (the next day's bill "
                     "decides)")
    if summary["resolved"]:
        lines.append(f"{summary['resolved']} resolved")
    if summary.get("replayed"):
        lines.append("[dim]the stored run of this bill (--rerun matches again)[/dim]")
    head = "\n".join(lines)
    console = out_console()
    console.print(Panel(Group(head, "", totals), title=f"Reconciliation {summary['run_id']}",
                        title_align="left", expand=False))
    # One column per field; ids and amounts are never cut, the detail folds (wxshop_cli.tables
    # turns rows into blocks of lines on a terminal too narrow even for that).
    from wxshop_cli import tables

    styles = {"open": "red", "deferred": "yellow", "resolved": "dim"}
    rows = []
    more = 0
    for item in items:
        if len(rows) >= TERMINAL_ROWS:
            more += 1
            continue
        rows.append(item)
    cols = [
        tables.Col("id", lambda r: r["id"]),
        tables.Col("kind", lambda r: r["kind"]),
        tables.Col("status", lambda r: Text(r["status"], style=styles.get(r["status"], ""))),
        tables.Col("line", lambda r: str(r["line_no"] or ""), justify="right"),
        tables.Col("order / refund", lambda r: "\n".join(
            n for n in (r["out_trade_no"], r["refund_no"]) if n)),
        tables.Col("bill", lambda r: _money(r["bill_amount_fen"]), justify="right"),
        tables.Col("book", lambda r: _money(r["book_amount_fen"]), justify="right"),
        tables.Col("detail / note", lambda r: r["detail"] + (f"\n{r['note']}" if r["note"]
                                                           else ""), flexible=True),
    ]
    if rows:
        console.print(tables.FitTable(rows, cols, title="Discrepancies"))
    if more:
        console.print(f"[dim]… and {more} more (see --json or a pipe)[/dim]")


def _money(fen: int | None) -> str:
    from wxshop_cli.money import display

    return "" if fen is None else display(fen)


class _Bars:
    """Progress of the run on the stderr console (transient)."""

    LABELS = {"stage": "reading, checking and staging the bill",
              "match": "matching in SQL", "record": "recording the run"}

    def __init__(self, console: Any) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        # Byte counts only for the passes that read the bill; the SQL phases show a spinner.
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                 BarColumn(), TextColumn("{task.fields[size]}"),
                                 TimeElapsedColumn(), console=console, transient=True)
        self.tasks: dict[str, Any] = {}
        self.progress.start()

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        task = self.tasks.get(phase)
        if task is None:
            for other in self.tasks.values():
                self.progress.update(other, completed=self.progress.tasks[other].total or 1,
                                     total=self.progress.tasks[other].total or 1)
            task = self.tasks[phase] = self.progress.add_task(self.LABELS.get(phase, phase),
                                                              total=total, size="")
        size = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB" if total else ""
        self.progress.update(task, completed=done, size=size)

    def stop(self) -> None:
        self.progress.stop()
