"""Benchmark `wxshop reconcile` against a plain-Python parse of the same bill.

    python bench/reconcile_bench.py                         # 100,000 payments on SQLite
    python bench/reconcile_bench.py --rows 1000000          # a million
    python bench/reconcile_bench.py --rows 100000,1000000   # both: is memory flat?
    python bench/reconcile_bench.py --engine postgresql \\
        --pg-url 'postgresql+psycopg:///wxshop_bench?host=/var/run/postgresql'

For each size, `make_bill.py` generates the day (bill + book, with planted differences);
then two child processes run on the same file, one after the other:

- the **baseline** only parses the bill with `csv.reader` (strip the backticks, read the
  amounts as `Decimal`, count the rows) — the least any reader must do;
- **reconcile** is the real command, `python -m wxshop_cli --json reconcile BILL`: its one
  pass that reads, checks and stages the bill, the SQL matching and the recording included.

Peak memory is each child's own high-water resident set (VmHWM, read at exit; `ru_maxrss`
where /proc is missing), interpreter included, so the two figures compare like with like.
Printed: rows per second and peak memory of both, and the ratios reconcile / baseline. The
run also checks that reconcile found exactly the planted differences. A PostgreSQL database
given with --pg-url is WIPED (its public schema); its name must contain "bench".
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# Both children start through this launcher. It records the child's own peak resident set
# at exit: VmHWM from /proc (Linux; reset by exec, so the parent's size never counts), else
# ru_maxrss (which on Linux would include the forked parent's pages).
LAUNCHER = r"""
import atexit, os, resource, runpy, sys

def _peak():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024

def _write():
    with open(os.environ["WXSHOP_BENCH_PEAK"], "w") as out:
        out.write(str(_peak()))

atexit.register(_write)
mode = sys.argv.pop(1)
if mode == "wxshop":
    sys.argv[0] = "wxshop"
    runpy.run_module("wxshop_cli", run_name="__main__")
else:
    exec(compile(open(mode).read(), mode, "exec"))
"""

BASELINE = r"""
import csv, sys
from decimal import Decimal
rows = 0
total = Decimal(0)
with open(sys.argv[1], encoding="utf-8-sig", newline="") as handle:
    reader = csv.reader(handle)
    header = next(reader)
    settle = header.index("应结订单金额")
    fee = header.index("手续费")
    for fields in reader:
        if not fields[0].startswith("`"):
            break  # the summary header
        values = [f[1:] for f in fields]
        total += Decimal(values[settle]) + Decimal(values[fee])
        rows += 1
print(rows, total)
"""


def run_child(args: list[str], env: dict[str, str], work: Path
              ) -> tuple[float, int, bytes, bytes, int]:
    """Run `LAUNCHER args…`; return (seconds, peak RSS in bytes, stdout, stderr, exit)."""
    peak_file = work / "peak"
    peak_file.unlink(missing_ok=True)
    env = {**env, "WXSHOP_BENCH_PEAK": str(peak_file)}
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        code = subprocess.run([sys.executable, "-c", LAUNCHER, *args], stdout=out, stderr=err,
                              env=env, check=False).returncode
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return seconds, int(peak_file.read_text()), out.read(), err.read(), code


def bench_one(rows: int, engine: str, pg_url: str | None, work: Path, plant: int) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    bill = work / f"bill-{rows}.csv"
    db = pg_url if engine == "postgresql" else str(work / f"book-{rows}.db")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    for name in list(env):
        if name.startswith("WXSHOP_"):
            del env[name]
    env["WXSHOP_HOME"] = str(work / "home")
    print(f"generating {rows:,} payments ({engine}) …", file=sys.stderr, flush=True)
    made = subprocess.run([sys.executable, str(HERE / "make_bill.py"), "--rows", str(rows),
                           "--db", db, "--out", str(bill), "--plant", str(plant),
                           "--home", str(work / "home")],
                          env=env, capture_output=True, text=True, check=False)
    if made.returncode != 0:
        sys.exit(f"make_bill failed:\n{made.stderr}")
    facts = json.loads(made.stdout)
    expected = facts["expected"]

    print("baseline: csv.reader …", file=sys.stderr, flush=True)
    script = work / "baseline.py"
    script.write_text(BASELINE)
    base_s, base_rss, out, err, code = run_child([str(script), str(bill)], env, work)
    if code != 0:
        sys.exit(f"baseline failed:\n{err.decode()}")
    parsed = int(out.split()[0])

    print("reconcile …", file=sys.stderr, flush=True)
    rec_s, rec_rss, out, err, code = run_child(
        ["wxshop", "--db", db, "--json", "reconcile", str(bill)], env, work)
    if code not in (0, 8):
        sys.exit(f"reconcile failed ({code}):\n{err.decode()}")
    run = json.loads(out)
    found = Counter(d["kind"] for d in run["discrepancies"] if d["status"] == "open")
    found["deferred"] = run["deferred"]
    wanted = {k: v for k, v in expected.items() if v}
    ok = dict(found) == wanted and parsed == run["rows"] == facts["rows"]
    return {"engine": engine, "payments": rows, "rows": run["rows"],
            "bill_mb": round(facts["bytes"] / 2**20, 1), "generate_s": facts["seconds"],
            "baseline_s": round(base_s, 2), "baseline_rows_per_s": round(parsed / base_s),
            "baseline_peak_mb": round(base_rss / 2**20, 1),
            "reconcile_s": round(rec_s, 2), "reconcile_rows_per_s": round(run["rows"] / rec_s),
            "reconcile_peak_mb": round(rec_rss / 2**20, 1),
            "speed_ratio": round((run["rows"] / rec_s) / (parsed / base_s), 3),
            "memory_ratio": round(rec_rss / base_rss, 2),
            "found_as_planted": ok, "found": dict(found), "planted": wanted}


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark reconcile against a csv parse.")
    parser.add_argument("--rows", default="100000",
                        help="payments per bill; a comma list runs each (default 100000)")
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("WXSHOP_BENCH_PG_URL"),
                        help="PostgreSQL database to WIPE and use (name must contain bench)")
    parser.add_argument("--plant", type=int, default=10, help="differences of each kind")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep files here (default: a temporary directory)")
    parser.add_argument("--json", action="store_true", help="print JSON lines only")
    args = parser.parse_args()
    if args.engine == "postgresql":
        if not args.pg_url:
            parser.error("--engine postgresql needs --pg-url (or WXSHOP_BENCH_PG_URL)")
        # (No SQLAlchemy in this process: keep it small.)
        name = args.pg_url.split("?")[0].rsplit("/", 1)[-1]
        if "bench" not in name:
            parser.error("the PostgreSQL database is wiped: its name must contain 'bench'")
    sizes = [int(n.replace("_", "")) for n in args.rows.split(",")]
    with tempfile.TemporaryDirectory(prefix="wxshop-bench-") as tmp:
        work = args.workdir or Path(tmp)
        results = [bench_one(n, args.engine, args.pg_url, work, args.plant) for n in sizes]
    for result in results:
        if args.json:
            print(json.dumps(result))
            continue
        print(f"\n{result['engine']}: {result['payments']:,} payments, {result['rows']:,} "
              f"bill rows ({result['bill_mb']} MB)")
        for label, key in (("baseline (csv.reader)", "baseline"),
                           ("reconcile (one pass)", "reconcile")):
            print(f"  {label:<22} {result[key + '_s']:>8.2f} s "
                  f"{result[key + '_rows_per_s']:>10,} rows/s  "
                  f"peak {result[key + '_peak_mb']:>7} MB")
        print(f"  ratios reconcile/baseline: speed {result['speed_ratio']}, "
              f"memory {result['memory_ratio']}")
        print(f"  found exactly the planted differences: {result['found_as_planted']} "
              f"{result['found']}")
    if len(results) > 1 and not args.json:
        low, high = results[0], results[-1]
        growth = high["reconcile_peak_mb"] - low["reconcile_peak_mb"]
        print(f"\npeak memory from {low['payments']:,} to {high['payments']:,} payments: "
              f"{low['reconcile_peak_mb']} → {high['reconcile_peak_mb']} MB "
              f"({growth:+.1f} MB for {high['rows'] / low['rows']:.0f}× the rows)")
    if not all(r["found_as_planted"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
