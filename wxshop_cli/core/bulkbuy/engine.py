"""The batch engine: reads the lines in the calling thread, hands them to worker threads
(each with its own connection), runs each worker's groups (see `groups`), reports every
line's result in order once its outcome committed, and answers an interrupt."""

from __future__ import annotations

import contextlib
import datetime as dt
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from wxshop_cli.core import checkout, funnel
from wxshop_cli.core.bulkbuy.groups import charge_group, claim_group, record_group
from wxshop_cli.core.bulkbuy.lines import BatchLine
from wxshop_cli.core.bulkbuy.results import BatchSummary, LineResult, guarded
from wxshop_cli.db.prepared import HotConnection, close_thread_connection
from wxshop_cli.errors import Interrupted, WxError

if TYPE_CHECKING:
    from wxshop_cli.db.engine import Database
    from wxshop_cli.gateway.base import PaymentGateway


class BatchBuy:
    """Runs parsed lines through checkout with group commit and worker threads."""

    def __init__(self, db: Database, gateway: PaymentGateway, now: Callable[[], dt.datetime], *,
                 group: int = 1, workers: int = 1,
                 emit: Callable[[LineResult], None]) -> None:
        self.db, self.gateway, self.now = db, gateway, now
        self.group, self.workers = group, workers
        self._emit = emit
        self._emit_lock = threading.Lock()
        self._passwords: dict[tuple[str, str], WxError | None] = {}
        self._password_lock = threading.Lock()
        self.summary = BatchSummary()
        self._stop = threading.Event()  # set by an interrupt: no new group starts
        self._in_flight: dict[tuple[str, str], str] = {}  # (buyer, key) → claimed order
        self._in_flight_lock = threading.Lock()

    def run(self, lines: Iterable[BatchLine]) -> BatchSummary:
        """Read `lines` in this thread and work them in `workers` threads."""
        started = time.perf_counter()
        try:
            self._run_threads(lines)
        finally:
            self.summary.seconds = time.perf_counter() - started
        return self.summary

    # -------------------------------------------------------- results

    def _report(self, results: list[LineResult]) -> None:
        with self._emit_lock:
            for result in sorted(results, key=lambda r: r.line_no):
                summary = self.summary
                summary.lines += 1
                if result.exit_code == 0:
                    summary.paid += 1
                    summary.replayed += bool(result.outcome and result.outcome.replayed)
                else:
                    error = result.error or (result.outcome.error if result.outcome else None)
                    summary.refused[error.slug if error else "unknown"] += 1
                self._emit(result)

    # -------------------------------------------------------- one worker

    def _work(self, inbox: queue.Queue) -> None:
        connection = HotConnection(self.db)
        try:
            for group in self._groups(inbox):
                try:
                    results = self._run_group(connection, group)
                except WxError as exc:  # a group that could not run: each line says why
                    results = [LineResult(line.line_no, line.buyer, error=exc, key=line.key)
                               for line in group]
                self._report(results)
        finally:
            connection.close()
            self.gateway.close()
            close_thread_connection(self.db)  # the one a slow path may have opened here

    def _groups(self, inbox: queue.Queue) -> Iterator[list[BatchLine]]:
        """Groups of up to `group` purchases: what has arrived, without waiting for more (a
        paced stream is not held back to fill a group). A line whose key is already in the
        group starts the next one, so that it replays the first as a later single buy would."""
        held: BatchLine | None = None
        while True:
            line = held if held is not None else inbox.get()
            held = None
            if line is None:
                return
            if self._stop.is_set():  # interrupted: the rest is not attempted
                while inbox.get() is not None:
                    pass
                return
            group, keys = [line], {(line.buyer, line.key)} if line.key else set()
            while len(group) < self.group:
                try:
                    line = inbox.get_nowait()
                except queue.Empty:
                    break
                if line is None:
                    yield group
                    return
                if line.key and (line.buyer, line.key) in keys:
                    held = line
                    break
                group.append(line)
                if line.key:
                    keys.add((line.buyer, line.key))
            yield group

    def _run_group(self, connection: HotConnection, lines: list[BatchLine]) -> list[LineResult]:
        results: dict[int, LineResult] = {}
        ready: list[BatchLine] = []
        wrong: list[tuple[str, str]] = []  # the funnel's attempts refused for the password
        for line in lines:
            error = line.error or self._check_password(line)
            if error is not None:
                results[line.line_no] = LineResult(line.line_no, line.buyer, error=error)
                if line.request is not None and error.slug == "wrong_password":
                    wrong.append((line.buyer, line.request.item))
            else:
                ready.append(line)
        if wrong:  # one small transaction for the group's; never a key, never the claim's
            with contextlib.suppress(WxError):
                funnel.record_wrong_passwords(self.db, wrong, self.now())
        now = self.now()
        claims = claim_group(connection, self.db, ready, now, results)
        fresh = [(line, claim) for line, claim in claims if claim.order is not None]
        self._flying(fresh, True)
        charged = charge_group(self.gateway, fresh, now, results)
        if charged:
            record_group(connection, self.db, self.gateway, charged, now, results)
        self._flying(fresh, False)
        for line, claim in claims:
            if claim.order is None:  # a replay or a crashed claim taken over
                results[line.line_no] = guarded(
                    line.line_no, line.buyer, lambda c=claim,  # type: ignore[misc]
                                                ln=line: checkout.complete_claim(
                    self.db, self.gateway, c, c.key, ln.key is None, now))
        for line in lines:
            results[line.line_no].key = line.key
        return [results[line.line_no] for line in lines]


    def _flying(self, fresh: list[tuple], claimed: bool) -> None:
        """Orders claimed and not yet settled: what an interrupt must name and release."""
        with self._in_flight_lock:
            for line, claim in fresh:
                if claimed:
                    self._in_flight[(line.buyer, claim.key)] = claim.order.order_no
                else:
                    self._in_flight.pop((line.buyer, claim.key), None)

    def _check_password(self, line: BatchLine) -> WxError | None:
        """Verified once per buyer and password in a batch (a wrong one counts once)."""
        from wxshop_cli.core.paypassword import verify_pay_password

        identity = (line.buyer, line.password or "")
        with self._password_lock:
            if identity in self._passwords:
                return self._passwords[identity]
            try:
                verify_pay_password(self.db, line.buyer, line.password, self.now())
                error = None
            except WxError as exc:
                error = exc
            self._passwords[identity] = error
            return error

    # -------------------------------------------------------- several workers

    def _run_threads(self, lines: Iterable[BatchLine]) -> None:
        queues: list[queue.Queue] = [queue.Queue(maxsize=self.group * 4)
                                     for _ in range(self.workers)]
        failures: list[BaseException] = []

        def worker(inbox: queue.Queue) -> None:
            try:
                self._work(inbox)
            except BaseException as exc:  # reported by the reading thread
                failures.append(exc)
                while inbox.get() is not None:  # keep the reader from blocking
                    pass

        threads = [threading.Thread(target=worker, args=(q,), daemon=True) for q in queues]
        for thread in threads:
            thread.start()
        interrupted = forced = False
        try:
            for n, line in enumerate(lines):
                # The same buyer and key always go to the same worker (a replay, not a race).
                slot = hash((line.buyer, line.key)) if line.key else n
                queues[slot % self.workers].put(line)
        except KeyboardInterrupt:
            interrupted = True
            self._stop.set()  # the groups under way finish; no new one starts
        finally:
            try:
                for inbox in queues:
                    inbox.put(None)
                for thread in threads:
                    thread.join()
            except KeyboardInterrupt:  # a second interrupt: stop waiting for them
                interrupted = forced = True
        if interrupted:
            raise self._interrupted(forced)
        if failures:
            raise failures[0]

    def _interrupted(self, forced: bool) -> Interrupted:
        """What an interrupted batch says: what was done, and how to go on without paying
        twice. Orders still in the bank's hands have their claims given up, so the same
        file's keys take them over at once (asking the gateway first)."""
        from wxshop_cli.core.checkout import release_claim

        with self._in_flight_lock:
            flying = dict(self._in_flight)
        for (buyer, key), _ in flying.items():
            with contextlib.suppress(Exception):  # still interrupted; claims lapse in 60 s
                release_claim(self.db, buyer, key, self.now())
        done = f"interrupted after {self.summary.lines} result lines"
        if flying:
            orders = ", ".join(sorted(flying.values())[:5])
            message = (f"{done}; {len(flying)} payment(s) may have gone through without a "
                       f"result line: {orders}{' …' if len(flying) > 5 else ''}")
        else:
            message = f"{done}; every line after them was not attempted"
        return Interrupted(message, in_flight=sorted(flying.values()),
                           hint="rerun the same file: lines with an idempotency_key replay or "
                                "finish and never pay twice; lines without one would buy "
                                "again, so drop the lines that have a result")
