"""Bank cards on the terminal: the JSON columns of `bind-card` and `cards` (TSV and panels)
and the card list table. Only masked facts ever reach these (SPEC section 5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wxshop_cli.output import Column

CARD_COLUMNS = [
    Column("id", "id"), Column("card", "display"), Column("number", "masked_number"),
    Column("type", "card_type"), Column("bank_code", "bank_code"),
    Column("default", "is_default", "bool"), Column("status", "status"),
]
BINDING_COLUMNS = [
    Column("binding_id", "binding_id"), Column("status", "status"), Column("card", "display"),
    Column("phone", "phone_masked"), Column("expires_at", "expires_at", "time"),
]


def card_table(rows: list[dict], title: str) -> None:
    """The terminal's card list: ids and numbers always whole (they are what you type); the
    card's name folds (its type, 储蓄卡/信用卡, is part of it) with the bank code under it;
    default and unbound show in one status column."""
    from rich.text import Text

    from wxshop_cli import tables
    from wxshop_cli.output import print_table

    def card(row: dict) -> Text:
        return Text.assemble(row["display"], ("\n" + row["bank_code"], "dim"))

    def status(row: dict) -> Text:
        if row["status"] != "bound":
            return Text(row["status"], style="dim")
        return Text("default", style="green") if row["is_default"] else Text("bound")

    print_table(rows, [
        tables.Col("id", lambda row: row["id"]),
        tables.Col("card", card, flexible=True),
        tables.Col("number", lambda row: row["masked_number"]),
        tables.Col("status", status),
    ], title=title, empty="no bound card (wxshop bind-card)")


def red_dot(unread: int) -> None:
    """The red dot of "My bank cards": how many promotion pushes are unread."""
    from rich.text import Text

    from wxshop_cli.output import out_console

    out_console().print(Text.assemble(
        ("● " if unread else "○ ", "bold red"), "我的银行卡 My bank cards  ",
        (f"{unread} unread promotion{'s' if unread != 1 else ''}" if unread
         else "nothing new", "bold"), ("  (wxshop inbox)" if unread else "", "dim")))


def show_cards(page: Any, page_info: bool, unread_promos: Callable[[], int]) -> None:
    """`cards list`: JSON, TSV, or on a terminal the red dot of "My bank cards" (unread
    promotion pushes, SPEC 7; `unread_promos()` is called only then) and the card table; a
    page like every list (views.paging)."""
    from wxshop_cli.output import emit
    from wxshop_cli.views.paging import page_out

    def screen(rows: list[dict]) -> None:
        red_dot(unread_promos())
        card_table(rows, "My bank cards")

    page_out(page, page_info, lambda rows: emit(
        rows, CARD_COLUMNS, title="My bank cards", empty="no bound card (wxshop bind-card)",
        human=screen))
