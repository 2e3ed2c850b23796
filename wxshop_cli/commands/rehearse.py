"""`wxshop rehearse`: run a seeded Double 11 crowd through real `wxshop buy --from -` worker
processes, draw the dashboard, and give the verdict (core/rehearsal.py decides the plan and
the checks; this module runs processes and draws)."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from wxshop_cli.db.engine import Database

Seed = Annotated[int, typer.Option("--seed", metavar="N",
                                   help="Seed of the crowd and its storms.")]
Buyers = Annotated[int, typer.Option("--buyers", metavar="N", help="Buyers in the crowd.")]
Duration = Annotated[float, typer.Option("--duration", metavar="SECONDS",
                                         help="Length of the rush.")]
Workers = Annotated[int, typer.Option("--workers", metavar="N",
                                      help="Worker processes buying.")]
Group = Annotated[int, typer.Option("--group", metavar="N",
                                    help="Purchases per commit in each worker.")]
Storms = Annotated[str, typer.Option("--storms", metavar="all|none|LIST",
                                     help="Storms to raise (comma list).")]
PromoFile = Annotated[str | None, typer.Option(
    "--promo", metavar="FILE|-",
    help="Promotion file, TOML or JSON (- reads stdin; default: the shipped double11).")]
RefusalRate = Annotated[float, typer.Option("--refusal-rate", metavar="R",
                                            help="Share of refusing cards.")]
TimeoutRate = Annotated[float, typer.Option("--timeout-rate", metavar="R",
                                            help="Share of timing-out cards.")]
Force = Annotated[bool, typer.Option("--force", help="With --db: wipe a database that is not "
                                                     "empty.")]


def rehearse(seed: Seed = 1, buyers: Buyers = 200, duration: Duration = 10.0,
             workers: Workers = 2, group: Group = 8, storms: Storms = "all",
             promo: PromoFile = None, refusal_rate: RefusalRate = 0.05,
             timeout_rate: TimeoutRate = 0.02, force: Force = False) -> None:
    """Rehearse a Double 11 on a throwaway database (or --db). A seeded crowd with storms,
    then the verdict: audit clean, stock exact, limits kept, the day's bill reconciled.
    Exit 0 when every check holds, 8 when any fails.

    Examples:
      $ wxshop rehearse
      $ wxshop rehearse --buyers 50 --duration 2 --storms none
      $ wxshop rehearse --seed 7 --promo weekend.toml --json
    """
    from wxshop_cli.clock import beijing
    from wxshop_cli.config import current
    from wxshop_cli.core import rehearsal
    from wxshop_cli.db.scratch import open_scratch
    from wxshop_cli.output import say

    settings = current()
    if force and settings.db_option is None:
        from wxshop_cli.errors import UsageError

        raise UsageError("--force goes with --db (the throwaway rehearse.db is always new)",
                         slug="usage", hint="wxshop --db shop.db rehearse --force")
    options = rehearsal.Options(seed=seed, buyers=buyers, duration=duration, workers=workers,
                                group=group, storms=rehearsal.parse_storms(storms),
                                refusal_rate=refusal_rate, timeout_rate=timeout_rate)
    options.check()
    spec = _promo_spec(promo, settings.tz)
    db = open_scratch(settings, "rehearse.db", force=force, slug="rehearsal_not_empty")
    say(f"rehearsing {options.buyers:,} buyers on {db.url} (seed {options.seed})")
    stage = rehearsal.prepare(db, options, spec, settings.tz)
    plan = rehearsal.make_plan(stage, options)
    crowd = Crowd(db, stage, plan, options)
    crowd.run()
    crowd.retry_killed()
    crowd.settle()
    bill = settings.home / f"rehearsal-bill-{stage.now.astimezone(beijing()):%Y%m%d}.csv"
    checks = rehearsal.verdict(db, stage, plan, crowd.results, crowd.killed_keys, bill)
    summary = {**crowd.summary(), "database": db.url, "seed": options.seed,
               "buyers": options.buyers, "workers": options.workers, "group": options.group,
               "storms": sorted(options.storms), "bill": str(bill)}
    from wxshop_cli.views.rehearsal import print_verdict

    if not print_verdict(summary, checks):
        raise typer.Exit(8)


def _promo_spec(promo: str | None, tz: ZoneInfo) -> Any:
    from wxshop_cli.core import fixtures, promofile

    if promo == "-":
        from wxshop_cli.terminal import read_promo_stdin

        return promofile.load_bytes(read_promo_stdin(), tz)
    if promo is not None:
        return promofile.load(Path(promo), tz)
    step = next(s for s in fixtures.load_steps("double11") if s["op"] == "promo.publish")
    return promofile.parse_spec(step["args"], tz, source="double11")


class Crowd:
    """The worker processes, fed on the plan's schedule, and what they answered."""

    def __init__(self, db: Database, stage: Any, plan: Any, options: Any) -> None:
        self.db, self.stage, self.plan, self.options = db, stage, plan, options
        self.results: list[dict[str, Any]] = []
        self.killed_keys: set[str] = set()
        self.latencies: list[float] = []
        self.per_second: Counter = Counter()
        self.refused: Counter = Counter()
        self.paid = 0
        self.elapsed = 0.0
        self._sent: dict[tuple[int, int], float] = {}
        self._inbox: queue.Queue = queue.Queue()
        self._killed_lines: list[dict[str, Any]] = []
        self._ended = 0  # worker processes whose output ended
        self._paid_orders: set[str | None] = set()

    def _spawn(self, now: Any, group: int) -> subprocess.Popen:
        from wxshop_cli.clock import iso
        from wxshop_cli.core.rehearsal import CROWD_SCRYPT_N, PASSWORD

        # The crowd's sandbox hash cost is also the workers' configured cost, so a right
        # password is not re-hashed up to the default cost (13 ms a buyer) as real ones are.
        env = dict(os.environ, WXSHOP_PAY_PASSWORD=PASSWORD, PYTHONUNBUFFERED="1",
                   WXSHOP_SCRYPT_N=str(CROWD_SCRYPT_N))
        return subprocess.Popen(
            [sys.executable, "-m", "wxshop_cli", "--db", self.db.url, "--json", "--now",
             iso(now, now.tzinfo), "buy", "--from", "-", "--group", str(group)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, env=env)

    def _read(self, worker: int, stream: Any) -> None:
        for text in stream:
            self._inbox.put((worker, time.monotonic(), text))
        self._inbox.put((worker, time.monotonic(), None))

    def run(self) -> None:
        procs = [self._spawn(self.stage.now, self.options.group)
                 for _ in range(self.plan.workers)]
        readers = [threading.Thread(target=self._read, args=(w, p.stdout), daemon=True)
                   for w, p in enumerate(procs)]
        for reader in readers:
            reader.start()
        counts = self._wait_until_ready(procs)
        start = time.monotonic()
        from wxshop_cli.views.rehearsal import Dashboard

        dashboard = Dashboard(self, start, stock_left=lambda: _stock_left(self))
        killed = False
        with dashboard:
            for send in self.plan.sends:
                while True:
                    wait = start + send.at - time.monotonic()
                    if not killed and self.plan.kill_worker is not None and \
                            time.monotonic() - start >= self.plan.kill_at:
                        procs[self.plan.kill_worker].send_signal(signal.SIGKILL)
                        killed = True
                    self._collect(start, timeout=max(0.0, min(wait, 0.2)))
                    dashboard.update()
                    if wait <= 0:
                        break
                if send.worker == self.plan.kill_worker:
                    self.killed_keys.add(send.line["idempotency_key"])
                    self._killed_lines.append(send.line)
                proc = procs[send.worker]
                counts[send.worker] += 1
                self._sent[(send.worker, counts[send.worker])] = time.monotonic()
                try:
                    proc.stdin.write(json.dumps(send.line) + "\n")
                    proc.stdin.flush()
                except (BrokenPipeError, ValueError):
                    pass  # the killed worker: its lines are retried afterwards
            if self.plan.kill_worker is not None and not killed:
                procs[self.plan.kill_worker].send_signal(signal.SIGKILL)
            for proc in procs:
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.close()  # type: ignore[union-attr]  # spawned with stdin=PIPE
            while self._ended < len(procs):
                self._collect(start, timeout=0.2)
                dashboard.update()
        for proc in procs:
            proc.wait()
        self.elapsed = time.monotonic() - start

    def _wait_until_ready(self, procs: list[subprocess.Popen]) -> list[int]:
        """Each worker first answers a ping (a line it refuses at once), so the rush is timed
        from when every worker has started, not from the interpreters' start-up."""
        for proc in procs:
            assert proc.stdin is not None  # spawned with stdin=PIPE
            proc.stdin.write('{"ping": true}\n')
            proc.stdin.flush()
        ready: set[int] = set()
        deadline = time.monotonic() + 120
        while len(ready) < len(procs) and time.monotonic() < deadline:
            try:
                worker, _, text = self._inbox.get(timeout=1)
            except queue.Empty:
                continue
            if text is None:
                self._ended += 1
            ready.add(worker)
        return [1] * len(procs)  # the ping was each worker's line 1

    def _collect(self, start: float, timeout: float) -> None:
        """Record what the workers answered within `timeout` (and count the ended ones)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                worker, at, text = self._inbox.get(timeout=max(0.0, remaining)) \
                    if remaining > 0 else self._inbox.get_nowait()
            except queue.Empty:
                return
            if text is None:
                self._ended += 1
                continue
            self._record(worker, at, text, start)

    def _record(self, worker: int, at: float, text: str, start: float) -> None:
        try:
            row = json.loads(text)
        except ValueError:
            return
        row["worker"] = worker
        sent = self._sent.get((worker, row.get("line")))
        if sent is not None:
            self.latencies.append(at - sent)
        if row.get("exit_code") == 0:
            if row.get("order_no") not in self._paid_orders:  # a replay is not a new sale
                self._paid_orders.add(row.get("order_no"))
                self.paid += 1
                self.per_second[int(at - start)] += 1
        else:
            self.refused[(row.get("error") or {}).get("code", "unknown")] += 1
        key = row.get("idempotency_key") or (row.get("error") or {}).get("idempotency_key")
        row["idempotency_key"] = key
        self.results.append(row)

    def retry_killed(self) -> None:
        """The killed worker's purchases, sent again with the same keys past the claim
        timeout: each is paid once or not at all."""
        lines = self._killed_lines
        if not lines:
            return
        proc = self._spawn(self.stage.retry_now, 1)
        out, _ = proc.communicate("".join(json.dumps(line) + "\n" for line in lines),
                                  timeout=600)
        for text in out.splitlines():
            self._record(-1, time.monotonic(), text, time.monotonic())

    def settle(self) -> None:
        """Unknown payments (the timing-out bank) are settled as the sweep does."""
        from wxshop_cli.core.orders import close_expired
        from wxshop_cli.gateway import get_gateway

        close_expired(self.db, get_gateway(self.db), self.stage.retry_now)

    def summary(self) -> dict[str, Any]:
        from wxshop_cli.core.rehearsal import percentile, units_sold

        with self.db.transaction(read_only=True) as session:
            sold = units_sold(session, self.stage)
        return {"paid": self.paid, "sold": sold,
                "refused": dict(self.refused),
                "orders_per_second": self.paid / self.elapsed if self.elapsed else 0.0,
                # every answered line (refusals too): the engine's pace, where orders/s is
                # bounded by the promotion's stock
                "lines_per_second": len(self.results) / self.elapsed if self.elapsed else 0.0,
                "p50_ms": percentile(self.latencies, 0.5) * 1000,
                "p99_ms": percentile(self.latencies, 0.99) * 1000,
                "seconds": round(self.elapsed, 3),
                "killed_purchases": len(self.killed_keys)}


def _stock_left(crowd: Crowd) -> list[tuple[str, int]]:
    """Stock left per item, read from the book (cheap: one indexed query)."""
    from sqlalchemy import select
    from sqlmodel import col

    from wxshop_cli.db.models import PromoItem

    ids = [item.id for item in crowd.stage.items]
    skus = {item.id: item.sku for item in crowd.stage.items}
    try:
        with crowd.db.transaction(read_only=True) as session:
            rows = session.execute(select(col(PromoItem.id),
                                          col(PromoItem.stock_total) - col(PromoItem.sold))
                                   .where(col(PromoItem.id).in_(ids))).all()
    except Exception:  # the dashboard never stops the rehearsal
        return []
    return sorted(((skus[item_id], left) for item_id, left in rows), key=lambda r: r[1])
