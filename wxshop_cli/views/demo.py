"""The demo on a terminal: each chapter a panel. Chapters (wxshop_cli/demo/) say what to
show as `label, value` facts (values are Rich markup), the buyer's strips under the red dot,
or a discrepancy table; these functions make the renderables."""

from __future__ import annotations

from typing import Any

Fact = tuple[str, str]


def facts(rows: list[Fact], *, fold: bool = False):
    """A two-column grid: a label, then its value (Rich markup; folding when `fold`)."""
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    if fold:
        table.add_column()
        table.add_column(overflow="fold")
    for label, value in rows:
        table.add_row(label, value)
    return table


def red_dot(buyer: str, unread: int, promos: list[dict[str, Any]]):
    """What the buyer sees: the red dot on "My bank cards", then the live strips."""
    from rich.console import Group
    from rich.text import Text

    from wxshop_cli.views.strips import strips

    dot = Text.assemble(("● " if unread else "○ ", "bold red"), "我的银行卡 My bank cards  ",
                        (f"{unread} unread" if unread else "nothing new", "bold"),
                        f"  (buyer {buyer})")
    return Group(dot, Text(""), strips(promos))


def found(what: str, run: dict[str, Any]):
    """A planted difference and what reconciliation found: a head, then each discrepancy."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from wxshop_cli.money import display

    def amount(fen: int | None) -> str:
        return display(fen) if fen is not None else ""

    table = Table(header_style="bold", box=None, padding=(0, 2))
    for header in ("kind", "line", "order", "bill", "book", "detail"):
        table.add_column(header, justify="right" if header in ("bill", "book") else "left")
    for item in run["discrepancies"]:
        table.add_row(f"[red]{item['kind']}[/red]", str(item["line_no"] or ""),
                      item["out_trade_no"] or "", amount(item["bill_amount_fen"]),
                      amount(item["book_amount_fen"]), item["detail"])
    from wxshop_cli.output import counted

    head = Text.assemble("planted: ", (what, "bold"), "\n",
                         f"wxshop reconcile: {run['matched']:,} of "
                         f"{counted(run['rows'], 'row')} matched, {run['open']:,} open "
                         "(exit 8)\n")
    return Group(head, table)


def fact_text(value: Any, *, nested: bool = False) -> str:
    """A chapter fact as a TSV cell says it: lists comma-joined, mappings as `key:value`
    pairs (a mapping inside one in parentheses, an empty one `none`), booleans true/false,
    nothing for None (never a Python repr such as `['310000', '440000']`, `{'paid': 2}` or
    `True`)."""
    if value is None:
        return ""
    if isinstance(value, dict):
        if nested and not value:
            return "none"
        pairs = ",".join(f"{key}:{fact_text(inner, nested=True)}"
                         for key, inner in value.items())
        return f"({pairs})" if nested else pairs
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | set):
        return ",".join(fact_text(v) for v in value)
    return str(value)


def fact_line(summary: dict[str, Any]) -> str:
    """A chapter's summary in one TSV cell: `key=value; key=value`."""
    return "; ".join(f"{key}={fact_text(value)}" for key, value in summary.items())


def print_chapter(number: int, chapter: Any) -> None:
    """One chapter as a panel on stdout (its summary, pretty-printed, if it draws nothing)."""
    from rich.panel import Panel
    from rich.pretty import Pretty

    from wxshop_cli.output import out_console

    body = chapter.view() if chapter.view is not None else Pretty(chapter.summary)
    out_console().print(Panel(body, title=f"{number}. {chapter.title}", title_align="left"))
