"""Generate a realistic Double 11 day: a WeChat Pay trade bill and the order book it belongs to.

    python bench/make_bill.py --rows 100000 --db bench.db --out bill.csv [--plant 10]
    python bench/make_bill.py --rows 1000000 --out bill.csv \
        --db 'postgresql+psycopg:///wxshop_bench?host=/var/run/postgresql'

`--rows` payments on 2013-11-11 (Beijing), most of them in the midnight rush, about 5% of them
refunded later that day (full or partial), at 0.60%. The book (buyers, orders, refunds) is
written straight into a database created by wxshop's own migrations, in bulk: one
`executemany` transaction on SQLite, `COPY` on PostgreSQL. The bill (ALL) is written by
`BillWriter` while the orders are generated, so neither side is held in memory.

`--plant K` plants K differences of every kind (a duplicated row, a bill payment with no
order, a book payment missing from the bill, K more just before midnight that are deferred,
an order the book closed unpaid, a wrong amount, a wrong refund amount, a wrong fee). What
`reconcile` must find is written beside the bill as `<out>.expected.json` and printed.

The database is created from scratch: an existing SQLite file is replaced, and the public
schema of a PostgreSQL database is dropped (use a database of its own, named *bench*).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from wxshop_cli.core.billformat import BillRow, BillWriter  # noqa: E402
from wxshop_cli.money import fee_fen  # noqa: E402

APP_ID = "wx8888888888888888"
MCH_ID = "1230000109"
RATE_PPM = 6000
DAY = dt.date(2013, 11, 11)
BEIJING = dt.timezone(dt.timedelta(hours=8))
MIDNIGHT = dt.datetime(2013, 11, 11, tzinfo=BEIJING)
BUYERS = 2000
BATCH = 10_000
CATALOG = [  # sku, title, price (fen) — the seed's Yixun Double 11 shelf
    ("YX-1001", "Apple iPhone 5s 16G", 399900), ("YX-1002", "小米 3 移动版 16G", 199900),
    ("YX-1003", "华为 荣耀3C", 79900), ("YX-2001", "三只松鼠 坚果礼盒", 7920),
    ("YX-2002", "良品铺子 零食大礼包", 9900), ("YX-2003", "百草味 夏威夷果 200g", 2590),
    ("YX-3001", "小米 移动电源 10400mAh", 6900), ("YX-3002", "美的 电饭煲 MB-FS4088", 29900),
    ("YX-3003", "九阳 豆浆机 DJ13B", 39900), ("YX-4001", "飞利浦 电动牙刷 HX6730", 49900),
    ("YX-4002", "罗技 无线鼠标 M185", 7900), ("YX-4003", "金士顿 U盘 16G", 3990),
]
BANKS = ["ICBC_DEBIT", "CMB_CREDIT", "CCB_DEBIT", "ABC_DEBIT", "BOC_CREDIT", "CMB_DEBIT",
         "SPDB_CREDIT", "OTHERS"]
REGIONS = ["310000", "440000", "110000", "330000", "320000", "510000", "420000", "370000"]
PLANT_KINDS = ("duplicate", "missing_in_book", "missing_in_bill", "status_mismatch",
               "amount_mismatch", "refund_mismatch", "fee_mismatch")


def sqlite_time(value: dt.datetime) -> str:
    """How SQLAlchemy stores a UTCDateTime on SQLite: naive UTC text with microseconds."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def payment_times(rng: random.Random, n: int) -> list[float]:
    """Seconds after midnight: 40% in the first hour's rush, the rest over the day, none in
    the last five minutes (those are planted separately)."""
    times = []
    for _ in range(n):
        if rng.random() < 0.4:
            times.append(rng.expovariate(1 / 900) % 3600)
        else:
            times.append(rng.uniform(0, 86400 - 301))
    times.sort()
    return times


class Book:
    """Bulk writer of the book: buyers, orders and refunds."""

    ORDER_COLUMNS = ("order_no", "buyer_id", "promo_id", "item_id", "sku", "title", "qty",
                     "unit_price_fen", "amount_fen", "refunded_fen", "card_id", "address_id",
                     "region_code", "status", "transaction_id", "idempotency_key",
                     "stock_returned", "created_at", "paid_at", "closed_at", "close_reason")
    REFUND_COLUMNS = ("refund_no", "order_no", "amount_fen", "status", "reason",
                      "gateway_refund_id", "created_at", "succeeded_at")

    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        self.postgres = make_url(url).get_backend_name() == "postgresql"
        self.orders: list[tuple] = []
        self.refunds: list[tuple] = []
        from wxshop_cli.db.engine import database

        db = database()
        self.raw = db.engine.raw_connection()
        self.conn = self.raw.driver_connection
        if self.postgres:
            self.cursor = self.conn.cursor()
            self._copy_orders = None
        else:
            self.conn.execute("PRAGMA synchronous=OFF")
            self.conn.execute("BEGIN IMMEDIATE")
        self._execute("UPDATE merchant_settings SET app_id = %s, mch_id = %s, "
                      "fee_rate_ppm = %s WHERE id = 1", (APP_ID, MCH_ID, RATE_PPM))
        rows = [(f"b{n:05d}", self._time(MIDNIGHT - dt.timedelta(days=30)), 0)
                for n in range(1, BUYERS + 1)]
        self._many("INSERT INTO buyer (name, created_at, pay_failures) VALUES (%s, %s, %s)",
                   rows)

    def _time(self, value: dt.datetime):
        return value if self.postgres else sqlite_time(value)

    def _sql(self, statement: str) -> str:
        return statement if self.postgres else statement.replace("%s", "?")

    def _execute(self, statement: str, params: tuple) -> None:
        if self.postgres:
            self.cursor.execute(statement, params)
        else:
            self.conn.execute(self._sql(statement), params)

    def _many(self, statement: str, rows: list[tuple]) -> None:
        if self.postgres:
            self.cursor.executemany(statement, rows)
        else:
            self.conn.executemany(self._sql(statement), rows)

    def _copy(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        if self.postgres:
            with self.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            self.conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                                  f"({marks})", rows)

    def order(self, order_no: str, buyer: int, sku: str, title: str, qty: int, unit: int,
              refunded: int, status: str, txn: str | None, paid_at: dt.datetime | None,
              created_at: dt.datetime, region: str) -> None:
        closed = status == "closed"
        self.orders.append((
            order_no, buyer, None, None, sku, title, qty, unit, unit * qty, refunded,
            f"card_b{buyer:05d}", f"addr_b{buyer:05d}", region, status, txn, None,
            closed, self._time(created_at), self._time(paid_at) if paid_at else None,
            self._time(created_at + dt.timedelta(minutes=15)) if closed else None,
            "payment_timeout" if closed else None))
        if len(self.orders) >= BATCH:
            self.flush()

    def refund(self, refund_no: str, order_no: str, amount: int, refund_id: str,
               at: dt.datetime) -> None:
        self.refunds.append((refund_no, order_no, amount, "success", "七天无理由退货",
                             refund_id, self._time(at), self._time(at)))

    def flush(self) -> None:
        """Orders first: refunds refer to them."""
        if self.orders:
            self._copy("orders", self.ORDER_COLUMNS, self.orders)
            self.orders.clear()
        if self.refunds:
            self._copy("refund", self.REFUND_COLUMNS, self.refunds)
            self.refunds.clear()

    def close(self) -> None:
        self.flush()
        if self.postgres:
            self.cursor.execute("ANALYZE")
            self.conn.commit()
        else:
            self.conn.execute("COMMIT")
            self.conn.execute("ANALYZE")
        self.raw.close()


def generate(rows: int, out: Path, url: str, plant: int, seed: int) -> dict:
    rng = random.Random(seed)
    book = Book(url)
    expected = dict.fromkeys(PLANT_KINDS, 0)
    expected["deferred"] = 0
    seq = 0

    def ids() -> tuple[str, str]:
        nonlocal seq
        seq += 1
        return f"D20131111{seq:010d}", f"420000000120131111{seq:010d}"

    times = payment_times(rng, rows)
    # Which payments get planted differences (distinct, none refunded).
    picks = rng.sample(range(rows), min(rows, plant * 6))
    planted = {}
    for n, kind in enumerate(("duplicate", "missing_in_book", "missing_in_bill",
                              "status_mismatch", "amount_mismatch", "fee_mismatch")):
        for index in picks[n * plant:(n + 1) * plant]:
            planted[index] = kind
    refunds_wanted = plant  # refund rows to plant a refund_mismatch on
    duplicates: list[BillRow] = []
    refund_rows: list[BillRow] = []
    refund_seq = 0
    with open(out, "w", encoding="utf-8", newline="") as handle:
        writer = BillWriter(handle, "ALL")
        for index, offset in enumerate(times):
            order_no, txn = ids()
            sku, title, price = CATALOG[min(int(rng.paretovariate(1.2)) - 1, len(CATALOG) - 1)]
            qty = 1 if rng.random() < 0.8 else rng.randint(2, 3)
            amount = price * qty
            buyer = rng.randint(1, BUYERS)
            paid = MIDNIGHT + dt.timedelta(seconds=offset)
            created = paid - dt.timedelta(seconds=rng.randint(1, 30))
            region = REGIONS[buyer % len(REGIONS)]
            kind = planted.get(index)
            row = BillRow(
                line_no=0, kind="payment", trade_time=paid.replace(tzinfo=None),
                app_id=APP_ID, mch_id=MCH_ID, sub_mch_id="0", transaction_id=txn,
                out_trade_no=order_no, openid=f"oWXSHOP_b{buyer:05d}", trade_type="JSAPI",
                trade_state="SUCCESS", bank_code=BANKS[buyer % len(BANKS)], currency="CNY",
                settlement_fen=amount, product=title, fee_fen=fee_fen(amount, RATE_PPM),
                rate_ppm=RATE_PPM, order_fen=amount)
            refunded = 0
            status = "paid"
            if kind is None and rng.random() < 0.05:
                refund_seq += 1
                refunded = amount if rng.random() < 0.6 else max(1, amount // 2)
                status = "refunded" if refunded == amount else "partially_refunded"
                at = paid + dt.timedelta(seconds=rng.uniform(0, (86400 - offset) - 1))
                refund_no = f"R20131111{refund_seq:010d}"
                refund_id = f"503000000120131111{refund_seq:011d}"
                book.refund(refund_no, order_no, refunded, refund_id, at)
                bill_refund = refunded
                if refunds_wanted and rng.random() < 0.5:
                    refunds_wanted -= 1
                    bill_refund = refunded - 1 if refunded > 1 else refunded + 1
                    expected["refund_mismatch"] += 1
                refund_rows.append(BillRow(
                    line_no=0, kind="refund", trade_time=at.replace(tzinfo=None),
                    app_id=APP_ID, mch_id=MCH_ID, sub_mch_id="0", transaction_id=txn,
                    out_trade_no=order_no, openid=row.openid, trade_type="JSAPI",
                    trade_state="REFUND", bank_code=row.bank_code, currency="CNY",
                    refund_id=refund_id, refund_no=refund_no, refund_fen=bill_refund,
                    refund_type="ORIGINAL", refund_status="SUCCESS", product=title,
                    fee_fen=-fee_fen(bill_refund, RATE_PPM), rate_ppm=RATE_PPM,
                    requested_refund_fen=bill_refund))
            if kind != "missing_in_book":
                if kind == "status_mismatch":
                    book.order(order_no, buyer, sku, title, qty, price, 0, "closed", None,
                               None, created, region)
                else:
                    book.order(order_no, buyer, sku, title, qty, price, refunded, status, txn,
                               paid, created, region)
            if kind == "amount_mismatch":
                bad = amount + 100
                row.settlement_fen = row.order_fen = bad
                row.fee_fen = fee_fen(bad, RATE_PPM)
            elif kind == "fee_mismatch":
                row.fee_fen += 1
            elif kind == "duplicate" and len(duplicates) < plant:
                duplicates.append(row)
            if kind is not None:
                expected[kind] += 1
            if kind != "missing_in_bill":
                writer.write(row)
        # Paid in the last five minutes, missing from this bill: deferred, not open.
        for _ in range(plant):
            order_no, txn = ids()
            sku, title, price = CATALOG[3]
            paid = MIDNIGHT + dt.timedelta(seconds=rng.uniform(86400 - 299, 86399))
            book.order(order_no, 1, sku, title, 1, price, 0, "paid", txn, paid,
                       paid - dt.timedelta(seconds=5), REGIONS[0])
            expected["deferred"] += 1
        for row in refund_rows:
            writer.write(row)
        for row in duplicates:
            writer.write(row)
        summary = writer.finish()
    book.close()
    return {"rows": summary.count, "payments": rows, "refunds": len(refund_rows),
            "expected": expected, "bill": str(out), "bytes": out.stat().st_size}


def prepare_database(url: str, home: Path) -> None:
    """A fresh database with wxshop's schema, migrated by wxshop itself."""
    from sqlalchemy.engine import make_url

    os.environ["WXSHOP_HOME"] = str(home)
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        from _shop import reset_postgres  # bench/_shop.py, beside this script

        reset_postgres(url)
    else:
        path = Path(parsed.database)
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    from wxshop_cli.config import Settings, activate
    from wxshop_cli.db.engine import database

    activate(Settings(db_option=url))
    database()


def database_url(target: str) -> str:
    return target if "://" in target else f"sqlite:///{Path(target).absolute()}"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="payments (default 100000)")
    parser.add_argument("--db", required=True, help="SQLite path or PostgreSQL URL (wiped)")
    parser.add_argument("--out", required=True, type=Path, help="the bill to write")
    parser.add_argument("--plant", type=int, default=10, help="differences of each kind")
    parser.add_argument("--seed", type=int, default=20131111)
    parser.add_argument("--home", type=Path, default=None,
                        help="WXSHOP_HOME for the secret key (default: beside the bill)")
    args = parser.parse_args(argv)
    if args.rows < args.plant * 7:
        parser.error("--rows must be at least 7 × --plant")
    url = database_url(args.db)
    home = args.home or args.out.absolute().parent / "home"
    started = time.perf_counter()
    prepare_database(url, home)
    facts = generate(args.rows, args.out, url, args.plant, args.seed)
    facts["seconds"] = round(time.perf_counter() - started, 1)
    facts["database"] = url
    facts["home"] = str(home)
    Path(str(args.out) + ".expected.json").write_text(json.dumps(facts, indent=2) + "\n")
    return facts


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
