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
