"""One group of a batch, in three steps that each commit once: the claims (transaction one,
a savepoint per line), the bank's charges (one call), the outcomes (transaction two). Each
step writes the results of the lines it settles into `results` (line number → result)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wxshop_cli.core import checkout
from wxshop_cli.core.bulkbuy.lines import BatchLine
from wxshop_cli.core.bulkbuy.results import LineResult, guarded
from wxshop_cli.core.buyers import openid_of
from wxshop_cli.db.prepared import HotConnection
from wxshop_cli.errors import TryAgain, WxError
from wxshop_cli.gateway.base import ChargeRequest

if TYPE_CHECKING:
    from wxshop_cli.db.engine import Database
    from wxshop_cli.db.prepared import HotTransaction
    from wxshop_cli.gateway.base import PaymentGateway

#: A group whose transaction hit a busy database or a deadlock is tried again this often.
GROUP_TRIES = 3


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


def claim_group(connection: HotConnection, db: Database, lines: list[BatchLine], now: dt.datetime,
                results: dict[int, LineResult]) -> list[tuple]:
    """Transaction one for the whole group, a savepoint per line. Lines are claimed in
    item order, so that groups racing in other workers (PostgreSQL) lock the items' rows
    in one order and cannot deadlock on them; a group that still meets a deadlock or a
    busy database is tried again whole (nothing of it was committed)."""
    # (a group holds parsed lines only: each has its request)
    in_lock_order = sorted(lines, key=lambda line: line.request.item)  # type: ignore[union-attr]
    for attempt in range(GROUP_TRIES):
        try:
            with connection.transaction() as tx:
                claims, failed = _claim_lines(tx, db, in_lock_order, now)
        except TryAgain as exc:
            if attempt + 1 < GROUP_TRIES and exc.slug == "database_busy":
                continue
            for line in lines:
                results[line.line_no] = LineResult(line.line_no, line.buyer, error=exc)
            return []
        results.update(failed)
        return claims
    return []  # unreachable: the last try returns


def _claim_lines(tx: HotTransaction, db: Database, lines: list[BatchLine],
                 now: dt.datetime) -> tuple[list[tuple], dict[int, LineResult]]:
    """Each line's claim in its savepoint: the claims made, and the lines refused."""
    claims: list[tuple[BatchLine, Any]] = []
    failed: dict[int, LineResult] = {}
    for line in lines:
        key = line.key or checkout.new_idempotency_key()
        tx.savepoint()
        try:
            claim = checkout.claim_in(tx, db, line.buyer, line.request,  # type: ignore[arg-type]
                                      key, line.key is None, now)
        except WxError as exc:
            tx.rollback_to()  # the key is not used up: nothing was bought
            if line.key:
                exc.extra.setdefault("idempotency_key", key)
            failed[line.line_no] = LineResult(line.line_no, line.buyer, error=exc)
            continue
        tx.release()
        claim.key = key
        claims.append((line, claim))
    return claims, failed


def charge_group(gateway: PaymentGateway, fresh: list[tuple], now: dt.datetime,
                 results: dict[int, LineResult]) -> list[tuple]:
    """The bank's charges of the group's fresh orders, in one call: (line, claim, answer)."""
    if not fresh:
        return []
    requests = [ChargeRequest(claim.order.order_no, claim.order.card_id,
                              claim.order.amount_fen, openid_of(line.buyer),
                              claim.order.title) for line, claim in fresh]
    try:
        answers = _retried(lambda: gateway.charge_many(requests, now))
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


def record_group(connection: HotConnection, db: Database, gateway: PaymentGateway,
                 charged: list[tuple], now: dt.datetime, results: dict[int, LineResult]) -> None:
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
        results[line.line_no] = guarded(
            line.line_no, line.buyer, lambda c=claim, a=answer,  # type: ignore[misc]
                                        ln=line: checkout.settle_slowly(
            db, gateway, c.order, a, c.key, ln.key is None, now))
