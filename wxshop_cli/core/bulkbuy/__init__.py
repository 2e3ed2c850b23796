"""Many purchases in one process (`wxshop buy --from FILE|-`, SPEC section 13).

Every line goes through the same claim → bank → outcome as `wxshop buy` (checkout.claim_in,
checkout.record_outcome): sold out, limits and idempotency behave exactly as single buys.
What a batch adds:

- **group commit**: up to `group` claims share one transaction (a savepoint each), the bank
  charges them in one of its own transactions, and their outcomes share the next one. A line's
  result is handed to `emit` only after its outcome committed, so a crash never shows a
  purchase that did not happen.
- **workers**: threads, each with its own connection, working the stream (on PostgreSQL the
  server does the work in parallel; on SQLite writers take turns at the write lock).
- each buyer's payment password is verified once per batch (the lock rules still apply).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from wxshop_cli.core import checkout
from wxshop_cli.db.prepared import HotConnection, close_thread_connection
from wxshop_cli.errors import Interrupted, InvalidInput, TryAgain, UsageError, WxError
from wxshop_cli.gateway.base import ChargeRequest

#: The fields a line may have.
FIELDS = {"buyer", "item", "qty", "region", "address", "card", "idempotency_key",
          "pay_password"}
MAX_LINE_CHARS = 4096
#: Exit code of a batch that ran but where some lines were not paid (each line carries its
#: own exit code). 0: every line paid. Anything else: the batch could not run.
SOME_NOT_PAID = 10
#: A group whose transaction hit a busy database or a deadlock is tried again this often.
GROUP_TRIES = 3


@dataclass
class BatchLine:
    """One input line: a purchase, or the error that the line itself carries."""

    line_no: int
    buyer: str = ""
    request: checkout.BuyRequest | None = None
    key: str | None = None
    password: str | None = None
    error: WxError | None = None


@dataclass
class LineResult:
    line_no: int
    buyer: str
    outcome: checkout.Outcome | None = None
    error: WxError | None = None
    key: str | None = None  # the line's own idempotency key, if it gave one

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return self.error.exit_code
        return self.outcome.exit_code if self.outcome is not None else 1


@dataclass
class BatchSummary:
    lines: int = 0
    paid: int = 0
    replayed: int = 0
    refused: Counter = field(default_factory=Counter)  # error slug → lines
    seconds: float = 0.0

    @property
    def not_paid(self) -> int:
        return sum(self.refused.values())

    @property
    def orders_per_second(self) -> float:
        return self.paid / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        return 0 if self.not_paid == 0 else SOME_NOT_PAID


def _retried(step: Callable[[], Any]) -> Any:
    """Run a transaction step again when the database was busy or chose it as a deadlock's
    victim (it was rolled back whole, so running it again is safe)."""
    for attempt in range(GROUP_TRIES):
        try:
            return step()
        except TryAgain as exc:
            if exc.slug != "database_busy" or attempt + 1 == GROUP_TRIES:
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


# ---------------------------------------------------------------- parsing


def parse_line(raw: bytes | str, line_no: int, *, default_buyer: str,
               default_password: str | None) -> BatchLine:
    """A JSON object per line (UTF-8; a byte-order mark on line 1 is dropped). A mistyped
    value is a usage error (2) of that line, a value that breaks a rule invalid input (3), as
    on the command line. The line's buyer and key are kept for its result even when it is
    refused."""
    line = BatchLine(line_no=line_no, buyer=default_buyer)
    try:
        data = _decode(raw, line_no)
        buyer, key = data.get("buyer"), data.get("idempotency_key")
        if isinstance(buyer, str) and buyer:
            line.buyer = buyer
        if isinstance(key, str):
            line.key = key
        if getattr(data, "repeated", None) is not None:
            raise InvalidInput(f"field {data.repeated!r} given twice",
                               slug="invalid_batch_line", hint="each field once per line")
        line.buyer, line.request, line.key, line.password = _parse(
            data, default_buyer, default_password)
    except WxError as exc:
        line.error = exc
    return line


class _Fields(dict):
    """A JSON object that remembers a field given twice (refused: which one was meant?)."""

    repeated: str | None = None


def _fields(pairs: list[tuple[str, Any]]) -> _Fields:
    fields = _Fields()
    for name, value in pairs:
        if name in fields and fields.repeated is None:
            fields.repeated = name
        fields.setdefault(name, value)
    return fields


def _decode(raw: bytes | str, line_no: int) -> dict[str, Any]:
    if len(raw) > MAX_LINE_CHARS * 4:
        raise InvalidInput(f"line longer than {MAX_LINE_CHARS} characters",
                           slug="invalid_batch_line", hint="one purchase per line")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("not UTF-8 text", slug="invalid_batch_line",
                               hint="JSON lines in UTF-8") from None
    text = raw.strip()
    if len(text) > MAX_LINE_CHARS:
        raise InvalidInput(f"line longer than {MAX_LINE_CHARS} characters",
                           slug="invalid_batch_line", hint="one purchase per line")
    try:
        data = json.loads(text, object_pairs_hook=_fields)
    except ValueError as exc:
        msg = getattr(exc, "msg", "malformed")
        raise InvalidInput(f"not JSON: {msg}" + (f" at column {exc.colno}"
                                                 if hasattr(exc, "colno") else ""),
                           slug="invalid_batch_line",
                           hint='one object per line, e.g. {"item": "YX-1001"}') from None
    if not isinstance(data, dict):
        raise InvalidInput("a line must be a JSON object", slug="invalid_batch_line",
                           hint='e.g. {"buyer": "b1", "item": "YX-1001", "qty": 1}')
    return data


def _parse(data: dict[str, Any], default_buyer: str, default_password: str | None) -> tuple:
    from wxshop_cli.config import check_buyer_name

    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}", slug="invalid_batch_line",
                           hint=f"fields: {', '.join(sorted(FIELDS))}")
    strings = {name: data.get(name) for name in FIELDS - {"qty"}}
    for name, value in strings.items():
        if value is not None and not isinstance(value, str):
            raise UsageError(f"{name} must be a string", slug="invalid_batch_line",
                             hint=f'e.g. "{name}": "…"')
    qty = data.get("qty", 1)
    if isinstance(qty, bool) or not isinstance(qty, int):
        raise UsageError("qty must be an integer", slug="invalid_batch_line",
                         hint='e.g. "qty": 2')
    if strings["item"] is None:
        raise UsageError("item is missing", slug="invalid_batch_line",
                         hint='every line names an item: "item": "item_…" or a SKU')
    buyer = strings["buyer"] or default_buyer
    check_buyer_name(buyer)
    request = checkout.BuyRequest(item=strings["item"], qty=qty, region=strings["region"],
                                  address=strings["address"], card=strings["card"])
    checkout.check_request(request, strings["idempotency_key"])
    password = strings["pay_password"] or default_password
    if password is None:
        raise UsageError("no payment password", slug="missing_value",
                         hint="set WXSHOP_PAY_PASSWORD or give pay_password on the line")
    return buyer, request, strings["idempotency_key"], password


# ---------------------------------------------------------------- running


class BatchBuy:
    """Runs parsed lines through checkout with group commit and worker threads."""

    def __init__(self, db: Any, gateway: Any, now: Callable[[], dt.datetime], *,
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
        for line in lines:
            error = line.error or self._check_password(line)
            if error is not None:
                results[line.line_no] = LineResult(line.line_no, line.buyer, error=error)
            else:
                ready.append(line)
        now = self.now()
        claims = self._claim_group(connection, ready, now, results)
        fresh = [(line, claim) for line, claim in claims if claim.order is not None]
        self._flying(fresh, True)
        charged = self._charge(fresh, now, results)
        if charged:
            self._record_outcomes(connection, charged, now, results)
        self._flying(fresh, False)
        for line, claim in claims:
            if claim.order is None:  # a replay or a crashed claim taken over
                results[line.line_no] = self._guarded(line, lambda c=claim, ln=line: (
                    checkout.complete_claim(self.db, self.gateway, c, c.key, ln.key is None,
                                            now)))
        for line in lines:
            results[line.line_no].key = line.key
        return [results[line.line_no] for line in lines]

    def _claim_group(self, connection: HotConnection, lines: list[BatchLine],
                     now: dt.datetime, results: dict[int, LineResult]) -> list[tuple]:
        """Transaction one for the whole group, a savepoint per line. Lines are claimed in
        item order, so that groups racing in other workers (PostgreSQL) lock the items' rows
        in one order and cannot deadlock on them; a group that still meets a deadlock or a
        busy database is tried again whole (nothing of it was committed)."""
        in_lock_order = sorted(lines, key=lambda line: line.request.item)
        for attempt in range(GROUP_TRIES):
            claims: list[tuple[BatchLine, Any]] = []
            failed: dict[int, LineResult] = {}
            try:
                with connection.transaction() as tx:
                    for line in in_lock_order:
                        key = line.key or checkout.new_idempotency_key()
                        tx.savepoint()
                        try:
                            claim = checkout.claim_in(tx, self.db, line.buyer, line.request,
                                                      key, line.key is None, now)
                        except WxError as exc:
                            tx.rollback_to()  # the key is not used up: nothing was bought
                            if line.key:
                                exc.extra.setdefault("idempotency_key", key)
                            failed[line.line_no] = LineResult(line.line_no, line.buyer,
                                                              error=exc)
                            continue
                        tx.release()
                        claim.key = key
                        claims.append((line, claim))
            except TryAgain as exc:
                if attempt + 1 < GROUP_TRIES and exc.slug == "database_busy":
                    continue
                for line in lines:
                    results[line.line_no] = LineResult(line.line_no, line.buyer, error=exc)
                return []
            results.update(failed)
            return claims
        return []  # unreachable: the last try returns

    def _charge(self, fresh: list[tuple], now: dt.datetime,
                results: dict[int, LineResult]) -> list[tuple]:
        if not fresh:
            return []
        requests = [ChargeRequest(claim.order.order_no, claim.order.card_id,
                                  claim.order.amount_fen, checkout.openid_of(line.buyer),
                                  claim.order.title) for line, claim in fresh]
        try:
            answers = _retried(lambda: self.gateway.charge_many(requests, now))
        except WxError as exc:
            # The bank's answer is unknown: each order stays claimed under its key, and a
            # retry with the same key asks the gateway first.
            for line, claim in fresh:
                error = TryAgain(f"the bank could not be asked about order "
                                 f"{claim.order.order_no}: {exc.message}",
                                 slug="payment_unknown", order_no=claim.order.order_no,
                                 idempotency_key=claim.key,
                                 hint="retry the line with the same key in a minute")
                results[line.line_no] = LineResult(line.line_no, line.buyer, error=error)
            return []
        return [(line, claim, answer) for (line, claim), answer in zip(fresh, answers,
                                                                         strict=True)]

    def _record_outcomes(self, connection: HotConnection, charged: list[tuple],
                         now: dt.datetime, results: dict[int, LineResult]) -> None:
        """Transaction two for the whole group: every outcome with its key's final state
        (items given back in item order; tried again whole on a deadlock)."""
        charged = sorted(charged, key=lambda entry: entry[1].order.item_id or "")

        def record() -> tuple[dict[int, LineResult], list[tuple]]:
            done, slow = {}, []
            with connection.transaction() as tx:
                for line, claim, answer in charged:
                    order = dataclasses.replace(claim.order)  # a retry starts from the claim
                    outcome = checkout.record_outcome(tx, order, answer, claim.key,
                                                      line.key is None, now)
                    if outcome is None:
                        slow.append((line, claim, answer))
                    else:
                        done[line.line_no] = LineResult(line.line_no, line.buyer, outcome)
            return done, slow

        try:
            done, slow = _retried(record)
        except WxError as exc:
            for line, claim, _ in charged:
                results[line.line_no] = LineResult(line.line_no, line.buyer, error=TryAgain(
                    f"the outcome of order {claim.order.order_no} could not be recorded: "
                    f"{exc.message}", slug="payment_unknown", order_no=claim.order.order_no,
                    idempotency_key=claim.key,
                    hint="retry the line with the same key in a minute (it asks the bank)"))
            return
        results.update(done)
        for line, claim, answer in slow:  # closed or settled by someone else meanwhile
            results[line.line_no] = self._guarded(line, lambda c=claim, a=answer, ln=line: (
                checkout.settle_slowly(self.db, self.gateway, c.order, a, c.key,
                                       ln.key is None, now)))

    def _flying(self, fresh: list[tuple], claimed: bool) -> None:
        """Orders claimed and not yet settled: what an interrupt must name and release."""
        with self._in_flight_lock:
            for line, claim in fresh:
                if claimed:
                    self._in_flight[(line.buyer, claim.key)] = claim.order.order_no
                else:
                    self._in_flight.pop((line.buyer, claim.key), None)

    def _guarded(self, line: BatchLine, step: Callable[[], checkout.Outcome]) -> LineResult:
        try:
            return LineResult(line.line_no, line.buyer, step())
        except WxError as exc:
            return LineResult(line.line_no, line.buyer, error=exc)

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
