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


def report_table(rows: list[dict[str, Any]], title: str,
                 exposure: dict[str, Any] | None = None) -> None:
    """A change report on a terminal: what changed (kind, key, item id, field) always whole;
    old and new values fold. Then the worst case of a publish, in a table of its own."""
    from rich.text import Text

    from wxshop_cli import tables

    rows = [row for row in rows if row["action"] != "exposure"]  # TSV rows; a table below

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
    if exposure is not None:
        exposure_table(exposure)


def exposure_table(exposure: dict[str, Any]) -> None:
    """The worst case of a promotion (core.promos.exposure) on a terminal: per item stock ×
    discount, what one buyer can take, the promotions it overlaps; the total in the title.
    SKUs and amounts are never cut."""
    from wxshop_cli import tables
    from wxshop_cli.money import display

    def overlaps(item: dict[str, Any]) -> str:
        return "\n".join(f"{o['code']} ({o['status']}, {display(o['price_fen'])})"
                         for o in item["overlaps"]) or "—"

    def per_buyer(item: dict[str, Any]) -> str:
        limit = "" if item["per_buyer_limit"] is not None else " (no limit)"
        return f"{item['per_buyer_units']}{limit}\n{display(item['per_buyer_fen'])}"

    print_table(exposure["items"], [
        tables.Col("sku", lambda i: i["sku"]),
        tables.Col("stock × discount", lambda i: f"{i['stock']} × "
                   f"{display(i['discount_fen'])}", justify="right"),
        tables.Col("worst case", lambda i: display(i["exposure_fen"]), justify="right"),
        tables.Col("one buyer", per_buyer, justify="right"),
        tables.Col("overlaps", overlaps, flexible=True),
    ], title=f"Worst case: {display(exposure['total_fen'])} if every unit sells")


def report_notes(report) -> list[str]:
    """The stderr line after a change report: dry run, no change, the push (a dry run pushes
    nothing: it *would* push), the worst case."""
    from wxshop_cli.money import display

    notes = []
    if report.dry_run:
        notes.append("dry run: nothing was written (new items get their ids when published)")
    if not report.any_change:
        notes.append("no change")
    if report.notified:
        buyers = f"{report.notified} buyer{'s' if report.notified != 1 else ''}"
        notes.append(f"would push to {buyers}" if report.dry_run else f"pushed to {buyers}")
    if report.exposure is not None:
        exposure = report.exposure
        notes.append(f"worst case {display(exposure['total_fen'])} of discount if every unit "
                     "sells" + (f"; {exposure['overlapping_items']} item(s) also on offer in "
                                "another promotion" if exposure["overlapping_items"] else ""))
    return notes


def emit_report(report, *, what: str) -> None:
    from wxshop_cli.config import current

    data = report.to_json()
    if current().json:
        print_json(data)
        return
    title = f"{what} {report.code}: {report.status}"
    emit(report.rows(), REPORT_COLUMNS, title=title,
         human=lambda rows: report_table(rows, title, report.exposure))
    notes = report_notes(report)
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
