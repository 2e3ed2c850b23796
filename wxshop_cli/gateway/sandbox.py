"""The sandbox bank and payment platform.

It keeps its own ledger (`gw_*` tables) and commits it in its own transactions, apart from the
merchant's orders, so the two can disagree as they do in real life (a crash after the charge,
a late payment). Card behaviour comes from the test-card table, recorded when a card is bound;
limits come from the BIN table. Knob for crash tests: `WXSHOP_SANDBOX_CHARGE_DELAY` (seconds)
makes a charge wait after the bank has committed it and before the answer returns.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import threading
import time
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from wxshop_cli.clock import beijing
from wxshop_cli.db.models import (
    GatewayCard,
    GatewayCardDay,
    GatewayPayment,
    GatewayRefund,
    MerchantSettings,
)
from wxshop_cli.db.prepared import HotConnection, Prepared, dialect_insert, guarded_increment
from wxshop_cli.db.sql import insert_ignore
from wxshop_cli.gateway.base import (
    FAILED,
    PENDING,
    SUCCESS,
    ChargeRequest,
    ChargeResult,
    RefundResult,
)
from wxshop_cli.money import fee_fen

if TYPE_CHECKING:
    from wxshop_cli.db.engine import Database
    from wxshop_cli.db.prepared import HotTransaction

#: Behaviour slug → the bank's refusal code (the approving ones are absent).
REFUSALS = {
    "decline": "declined",
    "insufficient_funds": "insufficient_funds",
    "frozen": "card_frozen",
}


def transaction_id(now: dt.datetime) -> str:
    """28 digits starting 42, as WeChat Pay's 微信订单号."""
    day = now.astimezone(beijing()).strftime("%Y%m%d")
    return f"4200000001{day}{secrets.randbelow(10**10):010d}"


def refund_id(now: dt.datetime) -> str:
    """29 digits starting 50, as WeChat Pay's 微信退款单号."""
    day = now.astimezone(beijing()).strftime("%Y%m%d")
    return f"5030000001{day}{secrets.randbelow(10**11):011d}"


def _charge_result(row: GatewayPayment) -> ChargeResult:
    return ChargeResult(out_trade_no=row.out_trade_no, status=row.status,
                        transaction_id=row.transaction_id, paid_at=row.paid_at,
                        fee_fen=row.fee_fen, failure_code=row.failure_code)


def _refund_result(row: GatewayRefund) -> RefundResult:
    return RefundResult(out_refund_no=row.out_refund_no, out_trade_no=row.out_trade_no,
                        refund_id=row.refund_id, amount_fen=row.amount_fen, status=row.status,
                        succeeded_at=row.succeeded_at)


def _charge_delay() -> float:
    """The crash-test knob, read before any charge so a bad value changes nothing."""
    raw = os.environ.get("WXSHOP_SANDBOX_CHARGE_DELAY") or "0"
    try:
        delay = float(raw)
    except ValueError:
        delay = -1.0
    if not 0 <= delay <= 3600:
        from wxshop_cli.errors import UsageError

        raise UsageError(f"WXSHOP_SANDBOX_CHARGE_DELAY must be seconds from 0 to 3600, "
                         f"not {raw!r}", slug="invalid_charge_delay", hint="unset it")
    return delay


_FEE_RATE = Prepared(lambda _: select(col(MerchantSettings.fee_rate_ppm)).where(
    col(MerchantSettings.id) == 1))
_PAYMENT = Prepared(lambda _: select(
    col(GatewayPayment.status), col(GatewayPayment.transaction_id), col(GatewayPayment.paid_at),
    col(GatewayPayment.fee_fen), col(GatewayPayment.failure_code),
).where(col(GatewayPayment.out_trade_no) == bindparam("out_trade_no")))
_CARD = Prepared(lambda _: select(
    col(GatewayCard.behaviour), col(GatewayCard.bank_code), col(GatewayCard.single_limit_fen),
    col(GatewayCard.daily_limit_fen)).where(col(GatewayCard.token) == bindparam("token")))
_INSERT_PAYMENT = Prepared(lambda d: dialect_insert(d, GatewayPayment.__table__).values(
    {name: bindparam(name) for name in (
        "out_trade_no", "openid", "card_token", "product", "amount_fen", "rate_ppm",
        "bank_code", "status", "failure_code", "transaction_id", "fee_fen", "created_at",
        "paid_at")}).on_conflict_do_nothing(index_elements=["out_trade_no"]).returning(
    GatewayPayment.__table__.c.out_trade_no))


# The day's spend rises by one conditional upsert (SPEC section 5).
_SPEND = Prepared(lambda d: guarded_increment(
    d, GatewayCardDay.__table__, {"token": "token", "day": "day"}, "used_fen", "used_fen",
    "daily_limit"))


def _result_of(tx: HotTransaction, out_trade_no: str, row: tuple) -> ChargeResult:
    status, txn_id, paid_at, fee, failure_code = row
    return ChargeResult(out_trade_no=out_trade_no, status=status, transaction_id=txn_id,
                        paid_at=tx.from_time(paid_at) if paid_at is not None else None,
                        fee_fen=fee, failure_code=failure_code)


class _AlreadyCharged(Exception):
    """The out_trade_no was charged before: undo this attempt and answer the first."""


class SandboxGateway:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.charge_delay = _charge_delay()
        self._local = threading.local()
        self._cards: dict[str, tuple] = {}

    # ---------------------------------------------------------------- cards

    def register_card(self, *, token: str, behaviour: str, bank_code: str,
                      single_limit_fen: int, daily_limit_fen: int, now: dt.datetime) -> None:
        with self.db.transaction() as session:
            insert_ignore(session, GatewayCard, {
                "token": token, "behaviour": behaviour, "bank_code": bank_code,
                "single_limit_fen": single_limit_fen, "daily_limit_fen": daily_limit_fen,
                "created_at": now,
            }, ["token"])

    # ---------------------------------------------------------------- charges
    #
    # Charges are the bank's half of the purchase hot path: driver SQL compiled once (see
    # db/prepared.py) on a connection this gateway keeps per thread, committed in the bank's
    # own transactions.

    def _hot(self) -> HotConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = HotConnection(self.db)
        return connection

    def close(self) -> None:
        """Give back this thread's connection (a batch worker calls it when it is done)."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def charge(self, *, out_trade_no: str, card_token: str, amount_fen: int, openid: str,
               product: str, now: dt.datetime) -> ChargeResult:
        request = ChargeRequest(out_trade_no, card_token, amount_fen, openid, product)
        return self._charge([request], now, alone=True)[0]

    def charge_many(self, requests: list[ChargeRequest], now: dt.datetime) -> list[ChargeResult]:
        """Charge each order once, committed together in one bank transaction."""
        return self._charge(requests, now, alone=False) if requests else []

    def _charge(self, requests: list[ChargeRequest], now: dt.datetime, *,
                alone: bool) -> list[ChargeResult]:
        try:
            try:
                with self._hot().transaction() as tx:
                    rate_ppm = tx.one(_FEE_RATE)[0]
                    results = [self._charge_in(tx, request, rate_ppm, now, alone)
                               for request in requests]
            except _AlreadyCharged:
                # One charge alone needs no savepoint: its whole transaction was undone.
                with self._hot().transaction(read_only=True) as tx:
                    results = [_result_of(tx, requests[0].out_trade_no, tx.one(
                        _PAYMENT, out_trade_no=requests[0].out_trade_no))]
        except BaseException:
            self.close()  # a broken connection is not kept
            raise
        if self.charge_delay:
            time.sleep(self.charge_delay)
        return results

    def _charge_in(self, tx: HotTransaction, request: ChargeRequest, rate_ppm: int,
                   now: dt.datetime, alone: bool) -> ChargeResult:
        # A charge of an out_trade_no already charged (a retry, or another process at the
        # same moment) undoes its day spend and answers the first: by its savepoint in a
        # batch, by its whole transaction when alone (a round trip less each way).
        if not alone:
            tx.savepoint()
        card = self._card(tx, request.card_token)
        refusal = self._refusal(tx, request.card_token, card, request.amount_fen, now)
        status, paid_at, txn_id, fee = FAILED, None, None, 0
        if refusal is None:
            status = PENDING if card[0] == "timeout" else SUCCESS  # type: ignore[index]  # no refusal: a card
            txn_id, paid_at, fee = transaction_id(now), now, fee_fen(request.amount_fen,
                                                                     rate_ppm)
        inserted = tx.one(_INSERT_PAYMENT, out_trade_no=request.out_trade_no,
                          openid=request.openid, card_token=request.card_token,
                          product=request.product[:200], amount_fen=request.amount_fen,
                          rate_ppm=rate_ppm, bank_code=card[1] if card else "OTHERS",
                          status=status, failure_code=refusal, transaction_id=txn_id,
                          fee_fen=fee, created_at=tx.time(now),
                          paid_at=None if paid_at is None else tx.time(paid_at))
        if inserted is None:
            if alone:
                raise _AlreadyCharged
            tx.rollback_to()
            return _result_of(tx, request.out_trade_no,
                              tx.one(_PAYMENT, out_trade_no=request.out_trade_no))
        if not alone:
            tx.release()
        return ChargeResult(out_trade_no=request.out_trade_no, status=status,
                            transaction_id=txn_id, paid_at=paid_at, fee_fen=fee,
                            failure_code=refusal)

    def _card(self, tx: HotTransaction, token: str) -> tuple | None:
        """A card's behaviour and limits: recorded once at binding and never changed, so
        each process remembers them."""
        found = self._cards.get(token)
        if found is None:
            found = tx.one(_CARD, token=token)
            if found is not None:
                self._cards[token] = found = tuple(found)
        return found

    def _refusal(self, tx: HotTransaction, token: str, card: tuple | None, amount_fen: int,
                 now: dt.datetime) -> str | None:
        if card is None:
            return "unknown_card"
        behaviour, _, single_limit_fen, daily_limit_fen = card
        if behaviour in REFUSALS:
            return REFUSALS[behaviour]
        if amount_fen > single_limit_fen:
            return "single_limit"
        if amount_fen > daily_limit_fen:
            return "daily_limit"
        # The day's spend rises by one conditional upsert, never a sum-then-insert.
        if tx.one(_SPEND, token=token, day=tx.date(now.astimezone(beijing()).date()),
                  used_fen=amount_fen, daily_limit=daily_limit_fen) is None:
            return "daily_limit"
        return None

    def _find(self, out_trade_no: str) -> ChargeResult | None:
        with self.db.transaction(read_only=True) as session:
            row = session.get(GatewayPayment, out_trade_no)
            return _charge_result(row) if row is not None else None

    def query(self, out_trade_no: str, now: dt.datetime) -> ChargeResult | None:
        """A timed-out charge reports success when queried (the bank did take the money)."""
        with self.db.transaction() as session:
            row = session.get(GatewayPayment, out_trade_no)
            if row is None:
                return None
            if row.status == PENDING:
                row.status = SUCCESS
                session.add(row)
            return _charge_result(row)

    # ---------------------------------------------------------------- refunds

    def refund(self, *, out_trade_no: str, out_refund_no: str, amount_fen: int,
               now: dt.datetime) -> RefundResult:
        try:
            return self._refund_once(out_trade_no, out_refund_no, amount_fen, now)
        except IntegrityError:
            with self.db.transaction(read_only=True) as session:
                row = session.execute(select(GatewayRefund).where(
                    col(GatewayRefund.out_refund_no) == out_refund_no)).scalar_one()
                return _refund_result(row)

    def _refund_once(self, out_trade_no: str, out_refund_no: str, amount_fen: int,
                     now: dt.datetime) -> RefundResult:
        with self.db.transaction() as session:
            existing = session.execute(select(GatewayRefund).where(
                col(GatewayRefund.out_refund_no) == out_refund_no)).scalar_one_or_none()
            if existing is not None:
                return _refund_result(existing)
            payment = session.execute(select(GatewayPayment).where(
                col(GatewayPayment.out_trade_no) == out_trade_no).with_for_update()
            ).scalar_one_or_none()
            if payment is None or payment.status not in (SUCCESS, PENDING):
                return RefundResult(out_refund_no, out_trade_no, None, amount_fen, FAILED,
                                    failure_code="no_successful_payment")
            refunded = session.execute(select(func.coalesce(func.sum(GatewayRefund.amount_fen),
                                                            0)).where(
                col(GatewayRefund.out_trade_no) == out_trade_no,
                col(GatewayRefund.status).in_(("SUCCESS", "PROCESSING")))).scalar_one()
            if refunded + amount_fen > payment.amount_fen:
                return RefundResult(out_refund_no, out_trade_no, None, amount_fen, FAILED,
                                    failure_code="exceeds_payment")
            row = GatewayRefund(refund_id=refund_id(now), out_refund_no=out_refund_no,
                                out_trade_no=out_trade_no, amount_fen=amount_fen,
                                fee_fen=-fee_fen(amount_fen, payment.rate_ppm),
                                status="SUCCESS", created_at=now, succeeded_at=now)
            session.add(row)
            session.flush()
            return _refund_result(row)
