"""The buyer's view of live promotions: one strip per item (SPEC section 6), drawn with
Rich on a terminal. `strips` is shared by `promo list` and the demo; `stacked` (title,
description and URL on lines of their own) by the promotion and product tables."""

from __future__ import annotations

from typing import Any


def parse_time(value: str):
    """A JSON shape's ISO time back as a datetime."""
    from datetime import datetime

    return datetime.fromisoformat(value)


def strips(promos: list[dict[str, Any]]):
    """The buyer's view as a Rich renderable: per promotion a header line, then each item on
    one line — title, promo price, list price struck through, stock left, the item id (what
    `wxshop buy` takes), description, image URL. Prices, stock and the id are never cut: when
    the line is too long the description gives way first (it ends in `…`); narrower still,
    the title, description and URL stack in one column that folds, and on a very narrow
    terminal each item becomes a small block of lines. Shared by `promo list` and the demo."""
    return _Strips(promos)


#: Narrowest description kept on a one-line strip, and narrowest stacked text column.
_MIN_DESCRIPTION = 12
_MIN_STACK = 16


class _Strips:
    def __init__(self, promos: list[dict[str, Any]]) -> None:
        self.promos = promos

    def __rich_console__(self, console, options):
        from rich.text import Text

        from wxshop_cli import clock
        from wxshop_cli.config import current
        from wxshop_cli.core.regions import region_name

        tz = current().tz
        for promo in self.promos:
            where = ", ".join(region_name(code) for code in promo["regions"]) or "全国 nationwide"
            ends = clock.human(parse_time(promo["ends_at"]), tz)[:16]
            yield Text.assemble((promo["title"], "bold"), "  ", (promo["status"], "green"),
                                f"  until {ends}  ", (where, "dim"))
            yield from _strip_rows(promo["items"], options.max_width)


def _strip_cells(item: dict[str, Any]) -> dict[str, Any]:
    from wxshop_cli import money

    left = item["stock_left"]
    # A top-up says so: it is bought with `buy ITEM --mobile NUMBER`, not shipped.
    title = f"{item['title']} · 话费充值 top-up" if item.get("kind") == "topup" else item["title"]
    return {"title": title, "price": money.display(item["price_fen"]),
            "list": money.display(item["list_price_fen"]),
            "stock": "sold out" if left == 0 else f"{left} left", "id": item["id"],
            "description": item.get("description") or "", "url": item.get("image_url") or ""}


#: The fixed parts of a strip (never cut) and their styles.
_FIXED = (("price", "bold red", "right"), ("list", "dim strike", "right"),
          ("stock", "yellow", "left"), ("id", "cyan", "left"))


def _strip_rows(items: list[dict[str, Any]], width: int):
    from rich.cells import cell_len
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    rows = [_strip_cells(item) for item in items]
    natural = {key: max((cell_len(row[key]) for row in rows), default=0)
               for key in ("title", "price", "list", "stock", "id", "description", "url")}
    fixed = sum(natural[key] for key, _, _ in _FIXED)

    def table() -> Table:
        return Table(box=None, show_header=False, padding=(0, 1), pad_edge=False,
                     collapse_padding=True)

    def fixed_columns(grid: Table) -> None:
        for key, style, justify in _FIXED:
            grid.add_column(style=style, no_wrap=True, width=natural[key],
                            justify=justify)  # type: ignore[arg-type]

    # One line per item (7 columns, 6 gaps): the description gives way first.
    room = width - fixed - natural["title"] - natural["url"] - 6
    if room >= min(natural["description"], _MIN_DESCRIPTION):
        grid = table()
        grid.add_column(style="bold", no_wrap=True, width=natural["title"])
        fixed_columns(grid)
        grid.add_column(style="dim", no_wrap=True, overflow="ellipsis",
                        width=max(0, min(room, natural["description"])))
        grid.add_column(style="blue", no_wrap=True, width=natural["url"])
        for row in rows:
            grid.add_row(Text(row["title"]), row["price"], row["list"], row["stock"],
                         row["id"], Text(row["description"]), Text(row["url"]))
        yield grid
        return
    # Title, description and URL stacked in one folding column beside the fixed ones.
    room = width - fixed - 4
    if room >= _MIN_STACK:
        grid = table()
        grid.add_column(overflow="fold", width=min(room, max(natural["title"],
                                                            natural["description"],
                                                            natural["url"])))
        fixed_columns(grid)
        for row in rows:
            grid.add_row(stacked(row), row["price"], row["list"], row["stock"], row["id"])
        yield grid
        return
    # Very narrow: every item a block of lines, nothing cut.
    for row in rows:
        figures = Text.assemble((row["price"], "bold red"), " ", (row["list"], "dim strike"),
                                " ", (row["stock"], "yellow"), " ", (row["id"], "cyan"))
        yield Group(stacked(row), figures)


def stacked(row: dict[str, Any]):
    """Title, description and URL on lines of their own: the title and URL fold (nothing of
    them is lost), the description keeps to one line and gives way (`…`)."""
    from rich.console import Group
    from rich.text import Text

    lines = [Text(row["title"], style="bold", overflow="fold")]
    if row["description"]:
        lines.append(Text(row["description"], style="dim", no_wrap=True, overflow="ellipsis"))
    if row["url"]:
        lines.append(Text(row["url"], style="blue", overflow="fold"))
    return Group(*lines)


def print_strips(promos: list[dict[str, Any]]) -> None:
    from wxshop_cli.output import err_console, out_console

    if not promos:
        err_console().print("[dim]no live promotions[/dim]")
        return
    out_console().print(strips(promos))
