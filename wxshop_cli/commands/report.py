from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any

import typer

from wxshop_cli.cli import group
from wxshop_cli.output import Column

app = group("report", """Merchant reports.

Examples:
  $ wxshop report sales --by item
  $ wxshop report sales --by hour --date 2013-11-11
  $ wxshop report funnel --promo double11-2013
""")

SALES_COLUMNS = [
    Column("key", "key"), Column("label", "label"), Column("orders", "orders"),
    Column("units", "units"), Column("paid", "paid_fen", "money"),
    Column("refunded", "refunded_fen", "money"), Column("gmv", "gmv_fen", "money"),
    Column("avg_order", "avg_order_fen", "money"),
]
_BAR_WIDTH = 32


class By(StrEnum):
    promo = "promo"
    item = "item"
    region = "region"
    hour = "hour"
    day = "day"


@app.command("sales")
def sales(
    by: Annotated[By, typer.Option("--by", metavar="GROUP",
                                   help="promo, item (best sellers first), region, hour or "
                                        "day.")] = By.promo,
    date: Annotated[dt.datetime | None, typer.Option(
        "--date", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
        help="Only orders paid that day (in WXSHOP_TZ).")] = None,
) -> None:
    """Orders, units, GMV and average order value per group.

    Over paid and (partly) refunded orders; GMV is paid minus refunded; hours and days are
    in WXSHOP_TZ. A bar chart on a terminal.

    Examples:
      $ wxshop report sales
      $ wxshop report sales --by item
      $ wxshop report sales --by hour --date 2013-11-11 --json
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import reports
    from wxshop_cli.db.engine import database
    from wxshop_cli.output import emit

    settings = current()
    with database().transaction(read_only=True) as session:
        rows = reports.sales(session, by.value, settings.tz, date.date() if date else None)
    title = f"Sales by {by.value}" + (f" on {date.date().isoformat()}" if date else "")
    emit(rows, SALES_COLUMNS, title=title, empty="no sales",
         human=lambda data: _chart(data, title, reports.totals(data)))


def _chart(rows: list[dict[str, Any]], title: str, total: dict[str, Any]) -> None:
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    from wxshop_cli.money import display
    from wxshop_cli.output import err_console, out_console

    if not rows:
        err_console().print("[dim]no sales[/dim]")
        return
    console = out_console()
    figures = [[f"{r['orders']:,}", f"{r['units']:,}", display(r["gmv_fen"]),
                display(r["avg_order_fen"])] for r in rows]
    footer = [str(total["orders"]), str(total["units"]), display(total["gmv_fen"]),
              display(total["avg_order_fen"])]
    headers = ["orders", "units", "GMV", "avg order"]
    widths = [max(cell_len(x) for x in column) for column in zip(headers, footer, *figures,
                                                                  strict=True)]
    label = min(max(cell_len(r["label"]) for r in rows), 24)
    # The figures are never cut; the bar takes what is left (up to 32 cells), the label folds.
    bar_width = min(_BAR_WIDTH, console.width - sum(widths) - label - 3 * 6 - 1)
    top = max(r["gmv_fen"] for r in rows) or 1
    table = Table(title=title, title_justify="left", header_style="bold", show_footer=True)
    table.add_column("label", footer="total", overflow="fold", min_width=min(label, 12))
    for header, foot in zip(headers, footer, strict=True):
        table.add_column(header, justify="right", footer=foot, no_wrap=True)
    if bar_width >= 4:
        table.add_column("", no_wrap=True, width=bar_width)
    for row, cells in zip(rows, figures, strict=True):
        bar = []
        if bar_width >= 4:
            eighths = round(row["gmv_fen"] * bar_width * 8 / top)
            bar = [Text("█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8],
                        style="cyan")]
        table.add_row(Text(row["label"]), *cells, *bar)
    console.print(table)


class FunnelBy(StrEnum):
    item = "item"
    region = "region"
    hour = "hour"


@app.command("funnel")
def funnel(
    promo: Annotated[str | None, typer.Option("--promo", metavar="CODE",
                                              help="One promotion (default: all of them).")]
    = None,
    date: Annotated[dt.datetime | None, typer.Option(
        "--date", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
        help="Only attempts made that day (in WXSHOP_TZ); shown: pushed by its end or "
             "viewed that day.")] = None,
    by: Annotated[FunnelBy | None, typer.Option(
        "--by", metavar="GROUP", help="Also per item (SKU), region or hour.")] = None,
) -> None:
    """The conversion funnel: shown, tried, reserved, paid.

    The drop between steps, and the endings: paid, open, sold_out, limit, refused by the bank
    (and why), gave_up, wrong_password. A chart on a terminal, TSV rows in a pipe, one JSON
    document with --json. Replays of an idempotency key are not new attempts.

    Examples:
      $ wxshop report funnel --promo double11-2013
      $ wxshop report funnel --promo double11-2013 --by hour --date 2013-11-11
      $ wxshop --json report funnel --by item
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import funnel as funnels
    from wxshop_cli.db.engine import database
    from wxshop_cli.views.funnel import show_funnel

    settings = current()
    with database().transaction(read_only=True) as session:
        document = funnels.funnel(session, settings.tz, promo_code=promo,
                                  day=date.date() if date else None,
                                  by=by.value if by else None)
    show_funnel(document, funnels.rows(document))
