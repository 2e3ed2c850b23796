from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any

import typer

from wxshop_cli.cli import group
from wxshop_cli.output import Column

app = group("report", "Merchant reports.")

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
    by: Annotated[By, typer.Option("--by", help="Group by promo, item (best sellers first), "
                                                "region, hour or day.")] = By.promo,
    date: Annotated[dt.datetime | None, typer.Option(
        "--date", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
        help="Only orders paid that day (in WXSHOP_TZ).")] = None,
) -> None:
    """Orders, units, GMV (paid minus refunded) and average order value per group, over paid
    and (partly) refunded orders; hours and days in WXSHOP_TZ."""
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
    from rich.table import Table

    from wxshop_cli.money import display
    from wxshop_cli.output import err_console, out_console

    if not rows:
        err_console().print("[dim]no sales[/dim]")
        return
    top = max(r["gmv_fen"] for r in rows) or 1
    table = Table(title=title, title_justify="left", header_style="bold", show_footer=True)
    table.add_column("group", footer="total")
    table.add_column("orders", justify="right", footer=str(total["orders"]))
    table.add_column("units", justify="right", footer=str(total["units"]))
    table.add_column("GMV", justify="right", footer=display(total["gmv_fen"]))
    table.add_column("avg order", justify="right", footer=display(total["avg_order_fen"]))
    table.add_column("", no_wrap=True)
    for row in rows:
        eighths = round(row["gmv_fen"] * _BAR_WIDTH * 8 / top)
        bar = "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]
        table.add_row(row["label"], str(row["orders"]), str(row["units"]),
                      display(row["gmv_fen"]), display(row["avg_order_fen"]),
                      f"[cyan]{bar}[/cyan]")
    out_console().print(table)
