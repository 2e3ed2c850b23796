"""Do `orders list` and `report sales` stay flat as the book grows? (issue 10)

    python bench/growth.py                          # 10k, 100k and 1M orders on SQLite
    python bench/growth.py --sizes 10000,100000     # quicker
    python bench/growth.py --engine postgresql \\
        --pg-url 'postgresql+psycopg:///wxshop_growth_bench?host=/var/run/postgresql'

For each size a book is written straight into tables of a database made by wxshop's own
migrations (as bench/make_bill.py does): a Double 11 shop selling 10,000 orders a day, one
promotion a day, a buyer for every 20 orders, 85% of orders paid (some of them refunded) and
15% closed unpaid. The smallest book is one day; the million is a hundred days.

Each query is the one its command runs, in process (the service call and the JSON the
command prints; start-up is bench/startup.py's business), timed as the median of several
rounds that alternate between the books, so load on the machine falls on all sizes alike:

- `orders list` for the acting buyer, and `--all` with no filter, `--status closed`,
  `--promo` (the first day's promotion: the oldest orders), `--date` (the first day);
- `report sales --by` each grouping for one day (`--date`, the first day) and for the whole
  book (no `--date`).

Printed: each query's time at every size and the ratio largest / smallest (target ≤ 1.5×).
A report over the whole book reads every sold order, so it grows with the book by nature:
its ratio is printed for the record, not against the target. A PostgreSQL database given with
--pg-url is WIPED (its public schema); its name must contain "bench".
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PER_DAY = 10_000
ORDERS_PER_BUYER = 20
FIRST_DAY = dt.datetime(2013, 11, 11, tzinfo=ZoneInfo("Asia/Shanghai"))
TZ = ZoneInfo("Asia/Shanghai")
CATALOG = [("YX-1001", "Apple iPhone 5s 16G", 399900), ("YX-2001", "三只松鼠 坚果礼盒", 7920),
           ("YX-3001", "小米 移动电源 10400mAh", 6900), ("YX-4002", "罗技 无线鼠标 M185", 7900)]
REGIONS = ["310000", "440000", "110000", "330000", "320000", "510000"]
TARGET = 1.5


def sqlite_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def build(url: str, home: Path, orders: int) -> None:
    """Write a book of `orders` orders into a fresh database at `url`."""
    from wxshop_cli import config
    from wxshop_cli.db import engine

    os.environ["WXSHOP_HOME"] = str(home)
    engine.forget()
    config.activate(config.Settings(db_option=url))
    db = engine.database()
    postgres = db.dialect == "postgresql"
    stamp = (lambda v: v) if postgres else sqlite_time
    raw = db.engine.raw_connection()
    conn = raw.driver_connection
    cursor = conn.cursor()
    if not postgres:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN IMMEDIATE")

    def many(table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        if postgres:
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                             rows)

    rng = random.Random(11)
    buyers = max(1, orders // ORDERS_PER_BUYER)
    before = stamp(FIRST_DAY - dt.timedelta(days=30))
    many("buyer", ("id", "name", "created_at", "pay_failures"),
         [(n, "bench" if n == 1 else f"b{n:07d}", before, 0) for n in range(1, buyers + 1)])
    days = max(1, orders // PER_DAY)
    many("promo", ("id", "code", "title", "starts_at", "ends_at", "state", "created_at",
                   "updated_at"),
         [(k + 1, f"d{k:03d}", "双11精选商品", stamp(FIRST_DAY + dt.timedelta(days=k)),
           stamp(FIRST_DAY + dt.timedelta(days=k + 1)), "published", before, before)
          for k in range(days)])
    columns = ("order_no", "buyer_id", "promo_id", "item_id", "sku", "title", "qty",
               "unit_price_fen", "amount_fen", "refunded_fen", "card_id", "address_id",
               "region_code", "status", "transaction_id", "idempotency_key", "stock_returned",
               "created_at", "paid_at", "closed_at", "close_reason")
    batch: list[tuple] = []
    step = 86400 / PER_DAY
    for n in range(orders):
        day, nth = divmod(n, PER_DAY)
        created = FIRST_DAY + dt.timedelta(days=day, seconds=nth * step)
        sku, title, price = rng.choice(CATALOG)
        roll = rng.random()
        status = ("closed" if roll < 0.15 else "refunded" if roll < 0.20
                  else "partially_refunded" if roll < 0.22 else "paid")
        paid = status != "closed"
        refunded = price if status == "refunded" else price // 2 if status[0] == "p" and \
            status != "paid" else 0
        batch.append((f"D{n:013d}", rng.randint(1, buyers), day + 1, None, sku, title, 1,
                      price, price, refunded, "card_x", "addr_x", rng.choice(REGIONS), status,
                      f"42{n:026d}" if paid else None, None, not paid, stamp(created),
                      stamp(created + dt.timedelta(seconds=3)) if paid else None,
                      stamp(created + dt.timedelta(minutes=15)) if not paid else None,
                      None if paid else "payment_timeout"))
        if len(batch) >= 20_000:
            many("orders", columns, batch)
            batch.clear()
    many("orders", columns, batch)
    if postgres:
        cursor.execute("SELECT setval('buyer_id_seq', %s)", (buyers,))
        cursor.execute("SELECT setval('promo_id_seq', %s)", (days,))
        conn.commit()
        conn.autocommit = True
        cursor.execute("VACUUM ANALYZE")
        conn.autocommit = False
    else:
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    raw.close()
    engine.forget()


def queries() -> dict[str, object]:
    """Name → function(session) that does what the command does (service + JSON)."""
    from sqlalchemy import select

    from wxshop_cli.core import orders, reports
    from wxshop_cli.core.buyers import find_buyer
    from wxshop_cli.db.models import Promo

    start = FIRST_DAY
    bounds = (start.astimezone(dt.UTC), (start + dt.timedelta(days=1)).astimezone(dt.UTC))

    def orders_list(buyer=False, status=None, promo=None, day=None):
        def run(session):
            buyer_id = find_buyer(session, "bench").id if buyer else None
            promo_id = session.execute(select(Promo.id).where(Promo.code == promo)).scalar() \
                if promo else None
            found = orders.list_orders(session, buyer_id=buyer_id, status=status,
                                       promo_id=promo_id, day_bounds=day, limit=1000).rows
            return json.dumps(orders.public_many(session, found, TZ), default=str)
        return run

    def sales(by, day):
        def run(session):
            return json.dumps(reports.sales(session, by, TZ, day), default=str)
        return run

    found: dict[str, object] = {
        "orders list (acting buyer)": orders_list(buyer=True),
        "orders list --all": orders_list(),
        "orders list --all --status closed": orders_list(status="closed"),
        "orders list --all --promo d000": orders_list(promo="d000"),
        "orders list --all --date 2013-11-11": orders_list(day=bounds),
    }
    for by in reports.GROUPINGS:
        found[f"report sales --by {by} --date 2013-11-11"] = sales(by, FIRST_DAY.date())
    for by in reports.GROUPINGS:
        found[f"report sales --by {by} (whole book)"] = sales(by, None)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description="Lists and reports as the book grows.")
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="orders per book, comma list (default 10k,100k,1M)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("WXSHOP_BENCH_PG_URL"),
                        help="PostgreSQL database to WIPE and use (name must contain bench); "
                             "it holds one book, so give one size per run")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    sizes = [int(n.replace("_", "")) for n in args.sizes.split(",")]
    if args.engine == "postgresql":
        if not args.pg_url or "bench" not in args.pg_url.split("?")[0].rsplit("/", 1)[-1]:
            parser.error("--engine postgresql needs --pg-url of a database named *bench*")
        if len(sizes) > 1:
            parser.error("one PostgreSQL database holds one book: give one size per run")

    from wxshop_cli.config import Settings, activate
    from wxshop_cli.db.engine import Database

    with tempfile.TemporaryDirectory(prefix="wxshop-growth-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        home = work / "home"
        dbs = {}
        for size in sizes:
            url = args.pg_url if args.engine == "postgresql" else str(work / f"book-{size}.db")
            if args.engine == "postgresql":
                from _shop import reset_postgres  # bench/_shop.py, beside this script

                reset_postgres(args.pg_url)
            else:
                Path(url).unlink(missing_ok=True)
            started = time.perf_counter()
            print(f"building {size:,} orders …", file=sys.stderr, flush=True)
            build(url, home, size)
            print(f"  {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
            settings = Settings(db_option=url)
            activate(settings)
            dbs[size] = Database(settings)
        timings: dict[str, dict[int, list[float]]] = {}
        for name, query in queries().items():
            per = timings[name] = {size: [] for size in sizes}
            for size in sizes:  # warm-up: page cache and compiled SQL
                with dbs[size].transaction(read_only=True) as session:
                    query(session)
            for round_no in range(args.rounds):
                order = sizes if round_no % 2 == 0 else sizes[::-1]
                for size in order:
                    with dbs[size].transaction(read_only=True) as session:
                        started = time.perf_counter()
                        query(session)
                        per[size].append(time.perf_counter() - started)
        for db in dbs.values():
            db.dispose()
    low, high = sizes[0], sizes[-1]
    print(f"\n{args.engine}: median ms per query at "
          + ", ".join(f"{s:,}" for s in sizes) + f" orders; ratio {high:,} / {low:,}")
    for name, per in timings.items():
        medians = {size: statistics.median(per[size]) for size in sizes}
        ratio = medians[high] / medians[low]
        whole = "whole book" in name
        verdict = "record" if whole else ("ok  " if ratio <= TARGET else "OVER")
        shown = "  ".join(f"{medians[s] * 1000:8.1f}" for s in sizes)
        print(f"{verdict:6} {ratio:6.2f}×  {shown}   {name}", flush=True)


if __name__ == "__main__":
    main()
