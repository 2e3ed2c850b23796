"""Helpers for the bill, reconciliation and report tests: a Double 11 day of real purchases
through the CLI, bills exported by the CLI, and bills edited the way an operator's script
would (read the rows, change them, write them back with a summary that adds up)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests import shop
from tests.shop import PAY, buy, ok  # noqa: F401  (the bill tests import them from here too)
from wxshop_cli.core.billformat import BillReader, BillRow, BillWriter, open_bill
from wxshop_cli.money import fee_fen

DAY = "2013-11-11"
APP_ID = "wx8888888888888888"
MCH_ID = "1230000109"




def refund(cli: Any, order_no: str, amount: str, now: str, *args: str) -> dict[str, Any]:
    return ok(cli("--json", "--now", now, "orders", "refund", order_no, "--amount", amount,
                  *args))


def open_day(cli: Any) -> dict[str, Any]:
    """The merchant of docs/bills-wechat.md's example, a live Double 11 promotion and three buyers.

    `me` pays with an approving card (Shanghai), `li` with a declined one, `tm` with the card
    whose bank times out (Guangdong)."""
    db = shop.open_db()
    ok(cli("--json", "merchant", "set", "--app-id", APP_ID, "--mch-id", MCH_ID))
    shop.product(db, "YX-1001", 528800, title="Apple iPhone 5s 16G")
    shop.product(db, "YX-2001", 9900, title="三只松鼠 坚果礼盒")
    shop.product(db, "YX-3001", 19900, stock=10, title="小米 移动电源")
    items = shop.promo(db, "double11", [
        {"sku": "YX-1001", "price_fen": 399900, "stock": 10, "limit": 2},
        {"sku": "YX-2001", "price_fen": 7920, "stock": 100},
    ])
    people = {"me": shop.shopper(db, "me"), "li": shop.shopper(db, "li", "decline"),
              "tm": shop.shopper(db, "tm", "timeout", region="440000")}
    return {"db": db, "items": items, "people": people}


def paid_day(cli: Any) -> dict[str, Any]:
    """Two payments and a refund on 2013-11-11 (as docs/bills-wechat.md's example), plus a declined
    order that is never billed."""
    shop_ = open_day(cli)
    items = shop_["items"]
    phone = buy(cli, items["YX-1001"], now="2013-11-11T10:02:11+08:00")
    snacks = buy(cli, items["YX-2001"], now="2013-11-11T10:05:40+08:00")
    declined = buy(cli, items["YX-2001"], buyer="li", now="2013-11-11T11:00:00+08:00", code=6)
    back = refund(cli, phone["order_no"], "1000", "2013-11-11T15:30:00+08:00")
    return {**shop_, "phone": phone, "snacks": snacks, "declined": declined["order_no"],
            "refund": back}


def export(cli: Any, path: Path, *args: str, date: str = DAY) -> Path:
    ok(cli("--json", "bill", "export", "--date", date, "-o", str(path), *args))
    return path


def rows_of(path: Path) -> tuple[str, list[BillRow]]:
    with open_bill(path) as source, source.open() as stream:
        reader = BillReader(stream)
        return reader.bill_type, list(reader)


def write_rows(path: Path, bill_type: str, rows: list[BillRow]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = BillWriter(out, bill_type)
        writer.write_rows(rows)
        writer.finish()
    return path


def edit(src: Path, dst: Path, change: Callable[[list[BillRow]], list[BillRow] | None]) -> Path:
    """Rewrite a bill after `change` edits its rows (in place or by returning new ones); the
    summary is recomputed, as an operator's script would."""
    bill_type, rows = rows_of(src)
    changed = change(rows)
    return write_rows(dst, bill_type, rows if changed is None else changed)


def copy(row: BillRow, **changes: Any) -> BillRow:
    return dataclasses.replace(row, **changes)


def payment(rows: list[BillRow], out_trade_no: str) -> BillRow:
    return next(r for r in rows if r.kind == "payment" and r.out_trade_no == out_trade_no)


def with_amount(row: BillRow, fen: int) -> BillRow:
    """A payment row for another amount, its fee recomputed (so only the amount differs)."""
    return copy(row, settlement_fen=fen, order_fen=fen, fee_fen=fee_fen(fen, row.rate_ppm))


def transaction_id(n: int) -> str:
    return f"42000000012013111199{n:08d}"


def reconcile(cli: Any, path: Path | str, *args: str, code: int = 0,
              input: str | bytes | None = None) -> dict[str, Any]:
    result = cli("--json", "reconcile", str(path), *args, input=input)
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    return json.loads(result.stdout)


def runs(cli: Any) -> list[dict[str, Any]]:
    return ok(cli("--json", "reconciliations", "list"))
