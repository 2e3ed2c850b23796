"""Orders on the terminal: the JSON columns of `buy` and `orders` (TSV and panels), and the
result lines of `buy --from` (one JSON object or TSV row per purchase, as it commits)."""

from __future__ import annotations

import sys
from typing import Any

from wxshop_cli.output import Column

ORDER_COLUMNS = [
    Column("order_no", "order_no"), Column("status", "status"), Column("sku", "sku"),
    Column("title", "title"), Column("qty", "qty"), Column("amount", "amount_fen", "money"),
    Column("refunded", "refunded_fen", "money"), Column("card", "card_id"),
    Column("address", "address_id"), Column("transaction_id", "transaction_id"),
    Column("created_at", "created_at", "time"), Column("paid_at", "paid_at", "time"),
    Column("idempotency_key", "idempotency_key"), Column("replayed", "replayed", "bool"),
    Column("mobile", "mobile_masked"),  # a top-up's number, masked
]
LIST_COLUMNS = [Column("order_no", "order_no"), Column("status", "status"),
                Column("buyer", "buyer"), Column("sku", "sku"), Column("title", "title"),
                Column("qty", "qty"), Column("amount", "amount_fen", "money"),
                Column("refunded", "refunded_fen", "money"),
                Column("created_at", "created_at", "time")]
REFUND_COLUMNS = [Column("refund_no", "refund_no"), Column("order_no", "order_no"),
                  Column("amount", "amount_fen", "money"), Column("status", "status"),
                  Column("created_at", "created_at", "time"),
                  Column("replayed", "replayed", "bool")]
#: The refunds of `orders show` on a terminal (a table under the order's panel).
REFUND_LIST_COLUMNS = [Column("refund_no", "refund_no"), Column("amount", "amount_fen", "money"),
                       Column("status", "status"), Column("created_at", "created_at", "time"),
                       Column("reason", "reason")]


class RefundsColumn(Column):
    """`orders show` in a pipe: the order's refunds in one cell, `refund_no:amount:status`
    each, comma-separated (empty when there is none)."""

    def text(self, row: dict[str, Any], *, terminal: bool) -> str:
        from wxshop_cli import money

        return ",".join(f"{r['refund_no']}:{money.yuan(r['amount_fen'])}:{r['status']}"
                        for r in row.get(self.key) or [])


#: `orders show`: the order and its refunds (JSON: the `refunds` list).
SHOW_COLUMNS = [*ORDER_COLUMNS, RefundsColumn("refunds", "refunds")]


def show_order(order: dict[str, Any], title: str = "Order") -> None:
    """On a terminal: the order's panel, then its refunds as a table (if it has any)."""
    from wxshop_cli.output import render_panel, render_table

    render_panel(order, ORDER_COLUMNS, title=title)
    if order.get("refunds"):
        render_table(order["refunds"], REFUND_LIST_COLUMNS, title="Refunds")


SWEEP_COLUMNS = [Column("order_no", "order_no"), Column("outcome", "outcome")]
BATCH_COLUMNS = ["line", "exit_code", "status", "order_no", "amount", "buyer",
                 "idempotency_key", "replayed", "error"]


class BatchLines:
    """`buy --from`'s stdout: one JSON object per purchase with --json, else TSV rows under
    one header line (written with the first result)."""

    def __init__(self, *, json_output: bool) -> None:
        self.json_output = json_output
        self.header = not json_output

    def write(self, *, line_no: int, exit_code: int, buyer: str, key: str,
              order: dict[str, Any] | None, replayed: bool, error: Any) -> None:
        from wxshop_cli import money
        from wxshop_cli.output import dumps, tsv_cell

        if self.json_output:
            row = dict(order or {"buyer": buyer, "idempotency_key": key or None})
            row.update(line=line_no, exit_code=exit_code)
            if error is not None:
                row["error"] = error.to_json()["error"]
            sys.stdout.write(dumps(row) + "\n")
        else:
            if self.header:
                sys.stdout.write("\t".join(BATCH_COLUMNS) + "\n")
                self.header = False
            cells = [line_no, exit_code, order["status"] if order else "",
                     order["order_no"] if order else "",
                     money.yuan(order["amount_fen"]) if order else "", buyer, key,
                     "true" if replayed else "false", error.line() if error else ""]
            sys.stdout.write("\t".join(tsv_cell(str(c)) for c in cells) + "\n")
        sys.stdout.flush()


# ---------------------------------------------------------------- the one-screen buy


def address_line(address: dict[str, Any]) -> str:
    """`张三 138****8000 · 上海市 上海市 南京东路 1 号`: an address as a person reads it."""
    return (f"{address['contact']} {address['phone_masked']} · {address['region']} "
            f"{address['city']} {address['street']}")


def buy_panel(facts: dict[str, Any]) -> None:
    """On stderr, before the payment password: what will be bought, shipped where, paid with
    which card, and how many are left (the seed's one screen)."""
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    from wxshop_cli import money
    from wxshop_cli.output import err_console

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    price = Text(money.display(facts["price_fen"]))
    if facts["item_id"] is not None and facts["list_price_fen"] != facts["price_fen"]:
        price.append(f"  list {money.display(facts['list_price_fen'])}", style="dim strike")
    where = (f"promotion {facts['promo_code']} ({facts['item_id']})" if facts["item_id"]
             else "list price (no live promotion)")
    grid.add_row("item", Text(f"{facts['title']} ({facts['sku']})"))
    grid.add_row("", Text(where, style="dim"))
    grid.add_row("price", price)
    grid.add_row("quantity", Text(str(facts["qty"])))
    grid.add_row("total", Text(money.display(facts["total_fen"]), style="bold"))
    if facts["address"] is not None:
        grid.add_row("ship to", Text(address_line(facts["address"])))
    else:
        grid.add_row("top up", Text(f"mobile {facts['mobile_masked']}"))
    grid.add_row("pay with", Text(facts["card"]["display"]))
    grid.add_row("stock left", Text(f"{facts['stock_left']:,}"))
    err_console(talk=False).print(Panel(grid, title=Text("Confirm and pay"),
                                        title_align="left", expand=False))


def paid_panel(order: dict[str, Any], facts: dict[str, Any], title: str) -> None:
    """The result of a buy on a terminal: the order with its card and address as a person
    reads them (`中国工商银行 储蓄卡 (0000)`, not `card_…`); JSON and TSV keep the ids."""
    from wxshop_cli.output import render_panel

    shown = dict(order)
    if facts.get("card"):
        shown["card_id"] = facts["card"]["display"]
    if facts.get("address"):
        shown["address_id"] = address_line(facts["address"])
    render_panel(shown, ORDER_COLUMNS, title=title)
