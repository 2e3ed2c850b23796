"""How long each command takes to start and finish, against the floor of its stack (issue 10).

    python bench/startup.py                  # every command, 7 paired rounds
    python bench/startup.py --rounds 11      # steadier medians on a busy machine
    python bench/startup.py --only buy,regions

A command is a whole process, started the way the `wxshop` console script starts it. Each
figure is the median over paired rounds of (command time / baseline time), where the baseline
runs right before or right after the command in the same round (the order alternates), so a
burst of load on the machine hits both sides of a pair:

- commands that need no database (`--help`, `regions`, every `COMMAND --help`) against
  `python -c "import typer"`;
- database commands on an existing SQLite database (made once by the product's own fixture
  loader: a buyer with a bound card and an address, a promotion with plenty of stock, a few
  orders) against `python -c "import typer, sqlmodel"`. `buy` pays with `WXSHOP_PAY_PASSWORD`
  and the default payment-password cost; every round buys one more unit.

Targets (issue 10): ≤ 1.3× for the first kind, ≤ 1.2× for the second. Printed: each command's
median ratio of wall times (the verdict against the target), the median ratio of CPU times
(user + system, steadier than wall time when other work shares the cores), its median wall
time and the baseline's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "271828"
NOW = "2013-11-11T10:00:00+08:00"
TYPER = [sys.executable, "-c", "import typer"]
TYPER_SQLMODEL = [sys.executable, "-c", "import typer, sqlmodel"]
# What the console script does (`wxshop = wxshop_cli.app:main`).
WXSHOP = [sys.executable, "-c",
          "import sys; sys.argv[0] = 'wxshop'; from wxshop_cli.app import main; sys.exit(main())"]
NO_DB_TARGET = 1.3
DB_TARGET = 1.2


def help_commands() -> list[list[str]]:
    """`--help`, `regions`, and `--help` of every group and command (read from the app)."""
    sys.path.insert(0, str(REPO))
    import typer.main

    from wxshop_cli.app import app

    root = typer.main.get_command(app)
    found: list[list[str]] = [["--help"], ["regions"]]

    def walk(command, path):
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            found.append([*path, name, "--help"])
            walk(sub, [*path, name])

    walk(root, [])
    return found


DB_COMMANDS = [
    ["--json", "buy", "BENCH-1"],
    ["--json", "promo", "list"],
    ["promo", "list"],
    ["--json", "orders", "list"],
    ["orders", "list", "--all", "--status", "paid"],
    ["--json", "orders", "show", "@order"],
    ["--json", "cards", "list"],
    ["--json", "address", "list"],
    ["--json", "product", "list"],
    ["--json", "merchant", "show"],
    ["--json", "inbox"],
    ["--json", "report", "sales"],
    ["--json", "reconciliations", "list"],
    ["--json", "db", "upgrade"],
]


def seed(env: dict[str, str], tmp: Path) -> str:
    steps = [
        {"name": "card", "op": "card.bind", "args": {
            "buyer": "bench", "number": "6222020000000000000", "holder": "张三",
            "id_number": "11010519491231002X", "phone": "13800138000",
            "pay_password": PASSWORD}},
        {"name": "addr", "op": "address.add", "args": {
            "buyer": "bench", "region": "310000", "city": "上海市", "street": "淮海中路 1 号",
            "contact": "张三", "phone": "13800138000"}},
        {"name": "promo", "op": "promo.publish", "args": {
            "code": "bench", "title": "双11精选商品", "notify": False,
            "starts_at": "2013-11-11T00:00:00+08:00", "ends_at": "2013-11-12T00:00:00+08:00",
            "items": [{"sku": "BENCH-1", "title": "小米 移动电源", "list_price": "1.00",
                       "price": "0.01", "stock": 1_000_000}]}},
    ]
    path = tmp / "seed.json"
    path.write_text(json.dumps({"steps": steps}, ensure_ascii=False), encoding="utf-8")
    run(WXSHOP + ["--json", "fixtures", "load", str(path)], env, check=True)
    bought = run(WXSHOP + ["--json", "buy", "BENCH-1"], env, check=True)
    return json.loads(bought.stdout)["order_no"]


def run(argv: list[str], env: dict[str, str], *, check: bool = False
        ) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=REPO,
                          timeout=300)
    if check and proc.returncode != 0:
        sys.exit(f"{' '.join(argv[3:])} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          cwd=REPO, timeout=300)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv[3:])} failed ({proc.returncode}):\n{proc.stderr.decode()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description="Start-up of every command, as ratios.")
    parser.add_argument("--rounds", type=int, default=7, help="paired rounds (default 7)")
    parser.add_argument("--only", default="",
                        help="comma list of words; run only commands containing one")
    parser.add_argument("--json", action="store_true", help="print JSON lines only")
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if not k.startswith("WXSHOP_")}
    env["PYTHONPATH"] = str(REPO)
    with tempfile.TemporaryDirectory(prefix="wxshop-startup-") as tmp:
        env.update(WXSHOP_HOME=str(Path(tmp) / "home"), WXSHOP_BUYER="bench",
                   WXSHOP_NOW=NOW, WXSHOP_PAY_PASSWORD=PASSWORD)
        order_no = seed(env, Path(tmp))
        cases = [(c, TYPER, NO_DB_TARGET, "import typer") for c in help_commands()]
        cases += [([order_no if a == "@order" else a for a in c], TYPER_SQLMODEL, DB_TARGET,
                   "import typer, sqlmodel") for c in DB_COMMANDS]
        if args.only:
            words = args.only.split(",")
            cases = [case for case in cases if any(w in " ".join(case[0]) for w in words)]
        for argv in sorted({tuple(base) for _, base, _, _ in cases}):  # warm the file cache
            timed(list(argv), env)
        results = []
        for command, base, target, base_name in cases:
            timed(WXSHOP + command, env)  # warm-up (and first-run work) not counted
            ratios, cpu_ratios, mine, theirs = [], [], [], []
            for round_no in range(args.rounds):
                if round_no % 2:
                    b, b_cpu = timed(base, env)
                    c, c_cpu = timed(WXSHOP + command, env)
                else:
                    c, c_cpu = timed(WXSHOP + command, env)
                    b, b_cpu = timed(base, env)
                ratios.append(c / b)
                cpu_ratios.append(c_cpu / b_cpu)
                mine.append(c)
                theirs.append(b)
            result = {"command": "wxshop " + " ".join(command), "baseline": base_name,
                      "ratio": round(statistics.median(ratios), 2),
                      "cpu_ratio": round(statistics.median(cpu_ratios), 2),
                      "ms": round(statistics.median(mine) * 1000),
                      "baseline_ms": round(statistics.median(theirs) * 1000),
                      "target": target}
            result["ok"] = result["ratio"] <= target
            results.append(result)
            if args.json:
                print(json.dumps(result, ensure_ascii=False), flush=True)
            else:
                mark = "ok " if result["ok"] else "OVER"
                print(f"{mark} {result['ratio']:>5.2f}× (≤{target}) "
                      f"cpu {result['cpu_ratio']:>4.2f}× {result['ms']:>5} ms vs "
                      f"{result['baseline_ms']:>4} ms [{base_name}]  "
                      f"{result['command']}", flush=True)
    if not args.json:
        over = [r for r in results if not r["ok"]]
        worst = max(results, key=lambda r: r["ratio"] / r["target"])
        print(f"\n{len(results) - len(over)}/{len(results)} within target; worst "
              f"{worst['ratio']}× {worst['command']}")


if __name__ == "__main__":
    main()
