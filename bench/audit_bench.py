"""Benchmark `wxshop audit` on a big book against a one-scan baseline.

    python bench/audit_bench.py                            # 100,000 orders on SQLite
    python bench/audit_bench.py --orders 100000,1000000    # both sizes: is memory flat?
    python bench/audit_bench.py --engine postgresql \\
        --pg-url 'postgresql+psycopg:///wxshop_bench?host=/var/run/postgresql'

For each size a Double 11 book is written straight into a database that wxshop's migrations
created (`executemany` on SQLite, `COPY` on PostgreSQL, as bench/make_bill.py does): one
buyer per ten orders with a bound card and the promotion's push, twelve promo items (half of
them with a per-buyer limit, with the buyers' counters), 2% of the orders at list price, 8%
refused (closed, stock given back), 5% of the paid ones refunded in full or in part, the
gateway's payments and refunds, and an idempotency key per order. `--plant K` plants K
violations of five kinds (a gateway payment of another amount, an order's refunded_fen off by
a fen, a finished key without outcome, a gateway payment without order, a bound card unknown
to the gateway); the run checks that the audit counts exactly those.

Two child processes then run on the same database, one after the other (bench/
reconcile_bench.py's launcher records each child's own peak resident set):

- the **baseline** opens the database with SQLAlchemy and runs one aggregate over the orders
  (`SELECT count(*), sum(amount_fen) FROM orders`) — the least any check of the book must do;
- **audit** is the real command, `python -m wxshop_cli --json audit`.

Printed: seconds and peak memory of both, the ratios audit / baseline, and with several sizes
audit's peak memory at the largest size as a ratio of the smallest. A PostgreSQL database
given with --pg-url is WIPED (its public schema); its name must contain "bench" unless
`--wipe` says it may be wiped anyway.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from make_bill import CATALOG, MIDNIGHT, Book, database_url, prepare_database  # noqa: E402
from reconcile_bench import run_child  # noqa: E402

from wxshop_cli.money import fee_fen  # noqa: E402

RATE_PPM = 6000
BATCH = 20_000
LIMIT = 1000  # per buyer, on every other item: never reached by the generated crowd
PLANT_KINDS = ("payment_amount_mismatch", "refunded_fen_mismatch", "key_without_outcome",
               "payment_without_order", "card_unknown_to_gateway")
AUDIT_NOW = "2013-11-12T12:00:00+08:00"

BASELINE = r"""
import sys
from sqlalchemy import create_engine, text
engine = create_engine(sys.argv[1])
with engine.connect() as conn:
    print(*conn.execute(text("SELECT count(*), sum(amount_fen) FROM orders")).one())
"""


class AuditBook(Book):
    """The bulk writer of bench/make_bill.py, writing the whole book an audit looks at."""

    def __init__(self, url: str) -> None:  # (not Book's: no buyers of its own)
        from sqlalchemy.engine import make_url

        from wxshop_cli.db.engine import database

        self.postgres = make_url(url).get_backend_name() == "postgresql"
        self.raw = database().engine.raw_connection()
        self.conn = self.raw.driver_connection
        if self.postgres:
            self.cursor = self.conn.cursor()
        else:
            self.conn.execute("PRAGMA synchronous=OFF")
            self.conn.execute("BEGIN IMMEDIATE")
        self.rows: dict[str, tuple[tuple[str, ...], list[tuple]]] = {}

    def add(self, table: str, columns: tuple[str, ...], row: tuple) -> None:
        batch = self.rows.setdefault(table, (columns, []))[1]
        batch.append(row)
        if len(batch) >= BATCH:
            if table == "refund":
                self.flush("orders")  # refunds refer to their orders
            self._copy(table, columns, batch)
            batch.clear()

    def flush(self, *tables: str) -> None:
        for table in tables or tuple(self.rows):
            if table in self.rows:
                columns, batch = self.rows[table]
                if batch:
                    self._copy(table, columns, batch)
                    batch.clear()

    def close(self) -> None:
        self.flush()
        super().close()


def generate(orders: int, url: str, plant: int, seed: int) -> dict[str, int]:
    """Write the book; return the planted violations by kind."""
    rng = random.Random(seed)
    book = AuditBook(url)
    t = book._time
    yes, no = (True, False) if book.postgres else (1, 0)
    buyers = max(100, orders // 10)
    start = MIDNIGHT - dt.timedelta(days=30)
    planted = Counter()

    book._execute("UPDATE merchant_settings SET fee_rate_ppm = %s WHERE id = 1", (RATE_PPM,))
    for sku, title, price in CATALOG:
        book.add("product", ("sku", "title", "list_price_fen", "stock", "image_url",
                             "description", "created_at", "updated_at"),
                 (sku, title, price, 10**9, "", "", t(start), t(start)))
    book.flush("product")
    book._execute("INSERT INTO promo (id, code, title, starts_at, ends_at, state, notified_at, "
                  "created_at, updated_at) VALUES (1, 'double11-bench', '双11', %s, %s, "
                  "'published', %s, %s, %s)", (t(MIDNIGHT), t(MIDNIGHT + dt.timedelta(days=1)),
                                               t(start), t(start), t(start)))
    for n in range(1, buyers + 1):
        card = f"card_b{n:07d}"
        book.add("buyer", ("id", "name", "created_at", "pay_failures"),
                 (n, f"b{n:07d}", t(start), 0))
        book.add("card", ("id", "buyer_id", "fingerprint", "is_test", "holder_masked",
                          "phone_masked", "status", "bound_at", "brand", "bank", "bank_code",
                          "card_type", "first6", "last4", "is_default"),
                 (card, n, f"fp{n}", yes, "*雷", "138****8001", "bound", t(start), "unionpay",
                  "中国工商银行", "ICBC_DEBIT", "debit", "622202", "0000", yes))
        if n <= plant:
            planted["card_unknown_to_gateway"] += 1
        else:
            book.add("gw_card", ("token", "behaviour", "bank_code", "single_limit_fen",
                                 "daily_limit_fen", "created_at"),
                     (card, "approve", "ICBC_DEBIT", 5_000_000, 20_000_000, t(start)))
        book.add("inbox_message", ("id", "buyer_id", "kind", "text", "promo_id", "read",
                                   "created_at"),
                 (f"msg_b{n:07d}", n, "promo", "双11 开抢", 1, no, t(MIDNIGHT)))
    book.flush("buyer")

    items = [(f"item_{i:02d}", sku, title, price * 9 // 10, LIMIT if i % 2 == 0 else None)
             for i, (sku, title, price) in enumerate(CATALOG)]
    sold = Counter()
    used: Counter[tuple[int, str]] = Counter()
    list_sold = Counter()
    refund_seq = 0
    order_cols = Book.ORDER_COLUMNS
    refund_cols = Book.REFUND_COLUMNS
    for n in range(1, orders + 1):
        buyer = rng.randint(1, buyers)
        created = MIDNIGHT + dt.timedelta(seconds=rng.uniform(0, 86000))
        order_no = f"D20131111{n:010d}"
        qty = 1 if rng.random() < 0.8 else rng.randint(2, 3)
        pick = min(int(rng.paretovariate(1.2)) - 1, len(items) - 1)
        item_id, sku, title, unit, limit = items[pick]
        if rng.random() < 0.02:  # at list price
            item_id, unit = None, CATALOG[pick][2]
        amount = unit * qty
        closed = rng.random() < 0.08
        status, refunded, txn = "paid", 0, None
        if closed:
            status = "closed"
        else:
            txn = f"420000000120131111{n:010d}"
            if rng.random() < 0.05:
                refunded = amount if rng.random() < 0.6 else max(1, amount // 2)
                status = "refunded" if refunded == amount else "partially_refunded"
        if not closed:
            if item_id is None:
                list_sold[sku] += qty
            else:
                sold[item_id] += qty
                if limit is not None:
                    used[(buyer, item_id)] += qty
        book_refunded = refunded
        if status == "partially_refunded" and planted["refunded_fen_mismatch"] < plant:
            planted["refunded_fen_mismatch"] += 1
            book_refunded += 1
        book.add("orders", order_cols, (
            order_no, buyer, 1 if item_id else None, item_id, sku, title, qty, unit, amount,
            book_refunded, f"card_b{buyer:07d}", f"addr_b{buyer:07d}", "310000", status, txn,
            f"key-{n}", yes if closed else no, t(created),
            None if closed else t(created), t(created) if closed else None,
            "declined" if closed else None))
        gw_amount = amount
        if status == "paid" and planted["payment_amount_mismatch"] < plant:
            planted["payment_amount_mismatch"] += 1
            gw_amount += 1
        book.add("gw_payment", ("out_trade_no", "transaction_id", "openid", "card_token",
                                "bank_code", "product", "amount_fen", "fee_fen", "rate_ppm",
                                "status", "failure_code", "created_at", "paid_at"), (
            order_no, txn, f"oWXSHOP_b{buyer:07d}", f"card_b{buyer:07d}", "ICBC_DEBIT", title,
            gw_amount, 0 if closed else fee_fen(gw_amount, RATE_PPM), RATE_PPM,
            "FAILED" if closed else "SUCCESS", "declined" if closed else None, t(created),
            None if closed else t(created)))
        book.add("idempotency_key", ("buyer_id", "key", "request_hash", "state", "order_no",
                                     "exit_code", "claimed_at", "expires_at"), (
            buyer, f"key-{n}", "0" * 64, "done", order_no, 6 if closed else 0, t(created),
            t(created + dt.timedelta(days=1))))
        if refunded:
            refund_seq += 1
            at = created + dt.timedelta(seconds=60)
            refund_no = f"R20131111{refund_seq:010d}"
            refund_id = f"503000000120131111{refund_seq:011d}"
            book.add("refund", refund_cols, (refund_no, order_no, refunded, "success",
                                             "七天无理由退货", refund_id, t(at), t(at)))
            book.add("gw_refund", ("refund_id", "out_refund_no", "out_trade_no", "amount_fen",
                                   "fee_fen", "status", "created_at", "succeeded_at"), (
                refund_id, refund_no, order_no, refunded, -fee_fen(refunded, RATE_PPM),
                "SUCCESS", t(at), t(at)))
        if n % BATCH == 0:
            book.flush("orders")  # refunds refer to their orders
    book.flush("orders")
    for k in range(plant):
        planted["key_without_outcome"] += 1
        book.add("idempotency_key", ("buyer_id", "key", "request_hash", "state", "order_no",
                                     "exit_code", "claimed_at", "expires_at"), (
            1, f"empty-{k}", "0" * 64, "done", None, None, t(MIDNIGHT),
            t(MIDNIGHT + dt.timedelta(days=1))))
        planted["payment_without_order"] += 1
        book.add("gw_payment", ("out_trade_no", "transaction_id", "openid", "card_token",
                                "bank_code", "product", "amount_fen", "fee_fen", "rate_ppm",
                                "status", "failure_code", "created_at", "paid_at"), (
            f"D20131112{k:010d}", f"420000000120131112{k:010d}", "oWXSHOP_b0000001",
            "card_b0000001", "ICBC_DEBIT", "x", 100, 1, RATE_PPM, "SUCCESS", None,
            t(MIDNIGHT), t(MIDNIGHT)))
    for position, (item_id, sku, _title, price, limit) in enumerate(items):
        book.add("promo_item", ("id", "promo_id", "sku", "price_rule", "price_rule_value",
                                "price_fen", "stock_total", "sold", "per_buyer_limit",
                                "position", "created_at"),
                 (item_id, 1, sku, "price", str(price), price, 3 * orders, sold[item_id],
                  limit, position, t(start)))
    book.flush("promo_item")
    for (buyer, item_id), units in used.items():
        book.add("buyer_item_usage", ("buyer_id", "item_id", "used"), (buyer, item_id, units))
    for sku, units in list_sold.items():
        book._execute("UPDATE product SET stock = stock - %s WHERE sku = %s", (units, sku))
    book.close()
    return {kind: planted[kind] for kind in PLANT_KINDS if planted[kind]}


def bench_one(orders: int, engine: str, pg_url: str | None, work: Path, plant: int,
              reuse: bool = False) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    home = work / "home"
    db = pg_url if engine == "postgresql" else str(work / f"book-{orders}.db")
    url = database_url(db)
    stamp = work / f"book-{orders}-{engine}.json"  # what the kept book holds
    generate_s = 0.0
    if reuse and stamp.exists() and json.loads(stamp.read_text())["plant"] == plant:
        planted = json.loads(stamp.read_text())["planted"]
        print(f"reusing the book of {orders:,} orders ({engine})", file=sys.stderr)
    else:
        print(f"generating {orders:,} orders ({engine}) …", file=sys.stderr, flush=True)
        started = time.perf_counter()
        made = subprocess.run([sys.executable, __file__, "--generate", str(orders), "--db",
                               url, "--plant", str(plant), "--home", str(home)],
                              capture_output=True, text=True, check=False, env=_env(home))
        if made.returncode != 0:
            sys.exit(f"generating the book failed:\n{made.stderr}")
        planted = json.loads(made.stdout)
        generate_s = time.perf_counter() - started
        stamp.write_text(json.dumps({"plant": plant, "planted": planted}))

    print("baseline: one aggregate over the orders …", file=sys.stderr, flush=True)
    script = work / "baseline.py"
    script.write_text(BASELINE)
    base_s, base_rss, out, err, code = run_child([str(script), url], _env(home), work)
    base_cpu = _children_cpu()
    if code != 0:
        sys.exit(f"baseline failed:\n{err.decode()}")
    counted = int(out.split()[0])

    print("audit …", file=sys.stderr, flush=True)
    audit_s, audit_rss, out, err, code = run_child(
        ["wxshop", "--db", url, "--json", "--now", AUDIT_NOW, "audit"], _env(home), work)
    audit_cpu = _children_cpu() - base_cpu
    if code not in (0, 8):
        sys.exit(f"audit failed ({code}):\n{err.decode()}")
    report = json.loads(out)
    ok = (report["counts"] == planted and report["checked"]["orders"] == counted == orders
          and code == (8 if planted else 0))
    return {"engine": engine, "orders": orders, "checked_rows": sum(report["checked"].values()),
            "generate_s": round(generate_s, 1),
            "baseline_s": round(base_s, 2), "baseline_peak_mb": round(base_rss / 2**20, 1),
            "audit_s": round(audit_s, 2), "audit_peak_mb": round(audit_rss / 2**20, 1),
            "audit_cpu_s": round(audit_cpu, 2),
            "time_ratio": round(audit_s / base_s, 2),
            "memory_ratio": round(audit_rss / base_rss, 2),
            "found_as_planted": ok, "found": report["counts"], "planted": planted}


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished children so far: on a shared machine the
    wall time also counts other people's work; this does not (nor the database server's)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _env(home: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("WXSHOP_")}
    env["PYTHONPATH"] = str(HERE.parent) + os.pathsep + env.get("PYTHONPATH", "")
    env["WXSHOP_HOME"] = str(home)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark wxshop audit on a big book.")
    parser.add_argument("--orders", default="100000",
                        help="orders per book; a comma list runs each (default 100000)")
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("WXSHOP_BENCH_PG_URL"),
                        help="PostgreSQL database to WIPE and use")
    parser.add_argument("--wipe", action="store_true",
                        help="allow --pg-url to name a database without 'bench' in its name")
    parser.add_argument("--plant", type=int, default=10, help="violations of each kind")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep files here (default: a temporary directory)")
    parser.add_argument("--json", action="store_true", help="print JSON lines only")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the books in --workdir and reuse them on the next run")
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate is not None:  # the child that writes a book
        prepare_database(args.db, args.home)
        print(json.dumps(generate(args.generate, args.db, args.plant, seed=20131111)))
        return
    if args.engine == "postgresql":
        if not args.pg_url:
            parser.error("--engine postgresql needs --pg-url (or WXSHOP_BENCH_PG_URL)")
        name = args.pg_url.split("?")[0].rsplit("/", 1)[-1]
        if "bench" not in name and not args.wipe:
            parser.error("the PostgreSQL database is wiped: its name must contain 'bench' "
                         "(or pass --wipe)")
    sizes = [int(n.replace("_", "")) for n in args.orders.split(",")]
    with tempfile.TemporaryDirectory(prefix="wxshop-audit-bench-") as tmp:
        work = args.workdir or Path(tmp)
        results = []
        for size in sizes:
            results.append(bench_one(size, args.engine, args.pg_url, work, args.plant,
                                     args.reuse and args.workdir is not None))
            if args.engine == "sqlite" and not (args.reuse and args.workdir):
                for suffix in ("", "-wal", "-shm"):  # keep the disk small between sizes
                    Path(str(work / f"book-{size}.db") + suffix).unlink(missing_ok=True)
    for result in results:
        if args.json:
            print(json.dumps(result))
            continue
        print(f"\n{result['engine']}: {result['orders']:,} orders, "
              f"{result['checked_rows']:,} rows checked (book written in "
              f"{result['generate_s']} s)")
        for label, key in (("baseline (one aggregate)", "baseline"), ("audit", "audit")):
            print(f"  {label:<25} {result[key + '_s']:>8.2f} s   peak {result[key + '_peak_mb']:>7}"
                  " MB")
        print(f"  audit's own CPU time {result['audit_cpu_s']} s")
        print(f"  ratios audit/baseline: time {result['time_ratio']}, "
              f"memory {result['memory_ratio']}")
        print(f"  found exactly the planted violations: {result['found_as_planted']} "
              f"{result['found']}")
    if len(results) > 1 and not args.json:
        low, high = results[0], results[-1]
        print(f"\naudit from {low['orders']:,} to {high['orders']:,} orders: "
              f"{low['audit_s']} → {high['audit_s']} s "
              f"({high['audit_s'] / low['audit_s']:.1f}× the time for "
              f"{high['orders'] / low['orders']:.0f}× the orders); peak memory "
              f"{low['audit_peak_mb']} → {high['audit_peak_mb']} MB "
              f"(ratio {high['audit_peak_mb'] / low['audit_peak_mb']:.2f})")
    if not all(r["found_as_planted"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
