from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from wxshop_cli.cli import group
from wxshop_cli.paging_options import After, Limit, PageInfo
from wxshop_cli.views.reconcile import RESOLVED_COLUMNS, RUN_COLUMNS, print_run

app = group("reconciliations", """Stored reconciliation runs: list, show, resolve items.

Examples:
  $ wxshop reconciliations list
  $ wxshop reconciliations show run_5d0c7e2a9b14f368
  $ wxshop reconciliations resolve run_5d0c7e2a9b14f368 dsc_8e41b07c2fa95d13 \\
      --note "refunded by hand on 11-12"
""")

#: Progress bars appear on a terminal for bills at least this big (decompressed bytes).
PROGRESS_MIN_BYTES = 256 * 1024

FailOn = Annotated[list[str] | None, typer.Option(
    "--fail-on", metavar="KIND[,KIND]",
    help="Only open discrepancies of these kinds make exit 8; the rest are reported "
         "(repeatable).")]
Allow = Annotated[list[str] | None, typer.Option(
    "--allow", metavar="KIND",
    help="Open discrepancies of this kind never make exit 8 (repeatable).")]


def reconcile(
    file: Annotated[str, typer.Argument(metavar="FILE",
                                        help="The bill: a path (plain or gzip) or '-' for "
                                             "stdin.")],
    date: Annotated[dt.datetime | None, typer.Option(
        "--date", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
        help="The bill day (Beijing). Default: the day of the bill's times.")] = None,
    rerun: Annotated[bool, typer.Option("--rerun", help="Match again even if this bill was "
                                                        "reconciled before.")] = False,
    fail_on: FailOn = None,
    allow: Allow = None,
) -> None:
    """Compare a WeChat Pay or Alipay bill with the order book.

    The format is recognised by content. Exit 0 when nothing is open, 8 when discrepancies
    are (printed on stdout, not an error). The run is stored: see `wxshop reconciliations`.
    The same bill again prints the stored run (--rerun matches again). --fail-on / --allow
    choose which kinds of open discrepancy make exit 8 (docs/reconcile.md: reconcile as a CI gate).

    Examples:
      $ wxshop reconcile bill-20131111.csv
      $ wxshop bill export --date 2013-11-11 | wxshop reconcile -
      $ wxshop reconcile bill-20131111.csv.gz --rerun --json
      $ wxshop reconcile alipay-20131111.zip --fail-on missing_in_book
    """
    import sys

    from wxshop_cli.config import current
    from wxshop_cli.core.billformat import open_bill
    from wxshop_cli.core.reconcile.gate import gate, run_verdict
    from wxshop_cli.output import err_console, warn

    settings = current()
    # Checked before the bill is read: a mistyped gate records nothing.
    chosen = gate(fail_on or (), allow or ()) if fail_on or allow else None
    # The command reads stdin, the core the stream it is given.
    with open_bill(file, stdin=sys.stdin.buffer if file == "-" else None) as source:
        from wxshop_cli.core import reconcile as service
        from wxshop_cli.db.engine import database

        db = database()
        bars = None
        if sys.stderr.isatty() and source.size >= PROGRESS_MIN_BYTES:
            from wxshop_cli.views.reconcile import Bars

            bars = Bars(err_console())
        try:
            outcome = service.reconcile(db, source, bill_date=date.date() if date else None,
                                        rerun=rerun, now=settings.clock.now(),
                                        progress=bars, warn=warn)
        finally:
            if bars is not None:
                bars.stop()
    with db.transaction(read_only=True) as session:
        summary, code = run_verdict(session, outcome.run_id, settings.tz,
                                    replayed=outcome.replayed, gate=chosen)
        # Streamed out of the read transaction as printed: a bill can have a million.
        print_run(summary, service.iter_discrepancies(session, outcome.run_id, settings.tz))
    if code:
        raise typer.Exit(code)


@app.command("list")
def list_(limit: Limit = 100, after: After = None, page_info: PageInfo = False) -> None:
    """Reconciliation runs, newest first, with their counts.

    Each run: the bill, rows matched, and its open, deferred and resolved discrepancies.

    Examples:
      $ wxshop reconciliations list
      $ wxshop --json reconciliations list
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import reconcile as service
    from wxshop_cli.core.paging import check_limit
    from wxshop_cli.db.engine import database
    from wxshop_cli.output import emit
    from wxshop_cli.views.paging import page_out

    check_limit(limit)
    with database().transaction(read_only=True) as session:
        page = service.list_runs(session, current().tz, limit=limit, after=after)
    page_out(page, page_info, lambda runs: emit(runs, RUN_COLUMNS, title="Reconciliation runs",
                                                empty="no reconciliation runs"))


@app.command("show")
def show(run_id: Annotated[str, typer.Argument(metavar="RUN", help="A run id (run_…).")],
         limit: Limit = 100, after: After = None, page_info: PageInfo = False) -> None:
    """One run with every discrepancy (exit 0 whatever it holds).

    Examples:
      $ wxshop reconciliations show run_5d0c7e2a9b14f368
      $ wxshop --json reconciliations show run_5d0c7e2a9b14f368
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import reconcile as service
    from wxshop_cli.core.paging import check_limit
    from wxshop_cli.db.engine import database
    from wxshop_cli.views.paging import page_out

    check_limit(limit)
    tz = current().tz
    with database().transaction(read_only=True) as session:
        summary = service.run_summary(session, run_id, tz)
        found = service.discrepancy_page(session, run_id, tz, limit=limit, after=after)
    page_out(found, page_info, lambda items: print_run(summary, iter(items)),
             data={**summary, "discrepancies": found.rows})


@app.command("resolve")
def resolve(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="A run id (run_…).")],
    item_id: Annotated[str, typer.Argument(metavar="ITEM", help="A discrepancy id (dsc_…).")],
    note: Annotated[str, typer.Option("--note", metavar="TEXT",
                                      help="How the difference was settled.")],
) -> None:
    """Close an open or deferred discrepancy with a note.

    Examples:
      $ wxshop reconciliations resolve run_5d0c7e2a9b14f368 dsc_8e41b07c2fa95d13 \\
          --note "refunded by hand on 11-12"
      $ wxshop --json reconciliations resolve run_5d0c7e2a9b14f368 \\
          dsc_8e41b07c2fa95d13 --note "the bank's late settlement"
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import reconcile as service
    from wxshop_cli.db.engine import database
    from wxshop_cli.output import emit

    settings = current()
    service.check_note(note)
    with database().transaction() as session:
        item, changed = service.resolve(session, run_id, item_id, note, settings.clock.now())
    emit({"run_id": run_id, **service.discrepancy_public(item, settings.tz),
          "changed": changed}, RESOLVED_COLUMNS, title="Resolved")
