"""The demo's morning after: the merchant exports the day's WeChat Pay bill and reconciles
it (clean), then an edited copy with a planted difference (found)."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

from wxshop_cli.demo.context import Chapter, DemoContext
from wxshop_cli.views import demo as view


def _bill_dir() -> Any:
    """Where the demo leaves its bills: the data directory (beside demo.db) when it exists."""
    import tempfile
    from pathlib import Path

    from wxshop_cli.config import current

    home = current().home
    return home if home.is_dir() else Path(tempfile.mkdtemp(prefix="wxshop-demo-"))


def _reconciled(ctx: DemoContext, path: Any, day: dt.date) -> dict[str, Any]:
    from wxshop_cli.config import current
    from wxshop_cli.core import reconcile
    from wxshop_cli.core.billformat import open_bill

    with open_bill(path) as source:
        outcome = reconcile.reconcile(ctx.db, source, bill_date=day, rerun=True, now=ctx.now)
    with ctx.db.transaction(read_only=True) as session:
        return reconcile.run_public(session, outcome.run_id, current().tz)


def reconcile_bill(ctx: DemoContext) -> Chapter:
    """The next morning the merchant downloads the day's WeChat Pay bill (the sandbox
    platform's ledger, exported) and proves every fen of it against the order book."""
    from wxshop_cli.clock import beijing
    from wxshop_cli.core.bill_export import write_bill
    from wxshop_cli.money import display
    from wxshop_cli.output import counted

    day = ctx.now.astimezone(beijing()).date()
    path = _bill_dir() / f"demo-bill-{day.isoformat()}.csv"
    with open(path, "wb") as out, ctx.db.transaction(read_only=True) as session:
        exported = write_bill(session, day, "ALL", out)
    run = _reconciled(ctx, path, day)
    ctx.facts.update(bill_path=str(path), bill_date=day, clean_run=run["run_id"])
    bill, book = run["totals"]["bill"], run["totals"]["book"]
    verdict = ("[green]✓ clean: nothing open[/green]" if run["open"] == 0
               else f"[red]✗ {run['open']} open[/red]")
    fees = display(exported.summary.fee_total_fen)
    rows = [("wxshop bill export", f"--date {day}  →  {path}"),
            ("bill", f"{counted(exported.summary.count, 'row')}: "
                     f"{counted(exported.payments, 'payment')}, "
                     f"{counted(exported.refunds, 'refund')}, fees {fees}  "
                     f"(sha256 {exported.sha256[:12]}…)"),
            ("wxshop reconcile", f"{run['matched']:,} of {counted(run['rows'], 'row')} "
                                 f"matched  {verdict}"),
            ("bill / book", f"{bill['payments']} · {display(bill['payment_fen'])}  /  "
                            f"{book['payments']} · {display(book['payment_fen'])}")]
    return Chapter("The morning after: the bill reconciles", {
        "bill": str(path), "bill_date": day.isoformat(), "rows": run["rows"],
        "payments": exported.payments, "refunds": exported.refunds,
        "sha256": exported.sha256, "run_id": run["run_id"], "matched": run["matched"],
        "open": run["open"]}, partial(view.facts, rows))


def _stray_payment(ctx: DemoContext, day: dt.date) -> Any:
    """A bill row for a payment the shop never took (¥100.00 at noon)."""
    from wxshop_cli.core.billformat import BillRow
    from wxshop_cli.core.merchant import get_settings
    from wxshop_cli.money import fee_fen

    with ctx.db.transaction(read_only=True) as session:
        settings = get_settings(session)
    return BillRow(line_no=0, kind="payment", trade_time=dt.datetime.combine(day, dt.time(12)),
                   app_id=settings.app_id, mch_id=settings.mch_id, sub_mch_id="0",
                   transaction_id="4200000001" + day.strftime("%Y%m%d") + "9" * 10,
                   out_trade_no="D" + day.strftime("%Y%m%d") + "9" * 10,
                   openid="oWXSHOP_stranger", trade_type="JSAPI", trade_state="SUCCESS",
                   bank_code="OTHERS", currency="CNY", settlement_fen=10000,
                   product="a payment the shop never took",
                   fee_fen=fee_fen(10000, settings.fee_rate_ppm),
                   rate_ppm=settings.fee_rate_ppm, order_fen=10000)


def _plant(ctx: DemoContext, source_path: str, planted_path: Any, day: dt.date) -> str:
    """Copy the bill with one payment a yuan dearer (the summary recomputed, so the file
    still adds up), or with a stray payment when there was none; what was planted."""
    import dataclasses

    from wxshop_cli.core.billformat import BillReader, BillWriter, open_bill
    from wxshop_cli.money import display, fee_fen

    what = ""
    with open_bill(source_path) as source, source.open() as stream, open(
            planted_path, "w", encoding="utf-8", newline="") as out:
        reader = BillReader(stream)
        writer = BillWriter(out, reader.bill_type)
        for row in reader:
            if not what and row.kind == "payment":
                bigger = row.order_fen + 100
                what = (f"line {row.line_no}: {row.out_trade_no} {display(row.order_fen)} → "
                        f"{display(bigger)}")
                row = dataclasses.replace(row, settlement_fen=bigger, order_fen=bigger,
                                          fee_fen=fee_fen(bigger, row.rate_ppm or 6000))
            writer.write(row)
        if not what:
            stray = _stray_payment(ctx, day)
            writer.write(stray)
            what = f"a payment {stray.out_trade_no} of {display(10000)} the shop never took"
        writer.finish()
    return what


def planted_difference(ctx: DemoContext) -> Chapter:
    """An operator's script edits the bill as a platform error would look — one payment a
    yuan dearer, the summary recomputed so the file still adds up — and reconciliation finds
    exactly that. With no payment that day, a payment the shop never took is planted."""
    if "bill_path" not in ctx.facts:
        reconcile_bill(ctx)
    day, source_path = ctx.facts["bill_date"], ctx.facts["bill_path"]
    planted_path = _bill_dir() / f"demo-bill-{day.isoformat()}-edited.csv"
    what = _plant(ctx, source_path, planted_path, day)
    run = _reconciled(ctx, planted_path, day)
    return Chapter("A planted difference is found", {
        "bill": str(planted_path), "planted": what, "run_id": run["run_id"],
        "open": run["open"], "kinds": [d["kind"] for d in run["discrepancies"]]},
        partial(view.found, what, run))
