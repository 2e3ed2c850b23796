"""A Double 11 crowd racing for a few units, in real processes (issue 5, SPEC section 8).

    python bench/buy_race.py                      # SQLite, 48 buyers, 8 at a time, stock 10
    python bench/buy_race.py --buyers 200 --parallel 16 --stock 50
    python bench/buy_race.py --db 'postgresql+psycopg:///bench?host=/var/run/postgresql'

Each buyer is its own `wxshop buy` process. The crowd runs twice on fresh promotions of the
same stock: once one process at a time (the baseline, measured in this same run) and once
with `--parallel` processes at a time. It prints the crowd's throughput as a ratio against the
baseline, and the verdict that matters: sold exactly the stock, every loser exited 7, no
process failed with anything else, no buyer over the limit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "271828"


def wxshop(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wxshop_cli", *args], env=env,
                          capture_output=True, text=True, timeout=600)


def seed(env: dict[str, str], buyers: list[str], stock: int, tmp: Path) -> dict[str, str]:
    """Buyers with a bound test card and an address, and two promotions of `stock` units
    (one for the baseline, one for the crowd), through the product's own fixture loader."""
    steps = []
    for name in buyers:
        steps += [
            {"name": f"{name}-card", "op": "card.bind", "args": {
                "buyer": name, "number": "6222020000000000000", "holder": "张三",
                "id_number": "11010519491231002X", "phone": "13800138000",
                "pay_password": PASSWORD}},
            {"name": f"{name}-addr", "op": "address.add", "args": {
                "buyer": name, "region": "310000", "city": "上海市", "street": "淮海中路 1 号",
                "contact": "张三", "phone": "13800138000"}},
        ]
    for code in ("baseline", "crowd"):
        steps.append({"name": code, "op": "promo.publish", "args": {
            "code": code, "title": "双11精选商品", "notify": False,
            "starts_at": "2013-11-11T00:00:00+08:00", "ends_at": "2013-11-12T00:00:00+08:00",
            "items": [{"sku": f"YX-{code}", "title": "Apple iPhone 5s 16G",
                       "list_price": "5288.00", "price": "3999.00", "stock": stock,
                       "per_buyer_limit": 1}]}})
    path = tmp / "crowd.json"
    path.write_text(json.dumps({"steps": steps}, ensure_ascii=False), encoding="utf-8")
    loaded = wxshop(env, "--json", "--now", "2013-11-10T12:00:00+08:00", "fixtures", "load",
                    str(path))
    if loaded.returncode != 0:
        sys.exit(f"seeding failed: {loaded.stderr}")
    return {code: f"YX-{code}" for code in ("baseline", "crowd")}


def run_crowd(env: dict[str, str], buyers: list[str], sku: str,
              parallel: int) -> tuple[float, list[int]]:
    def one(name: str) -> int:
        return wxshop(env, "--json", "--buyer", name, "--now", "2013-11-11T10:00:00+08:00",
                      "buy", sku).returncode

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        codes = list(pool.map(one, buyers))
    return time.perf_counter() - start, codes


def sold(env: dict[str, str], code: str) -> tuple[int, int]:
    orders = json.loads(wxshop(env, "--json", "orders", "list", "--all", "--promo", code,
                               "--status", "paid").stdout)
    per_buyer = {}
    for order in orders:
        per_buyer[order["buyer"]] = per_buyer.get(order["buyer"], 0) + order["qty"]
    return sum(per_buyer.values()), max(per_buyer.values(), default=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--buyers", type=int, default=48)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--stock", type=int, default=10)
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        env = dict(os.environ, WXSHOP_HOME=str(tmp / "home"), WXSHOP_PAY_PASSWORD=PASSWORD,
                   PYTHONPATH=str(REPO))
        env["WXSHOP_DB"] = args.db or str(tmp / "bench.db")
        buyers = [f"b{i:04d}" for i in range(args.buyers)]
        skus = seed(env, buyers, args.stock, tmp)
        base_time, base_codes = run_crowd(env, buyers, skus["baseline"], 1)
        crowd_time, crowd_codes = run_crowd(env, buyers, skus["crowd"], args.parallel)
        total, worst = sold(env, "crowd")
        ok = (total == min(args.stock, args.buyers) and worst <= 1
              and sorted(set(crowd_codes)) <= [0, 7]
              and crowd_codes.count(0) == min(args.stock, args.buyers))
        print(f"engine      {'postgresql' if args.db else 'sqlite'}")
        print(f"crowd       {args.buyers} buyers, {args.parallel} processes at a time, "
              f"stock {args.stock}")
        print(f"baseline    {len(buyers) / base_time:8.1f} purchases/s (one at a time)")
        print(f"crowd       {len(buyers) / crowd_time:8.1f} purchases/s  "
              f"= {base_time / crowd_time:.2f}x the baseline")
        print(f"exit codes  {dict(sorted((c, crowd_codes.count(c)) for c in set(crowd_codes)))}"
              f" (baseline {dict(sorted((c, base_codes.count(c)) for c in set(base_codes)))})")
        print(f"verdict     {'OK' if ok else 'FAILED'}: sold {total} of {args.stock}, "
              f"most units for one buyer {worst}")
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
