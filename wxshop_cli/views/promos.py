"""Promotions on the terminal: the JSON columns of `promo` (for TSV and panels), the
merchant's tables (`promo show`, `promo list --all`), and the change report of publish,
unpublish and archive. The buyer's strips are in `views.strips`."""

from __future__ import annotations

from typing import Any

from wxshop_cli.output import Column, emit, print_json, print_table, render_panel, say
from wxshop_cli.views.strips import parse_time, stacked

PROMO_COLUMNS = [
    Column("code", "code"),
    Column("title", "title"),
    Column("status", "status"),
    Column("starts_at", "starts_at", "time"),
    Column("ends_at", "ends_at", "time"),
    Column("regions", "regions", "list"),
    Column("items", "item_count"),
]
ITEM_COLUMNS = [
    Column("promo", "promo"),
    Column("status", "status"),
    Column("id", "id"),
    Column("sku", "sku"),
    Column("title", "title"),
    Column("price", "price_fen", "money"),
    Column("list_price", "list_price_fen", "money"),
    Column("stock_left", "stock_left"),
    Column("per_buyer_limit", "per_buyer_limit"),
    Column("description", "description"),
    Column("image_url", "image_url"),
]
REPORT_COLUMNS = [
    Column("action", "action"),
    Column("kind", "kind"),
    Column("key", "key"),
    Column("field", "field"),
    Column("old", "old"),
    Column("new", "new"),
]


def item_rows(promos: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"promo": promo["code"], "status": promo["status"], **item}
            for promo in promos for item in promo["items"]]


def _item_cell(item: dict[str, Any]):
    """A promo item's title, with its description and image URL on lines below."""
    return stacked({"title": item["title"], "description": item.get("description") or "",
                     "url": item.get("image_url") or ""})


def item_table(items: list[dict[str, Any]]) -> None:
    """`promo show` items on a terminal: id and SKU, prices, stock and limit always whole;
    the title column (with description and URL) folds."""
    from rich.text import Text

    from wxshop_cli import money, tables

    print_table(items, [
        tables.Col("item", lambda i: Text.assemble(i["id"], ("\n" + i["sku"], "dim"))),
        tables.Col("title", _item_cell, flexible=True),
        tables.Col("price", lambda i: money.display(i["price_fen"]), justify="right",
                   style="bold"),
        tables.Col("list", lambda i: money.display(i["list_price_fen"]), justify="right",
                   style="dim strike"),
        tables.Col("left", lambda i: str(i["stock_left"]), justify="right"),
        tables.Col("limit", lambda i: "" if i["per_buyer_limit"] is None
                   else str(i["per_buyer_limit"]), justify="right"),
    ], empty="no items yet")


def promo_panel(promo: dict[str, Any]) -> None:
    render_panel({**promo, "item_count": len(promo["items"])}, PROMO_COLUMNS[:-1],
                 title=f"Promotion {promo['code']}")
    item_table(promo["items"])


def promo_table(promos: list[dict[str, Any]]) -> None:
    """`promo list --all` on a terminal: the code, status and window always whole; the title
    (with the target regions under it) folds."""
    from rich.text import Text

    from wxshop_cli import clock, tables
    from wxshop_cli.config import current

    tz = current().tz

    def title(promo: dict[str, Any]) -> Text:
        where = ",".join(promo["regions"]) or "nationwide"
        return Text.assemble(promo["title"], ("\n" + where, "dim"))

    def window(promo: dict[str, Any]) -> str:
        return (clock.human(parse_time(promo["starts_at"]), tz) + "\n"
                + clock.human(parse_time(promo["ends_at"]), tz))

    print_table(promos, [
        tables.Col("code", lambda p: p["code"]),
        tables.Col("title / regions", title, flexible=True),
        tables.Col("status", lambda p: p["status"]),
        tables.Col("starts / ends", window),
        tables.Col("items", lambda p: str(len(p["items"])), justify="right"),
    ], title="Promotions", empty="no promotions yet")


def report_table(rows: list[dict[str, Any]], title: str) -> None:
    """A change report on a terminal: what changed (kind, key, item id, field) always whole;
    old and new values fold."""
    from rich.text import Text

    from wxshop_cli import tables

    def what(row: dict[str, Any]) -> Text:
        text = Text(f"{row['kind']} {row['key']}")
        for extra in (row.get("id"), row.get("field")):
            if extra:
                text.append("\n" + extra, style="dim")
        return text

    print_table(rows, [
        tables.Col("action", lambda r: r["action"]),
        tables.Col("what", what),
        tables.Col("old", lambda r: r["old"], flexible=True, style="dim"),
        tables.Col("new", lambda r: r["new"], flexible=True),
    ], title=title)


def emit_report(report, *, what: str) -> None:
    from wxshop_cli.config import current

    data = report.to_json()
    if current().json:
        print_json(data)
        return
    title = f"{what} {report.code}: {report.status}"
    emit(report.rows(), REPORT_COLUMNS, title=title,
         human=lambda rows: report_table(rows, title))
    notes = []
    if report.dry_run:
        notes.append("dry run: nothing was written (new items get their ids when published)")
    if not report.any_change:
        notes.append("no change")
    if report.notified:
        notes.append(f"pushed to {report.notified} buyer{'s' if report.notified != 1 else ''}")
    if notes:
        say("; ".join(notes))


def show_promos(promos: list[dict[str, Any]], *, every: bool) -> None:
    """`promo list`: JSON as it is; the buyer's strips, or with --all the merchant's table
    (TSV: one row per item, or per promotion with --all)."""
    from wxshop_cli.config import current
    from wxshop_cli.views.strips import print_strips

    if current().json:
        print_json(promos)
    elif every:
        emit([{**p, "item_count": len(p["items"])} for p in promos], PROMO_COLUMNS,
             title="Promotions", empty="no promotions yet", human=promo_table)
    else:
        emit(item_rows(promos), ITEM_COLUMNS, human=lambda _rows: print_strips(promos))


def show_promo(promo: dict[str, Any]) -> None:
    """`promo show`: JSON as it is; a panel and the items table; TSV one row per item."""
    from wxshop_cli.config import current

    if current().json:
        print_json(promo)
    else:
        emit(item_rows([promo]), ITEM_COLUMNS, human=lambda _rows: promo_panel(promo))
