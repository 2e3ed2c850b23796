"""Reconciliation runs on the terminal: the JSON columns (TSV), a run printed as one JSON
document written as its discrepancies stream, as a summary panel with a discrepancy table,
or as TSV; and the progress bars of a big bill."""

from __future__ import annotations

import sys
from typing import Any

from wxshop_cli.output import Column

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


def print_run(summary: dict[str, Any], items: Any) -> None:
    """A run and its discrepancies (an iterator): JSON, terminal or TSV; in TSV the one-line
    summary goes to stderr."""
    from wxshop_cli.config import current
    from wxshop_cli.output import say, stdout_is_terminal, tsv_cell

    if current().json:
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


def _render(summary: dict[str, Any], items: Any) -> None:
    from rich.console import Group
    from rich.panel import Panel

    from wxshop_cli.output import out_console

    console = out_console()
    console.print(Panel(Group(_verdict(summary), "", _totals(summary)),
                        title=f"Reconciliation {summary['run_id']}", title_align="left",
                        expand=False))
    rows: list[Any] = []
    more = 0
    for item in items:
        if len(rows) >= TERMINAL_ROWS:
            more += 1
            continue
        rows.append(item)
    if rows:
        console.print(discrepancy_table(rows))
    if more:
        console.print(f"[dim]… and {more} more (see --json or a pipe)[/dim]")


def _totals(summary: dict[str, Any]):
    """Bill against book: counts and amounts of payments and refunds, net, fees."""
    from rich.table import Table

    from wxshop_cli.money import display

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
    return totals


def _verdict(summary: dict[str, Any]) -> str:
    """The panel's head (Rich markup): rows matched, open, deferred, resolved."""
    from wxshop_cli.output import counted

    verdict = ("[green]✓ nothing open[/green]" if summary["open"] == 0
               else f"[red]✗ {summary['open']:,} open[/red]")
    if summary.get("gate") and summary["open"]:
        words = gate_words(summary)[2:]
        verdict += (f" — [red]{words}[/red]" if summary["gate"]["failing"]
                    else f" — [green]{words}[/green]")
    lines = [f"{summary['bill_type']} bill of {summary['bill_date']}: "
             f"{summary['matched']:,} of {counted(summary['rows'], 'row')} matched",
             verdict]
    if summary["deferred"]:
        lines.append(f"[yellow]{summary['deferred']:,} deferred[/yellow] (the next day's bill "
                     "decides)")
    if summary["resolved"]:
        lines.append(f"{summary['resolved']:,} resolved")
    if summary.get("replayed"):
        lines.append("[dim]the stored run of this bill (--rerun matches again)[/dim]")
    return "\n".join(lines)


def discrepancy_table(rows: list[dict[str, Any]]):
    """One column per field; ids and amounts are never cut, the detail folds
    (wxshop_cli.tables turns rows into blocks of lines on a terminal too narrow even for
    that). Shared with the demo."""
    from rich.text import Text

    from wxshop_cli import tables

    styles = {"open": "red", "deferred": "yellow", "resolved": "dim"}
    return tables.FitTable(rows, [
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
    ], title="Discrepancies")


def _one_line(summary: dict[str, Any]) -> str:
    from wxshop_cli.output import counted

    stored = " (stored run)" if summary.get("replayed") else ""
    return (f"{summary['run_id']}{stored}: {summary['bill_type']} bill of "
            f"{summary['bill_date']}, {counted(summary['rows'], 'row')}, "
            f"{summary['matched']:,} matched, {summary['open']:,} open, "
            f"{summary['deferred']:,} deferred, {summary['resolved']:,} resolved"
            f"{gate_words(summary)}")


def gate_words(summary: dict[str, Any]) -> str:
    """What `--fail-on` / `--allow` made of the open items (docs/reconcile.md): `; 2 open fail
    the gate (fee_mismatch)`, `; nothing open fails the gate`, or "" without a gate."""
    verdict = summary.get("gate")
    if verdict is None:
        return ""
    if verdict["failing"]:
        kinds = ", ".join(verdict["failing_by_kind"])
        return f"; {verdict['failing']} open fail the gate ({kinds})"
    return "; nothing open fails the gate" if summary["open"] else ""


def _write_json(summary: dict[str, Any], items: Any) -> None:
    """One JSON document, written as the discrepancies stream out of the database."""
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


def _money(fen: int | None) -> str:
    from wxshop_cli.money import display

    return "" if fen is None else display(fen)


class Bars:
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
