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
import time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from wxshop_cli.clock import beijing
from wxshop_cli.db.models import (
    GatewayCard,
    GatewayCardDay,
    GatewayPayment,
    GatewayRefund,
    MerchantSettings,
)
from wxshop_cli.db.sql import affected, dialect_insert, insert_ignore
from wxshop_cli.gateway.base import FAILED, PENDING, SUCCESS, ChargeResult, RefundResult
from wxshop_cli.money import fee_fen

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


class SandboxGateway:
    def __init__(self, db: Any) -> None:
        self.db = db
        self.charge_delay = _charge_delay()

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

    def charge(self, *, out_trade_no: str, card_token: str, amount_fen: int, openid: str,
               product: str, now: dt.datetime) -> ChargeResult:
        try:
            result = self._charge_once(out_trade_no, card_token, amount_fen, openid, product,
                                       now)
        except IntegrityError:
            # Another process charged the same out_trade_no at the same moment: its result
            # is the one result.
            found = self._find(out_trade_no)
            assert found is not None
            return found
        if self.charge_delay:
            time.sleep(self.charge_delay)
        return result

    def _charge_once(self, out_trade_no: str, card_token: str, amount_fen: int, openid: str,
                     product: str, now: dt.datetime) -> ChargeResult:
        with self.db.transaction() as session:
            existing = session.get(GatewayPayment, out_trade_no)
            if existing is not None:
                return _charge_result(existing)
            card = session.get(GatewayCard, card_token)
            rate_ppm = session.get_one(MerchantSettings, 1).fee_rate_ppm
            row = GatewayPayment(out_trade_no=out_trade_no, openid=openid,
                                 card_token=card_token, product=product[:200],
                                 amount_fen=amount_fen, rate_ppm=rate_ppm,
                                 bank_code=card.bank_code if card else "OTHERS",
                                 status=FAILED, created_at=now)
            refusal = self._refusal(session, card, amount_fen, now)
            if refusal is None:
                row.status = PENDING if card.behaviour == "timeout" else SUCCESS
                row.transaction_id = transaction_id(now)
                row.paid_at = now
                row.fee_fen = fee_fen(amount_fen, rate_ppm)
            else:
                row.failure_code = refusal
            session.add(row)
            session.flush()
            return _charge_result(row)

    def _refusal(self, session, card: GatewayCard | None, amount_fen: int,
                 now: dt.datetime) -> str | None:
        if card is None:
            return "unknown_card"
        if card.behaviour in REFUSALS:
            return REFUSALS[card.behaviour]
        if amount_fen > card.single_limit_fen:
            return "single_limit"
        if amount_fen > card.daily_limit_fen:
            return "daily_limit"
        # The day's spend rises by one conditional upsert, never a sum-then-insert.
        day = now.astimezone(beijing()).date()
        statement = dialect_insert(session, GatewayCardDay).values(
            token=card.token, day=day, used_fen=amount_fen)
        table = GatewayCardDay.__table__
        statement = statement.on_conflict_do_update(
            index_elements=["token", "day"],
            set_={"used_fen": table.c.used_fen + statement.excluded.used_fen},
            where=(table.c.used_fen + statement.excluded.used_fen) <= card.daily_limit_fen,
        )
        if not affected(session, statement, ["token"]):
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
                    GatewayRefund.out_refund_no == out_refund_no)).scalar_one()
                return _refund_result(row)

    def _refund_once(self, out_trade_no: str, out_refund_no: str, amount_fen: int,
                     now: dt.datetime) -> RefundResult:
        with self.db.transaction() as session:
            existing = session.execute(select(GatewayRefund).where(
                GatewayRefund.out_refund_no == out_refund_no)).scalar_one_or_none()
            if existing is not None:
                return _refund_result(existing)
            payment = session.execute(select(GatewayPayment).where(
                GatewayPayment.out_trade_no == out_trade_no).with_for_update()
            ).scalar_one_or_none()
            if payment is None or payment.status not in (SUCCESS, PENDING):
                return RefundResult(out_refund_no, out_trade_no, None, amount_fen, FAILED,
                                    failure_code="no_successful_payment")
            refunded = session.execute(select(func.coalesce(func.sum(GatewayRefund.amount_fen),
                                                            0)).where(
                GatewayRefund.out_trade_no == out_trade_no,
                GatewayRefund.status.in_(("SUCCESS", "PROCESSING")))).scalar_one()
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
