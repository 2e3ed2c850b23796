"""Refunds (SPEC section 8): full or partial, at most 50 per order, never more than what is
left, within 365 days of payment, idempotent by refund number.

The amount is claimed on the order by one guarded UPDATE (`refunded_fen + amount <=
amount_fen`), so concurrent refunds can never exceed the payment; the refund row is created
`processing` in that same short transaction; the gateway is called outside it; a refusal gives
the amount back, guarded by the refund's own state so it happens once. Refunds do not give
stock or limit back.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, select, update
from sqlmodel import col

from wxshop_cli import clock, money
from wxshop_cli.core import orderstates as states
from wxshop_cli.core.numbers import next_refund_no
from wxshop_cli.db.models import Order, Refund
from wxshop_cli.db.sql import rows_changed
from wxshop_cli.errors import Conflict, InvalidInput, NotFound, WxError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from sqlmodel import Session

    from wxshop_cli.db.engine import Database
    from wxshop_cli.gateway.base import PaymentGateway

MAX_REFUNDS_PER_ORDER = 50
REFUND_WINDOW = dt.timedelta(days=365)
REFUNDABLE = (states.PAID, states.PARTIALLY_REFUNDED)


def refund_public(refund: Refund, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "refund_no": refund.refund_no,
        "order_no": refund.order_no,
        "amount_fen": refund.amount_fen,
        "status": refund.status,
        "reason": refund.reason,
        "created_at": clock.iso(refund.created_at, tz),
        "succeeded_at": clock.iso(refund.succeeded_at, tz),
    }


def check_reason(reason: str) -> str:
    from wxshop_cli.core.text import check_text

    return check_text(reason, field="--reason", limit=200, slug="invalid_reason",
                      required=False)


def check_refund_no(refund_no: str | None) -> None:
    import re

    if refund_no is not None and not re.fullmatch(r"[0-9A-Za-z_-]{1,32}", refund_no):
        raise InvalidInput("refund number: 1-32 characters of 0-9 A-Z a-z _ -",
                           slug="invalid_refund_no", hint="or leave --refund-no out")


def refund_order(db: Database, gateway: PaymentGateway, order_no: str, amount_fen: int | None,
                 refund_no: str | None, reason: str, now: dt.datetime, *,
                 buyer_id: int | None = None, allow_closed: bool = False
                 ) -> tuple[Refund, bool]:
    """Refund a paid order; returns (refund, replayed). `amount_fen` None means what is left.

    Transaction one claims the amount and records the refund `processing`; the gateway is
    asked outside any transaction; transaction two records its answer. An order whose payment
    is still unknown is not refundable here: `orders.refund` settles it first."""
    check_refund_no(refund_no)
    reason = check_reason(reason)
    with db.transaction() as session:
        replayed = _replayed(session, order_no, refund_no, amount_fen, buyer_id)
        if replayed is not None:
            return replayed, True
        refund = _claim(session, order_no, amount_fen, refund_no, reason, now,
                        allow_closed=allow_closed)
    result = gateway.refund(out_trade_no=order_no, out_refund_no=refund.refund_no,
                            amount_fen=refund.amount_fen, now=now)
    with db.transaction() as session:
        refund = _record_answer(session, refund, result)
    if refund.status == "closed":
        raise WxError(f"the gateway refused refund {refund.refund_no}: {result.failure_code}",
                      slug="refund_refused", refund_no=refund.refund_no, order_no=order_no)
    return refund, False


def _replayed(session: Session, order_no: str, refund_no: str | None, amount_fen: int | None,
              buyer_id: int | None) -> Refund | None:
    """The order must exist (and be the buyer's); a refund number used before for the same
    refund is a replay, for another one a conflict."""
    order = session.get(Order, order_no)
    if order is None or (buyer_id is not None and order.buyer_id != buyer_id):
        raise NotFound(f"no order {order_no}", slug="order_not_found",
                       hint="see `wxshop orders list --all`")
    existing = session.get(Refund, refund_no) if refund_no is not None else None
    if existing is None:
        return None
    if existing.order_no != order_no or (amount_fen is not None
                                         and existing.amount_fen != amount_fen):
        raise Conflict(f"refund number {refund_no} was used for another refund",
                       slug="refund_no_reused", refund_no=refund_no,
                       hint="use a new --refund-no")
    return existing


def _claim(session: Session, order_no: str, amount_fen: int | None, refund_no: str | None,
           reason: str, now: dt.datetime, *, allow_closed: bool) -> Refund:
    """Check the order, take the amount from what is left by one guarded UPDATE (which also
    locks the order row, serialising refunds of one order) and add the `processing` refund."""
    order = session.get_one(Order, order_no)
    refundable = REFUNDABLE + ((states.CLOSED,) if allow_closed else ())
    _check_refundable(order, refundable, now)
    left = order.amount_fen - order.refunded_fen
    amount = left if amount_fen is None else amount_fen
    if amount <= 0 or amount > left:
        raise Conflict(f"refund of {money.display(amount)} is more than the "
                       f"{money.display(left)} left to refund on {order_no}",
                       slug="refund_exceeds_paid", order_no=order_no,
                       hint=f"refund at most {money.yuan(left)}")
    claimed = rows_changed(session, update(Order).where(
        col(Order.order_no) == order_no, col(Order.refunded_fen) + amount <= col(Order.amount_fen),
        col(Order.status).in_(refundable),
    ).values(refunded_fen=Order.refunded_fen + amount))
    if claimed != 1:
        raise Conflict(f"refund would exceed what is left on {order_no}",
                       slug="refund_exceeds_paid", order_no=order_no,
                       hint="another refund just took part of it; check `orders show`")
    count = session.execute(select(func.count()).select_from(Refund).where(
        col(Refund.order_no) == order_no)).scalar_one()
    if count >= MAX_REFUNDS_PER_ORDER:
        raise Conflict(f"order {order_no} already has {MAX_REFUNDS_PER_ORDER} refunds",
                       slug="too_many_refunds", order_no=order_no,
                       hint=f"at most {MAX_REFUNDS_PER_ORDER} refunds per order")
    refund = Refund(refund_no=refund_no or next_refund_no(session, now), order_no=order_no,
                    amount_fen=amount, status="processing", reason=reason, created_at=now)
    session.add(refund)
    return refund


def _check_refundable(order: Order, refundable: tuple[str, ...], now: dt.datetime) -> None:
    """Paid (or closed, for a charge taken after the order closed), and within 365 days of
    the payment, which came before `now`."""
    order_no = order.order_no
    if order.status not in refundable or order.paid_at is None:
        raise Conflict(f"order {order_no} is {order.status}; only paid orders can be "
                       "refunded", slug="order_not_refundable", order_no=order_no,
                       hint="`wxshop orders show` tells its state")
    if now < order.paid_at:
        from wxshop_cli.config import current

        raise Conflict(f"order {order_no} was paid after the time given "
                       f"(paid {clock.human(order.paid_at, current().tz)})",
                       slug="refund_before_payment", order_no=order_no,
                       hint="a refund cannot precede its payment; check --now")
    if now - order.paid_at > REFUND_WINDOW:
        raise Conflict(f"order {order_no} was paid more than 365 days ago",
                       slug="refund_window_passed", order_no=order_no,
                       hint="refunds are possible within 365 days of payment")


def _record_answer(session: Session, refund: Refund, result: Any) -> Refund:
    """Transaction two: a success marks the refund and the order's state; a refusal closes
    the refund and gives the amount back, once (guarded by the refund's own state); an answer
    still processing leaves it for reconciliation to match."""
    refund_no, order_no, amount = refund.refund_no, refund.order_no, refund.amount_fen
    if result.status == "SUCCESS":
        session.execute(update(Refund).where(
            col(Refund.refund_no) == refund_no, col(Refund.status) == "processing"
        ).values(status="success", succeeded_at=result.succeeded_at,
                 gateway_refund_id=result.refund_id))
        session.execute(update(Order).where(col(Order.order_no) == order_no).values(
            status=case((col(Order.refunded_fen) >= col(Order.amount_fen), states.REFUNDED),
                        else_=states.PARTIALLY_REFUNDED)))
    elif result.status != "PROCESSING":
        gave_back = rows_changed(session, update(Refund).where(
            col(Refund.refund_no) == refund_no, col(Refund.status) == "processing"
        ).values(status="closed"))
        if gave_back == 1:
            session.execute(update(Order).where(col(Order.order_no) == order_no).values(
                refunded_fen=Order.refunded_fen - amount))
    return session.get_one(Refund, refund_no)


def refunds_of(session, order_no: str) -> list[Refund]:
    return list(session.execute(select(Refund).where(col(Refund.order_no) == order_no).order_by(
        col(Refund.created_at), col(Refund.refund_no))).scalars())
