"""How fast one purchase is, against a bare program doing the same purchase (issue 9).

    python bench/purchase.py                       # SQLite; PostgreSQL too when configured
    python bench/purchase.py --pg 'postgresql+psycopg:///bench?host=/var/run/postgresql'
    python bench/purchase.py --quick               # smaller runs, for a smoke test

Every figure is a ratio measured in this same run:
1. the in-process `checkout.place_order` loop against bench/raw_purchase.py's bare sqlite3
   loop (same statements' effect, same three commits, synchronous=FULL), paired rounds;
2. the same on PostgreSQL against bare psycopg, with 1, 2 and 4 writer processes, and
   wxshop's 4 writers against its 1 writer (many buyers, many items, as in a real sale);
3. `wxshop buy --from` (a real process) with and without `--group 500` against the bare
   batch doing the same work in the same grouping (each buyer's password checked once, the
   same scrypt cost); the orders/s is the command's own figure (its run, without interpreter
   start-up). BUYERS buyers share the lines, as in a sale.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(BENCH), str(REPO)]

import _shop  # noqa: E402
from raw_purchase import RawShop  # noqa: E402

BUYERS, ITEMS, STOCK = 400, 60, 10_000_000


def purchases(n: int, offset: int = 0) -> list[tuple[str, str]]:
    return [(f"b{(offset + i) % BUYERS}", f"{(offset + i) % ITEMS}") for i in range(n)]


def wxshop_loop(db, item_ids: list[str], plan: list[tuple[str, str]]) -> float:
    from wxshop_cli.core import checkout
    from wxshop_cli.gateway import get_gateway

    gateway = get_gateway(db)
    start = time.perf_counter()
    for buyer, item in plan:
        outcome = checkout.place_order(db, gateway, buyer,
                                       checkout.BuyRequest(item=item_ids[int(item)]),
                                       _shop.DURING)
        assert outcome.error is None, outcome.error
    elapsed = time.perf_counter() - start
    gateway.close()
    return elapsed


def raw_connection(db):
    if db.dialect == "sqlite":
        conn = sqlite3.connect(db.engine.url.database, isolation_level=None, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn
    import psycopg

    url = db.engine.url
    return psycopg.connect(dbname=url.database, host=url.query.get("host"))


def raw_loop(db, item_ids: list[str], plan: list[tuple[str, str]], group: int = 1,
             passwords: bool = False) -> float:
    conn = raw_connection(db)
    shop = RawShop(conn, db.dialect)
    real = [(buyer, item_ids[int(item)]) for buyer, item in plan]
    start = time.perf_counter()
    if passwords:  # as a batch does: each buyer's password once
        shop.verify_passwords([buyer for buyer, _ in real], _shop.PASSWORD, db.key)
    shop.buy_many(real, _shop.DURING, group)
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def ratio_line(label: str, ours: float, base: float, n: int, target: str = "") -> str:
    return (f"{label:<46} wxshop {n / ours:>9,.0f}/s  baseline {n / base:>9,.0f}/s  "
            f"ratio {base / ours:5.2f}x {target}")


# ---------------------------------------------------------------- 1. SQLite in-process


def bench_sqlite(n: int, rounds: int) -> list[str]:
    home = _shop.temp_home()
    db = _shop.open_database(None, home)
    item_ids = _shop.seed(db, buyers=BUYERS, items=ITEMS, stock=STOCK)
    wxshop_loop(db, item_ids, purchases(20))  # warm: compile statements, fill caches
    raw_loop(db, item_ids, purchases(20))
    ours, base = [], []
    for r in range(rounds):
        ours.append(wxshop_loop(db, item_ids, purchases(n, r * n)))
        base.append(raw_loop(db, item_ids, purchases(n, r * n)))
    return [ratio_line("SQLite in-process place_order vs raw sqlite3", statistics.median(ours),
                       statistics.median(base), n, "(target >= 0.50x)")]


# ---------------------------------------------------------------- 2. PostgreSQL writers


def _writer(args) -> tuple[float, float]:
    kind, url, home, n, offset, barrier = args
    os.environ["WXSHOP_HOME"], os.environ["WXSHOP_DB"] = home, url
    from wxshop_cli.config import Settings, activate
    from wxshop_cli.core import checkout
    from wxshop_cli.db.engine import database

    activate(Settings())
    db = database()
    with db.transaction(read_only=True) as session:
        from sqlalchemy import select

        from wxshop_cli.db.models import PromoItem

        item_ids = list(session.execute(select(PromoItem.id).order_by(PromoItem.position)
                                        ).scalars())
    plan = purchases(n, offset)
    if kind == "wxshop":  # warm up outside the timed part
        wxshop_loop(db, item_ids, purchases(5, offset + 10**6))
    checkout.new_idempotency_key()
    barrier.wait()
    start = time.perf_counter()
    if kind == "wxshop":
        wxshop_loop(db, item_ids, plan)
    else:
        raw_loop(db, item_ids, plan)
    return start, time.perf_counter()


def run_writers(kind: str, url: str, home: str, writers: int, n: int) -> float:
    """Orders/s of `writers` processes doing `n` purchases each at the same time."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(writers)
        with context.Pool(writers) as pool:
            spans = pool.map(_writer, [(kind, url, home, n, w * 7919, barrier)
                                       for w in range(writers)])
    wall = max(end for _, end in spans) - min(start for start, _ in spans)
    return writers * n / wall


def bench_postgres(url: str, n: int, rounds: int = 3) -> list[str]:
    """Paired rounds (wxshop, then raw, `rounds` times) for each writer count; medians."""
    home = _shop.temp_home()
    db = _shop.open_database(url, home)
    _shop.seed(db, buyers=BUYERS, items=ITEMS, stock=STOCK)
    db.dispose()
    lines, ours = [], {}
    for writers in (1, 2, 4):
        pairs = [(run_writers("wxshop", url, str(home), writers, n),
                  run_writers("raw", url, str(home), writers, n)) for _ in range(rounds)]
        ours[writers] = statistics.median(p[0] for p in pairs)
        base = statistics.median(p[1] for p in pairs)
        label = f"PostgreSQL place_order vs raw psycopg, {writers} writer(s)"
        lines.append(f"{label:<46} wxshop {ours[writers]:>9,.0f}/s  baseline {base:>9,.0f}/s  "
                     f"ratio {ours[writers] / base:5.2f}x (target >= 0.50x)")
    lines.append(f"{'PostgreSQL wxshop 4 writers vs 1 writer':<46} "
                 f"{ours[4]:>9,.0f}/s vs {ours[1]:,.0f}/s  ratio {ours[4] / ours[1]:5.2f}x "
                 "(target >= 2.00x)")
    return lines


# ---------------------------------------------------------------- 3. buy --from


def bench_buy_from(n_group: int, n_single: int) -> list[str]:
    lines = []
    for group, n in ((1, n_single), (500, n_group)):
        home = _shop.temp_home()
        db = _shop.open_database(None, home)
        item_ids = _shop.seed(db, buyers=BUYERS, items=ITEMS, stock=STOCK)
        path = home / "batch.jsonl"
        path.write_text("".join(json.dumps({"buyer": buyer, "item": item_ids[int(item)]})
                                + "\n" for buyer, item in purchases(n)), encoding="utf-8")
        env = dict(os.environ, PYTHONPATH=str(REPO), WXSHOP_HOME=str(home),
                   WXSHOP_PAY_PASSWORD=_shop.PASSWORD)
        env.pop("WXSHOP_DB", None)
        done = subprocess.run([sys.executable, "-m", "wxshop_cli", "--json", "--now",
                               _shop.DURING_TEXT, "buy", "--from", str(path), "--group",
                               str(group)], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"buy --from failed: {done.stderr[-500:]}")
        rate = float(re.search(r"([\d,]+) orders/s", done.stderr).group(1).replace(",", ""))
        base = n / raw_loop(db, item_ids, purchases(n, 10**6), group=group, passwords=True)
        target = "(target: 13,000 orders/s)" if group > 1 else ""
        lines.append(f"{'buy --from --group ' + str(group) + ' vs raw sqlite3 batch':<46} "
                     f"wxshop {rate:>9,.0f}/s  baseline {base:>9,.0f}/s  "
                     f"ratio {rate / base:5.2f}x {target}")
        db.dispose()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg", default=os.environ.get("WXSHOP_TEST_DATABASE_URL"))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    q = args.quick
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; "
          f"sqlite {sqlite3.sqlite_version}; synchronous=FULL (SQLite's default in WAL)")
    for line in bench_sqlite(n=100 if q else 400, rounds=3):
        print(line, flush=True)
    for line in bench_buy_from(n_group=2000 if q else 20000, n_single=100 if q else 400):
        print(line, flush=True)
    if args.pg:
        for line in bench_postgres(args.pg, n=50 if q else 300):
            print(line, flush=True)
    else:
        print("PostgreSQL: skipped (give --pg URL or set WXSHOP_TEST_DATABASE_URL)")


if __name__ == "__main__":
    tempfile.tempdir = tempfile.gettempdir()
    main()
