"""Reading an Alipay 业务明细 against reading the same day as a WeChat Pay bill.

    python bench/alipay_read.py                 # 50,000 payments, 5 interleaved rounds
    python bench/alipay_read.py --rows 200000 --rounds 3

The same rows are written in memory as a WeChat Pay trade bill (`BillWriter`), as an Alipay
CSV and as that CSV in a zip (`AlipayWriter`); each round reads all three with their readers
(`BillReader`, `AlipayReader`), interleaved, in this process. Printed: the best CPU time of
each, per row, and as a ratio of the WeChat reader's (the baseline of the same run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wxshop_cli.core.billformat import BillReader, BillRow, BillWriter
from wxshop_cli.core.billformat.alipay import AlipayReader, AlipayWriter


def day(rows: int) -> list[BillRow]:
    start = dt.datetime(2013, 11, 11, 0, 0, 1)
    return [BillRow(line_no=0, kind="payment", trade_time=start + dt.timedelta(seconds=i % 86000),
                    app_id="wx8888888888888888", mch_id="1230000109", sub_mch_id="0",
                    transaction_id=f"42000000012013111{i:011d}",
                    out_trade_no=f"D2013111100{i:08d}", openid="oWXSHOP_1",
                    trade_type="JSAPI", bank_code="CMB_CREDIT", currency="CNY",
                    settlement_fen=7920 + i % 500, order_fen=7920 + i % 500,
                    fee_fen=48, rate_ppm=None, product="三只松鼠 坚果礼盒")
            for i in range(rows)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rows = day(args.rows)
    text = io.StringIO()
    with BillWriter(text, "ALL") as writer:
        for row in rows:
            writer.write(row)
    wechat = text.getvalue().encode()
    out = io.BytesIO()
    alipay_writer = AlipayWriter(out, "20880012300001090156", dt.datetime(2013, 11, 11))
    for row in rows:
        alipay_writer.write(row)
    alipay_writer.finish(dt.datetime(2013, 11, 12, 6))
    alipay_csv = out.getvalue()
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bill.csv", alipay_csv)
    inputs = {"wechat (baseline)": (BillReader, wechat), "alipay csv": (AlipayReader, alipay_csv),
              "alipay zip": (AlipayReader, zipped.getvalue())}
    best = dict.fromkeys(inputs, float("inf"))
    for _ in range(args.rounds):
        for name, (reader, data) in inputs.items():
            started = time.process_time()
            count = sum(1 for _ in reader(io.BytesIO(data)))
            best[name] = min(best[name], time.process_time() - started)
            assert count == args.rows
    base = best["wechat (baseline)"]
    print(f"{args.rows:,} rows, best of {args.rounds} (CPU), zip {len(alipay_csv):,} → "
          f"{len(zipped.getvalue()):,} bytes")
    for name, seconds in best.items():
        print(f"  {name:18} {seconds:6.3f} s  {seconds / args.rows * 1e6:5.1f} µs/row  "
              f"{seconds / base:4.2f}×")


if __name__ == "__main__":
    main()
