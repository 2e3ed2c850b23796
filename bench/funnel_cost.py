"""What the funnel costs a refused claim (issue 15): sold-out purchases through
`checkout.place_order` with the funnel's event insert, against the same loop with the insert
replaced by a no-op, interleaved rounds in one process (SQLite, synchronous=FULL).

    python bench/funnel_cost.py [--rounds 8] [--n 400]

A paid purchase writes nothing for the funnel (its order is the record), so the only hot-path
cost is this one insert, in the claim's own transaction, on a refusal for stock or limit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

import _shop  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--n", type=int, default=400)
    args = parser.parse_args()
    from wxshop_cli.core import checkout, funnel
    from wxshop_cli.gateway import get_gateway

    db = _shop.open_database(None, _shop.temp_home())
    items = _shop.seed(db, buyers=200, items=4, stock=0)
    gateway = get_gateway(db)
    record = funnel.record_refusal

    def run(n: int, with_insert: bool) -> float:
        funnel.record_refusal = record if with_insert else (lambda *a, **k: None)
        started = time.perf_counter()
        for i in range(n):
            outcome = checkout.place_order(db, gateway, f"b{i % 200}",
                                           checkout.BuyRequest(item=items[i % 4]), _shop.DURING)
            assert outcome.error is not None and outcome.error.slug == "sold_out"
        return n / (time.perf_counter() - started)

    run(args.n // 2, True)
    run(args.n // 2, False)
    with_insert, without = [], []
    for _ in range(args.rounds):
        with_insert.append(run(args.n, True))
        without.append(run(args.n, False))
    a, b = statistics.median(with_insert), statistics.median(without)
    print(f"sold-out claims, funnel insert vs none   wxshop {a:8,.0f}/s  baseline {b:8,.0f}/s  "
          f"ratio {a / b:.2f}x")


if __name__ == "__main__":
    main()
