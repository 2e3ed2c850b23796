"""Orders after checkout: settling unknown payments, closing, cancelling, refunding, listing.

States (SPEC section 8): pending_payment → paying → paid → partially_refunded → refunded;
pending_payment/paying → closed on refusal, cancel or timeout. Every state change is a guarded
UPDATE (`WHERE status IN …`), so two processes settling the same order cannot both win, and
stock and limit are given back at most once (the `stock_returned` flag flips once).
A `paying` order is never closed without asking the gateway.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, overload

from sqlalchemy import and_, bindparam, or_, select, update
from sqlmodel import Session, col

from wxshop_cli import clock
from wxshop_cli.core import refunds
from wxshop_cli.core.orderstates import (  # noqa: F401 - callers read them as orders.PAID
    CLOSED,
    PAID,
    PARTIALLY_REFUNDED,
    PAYING,
    PENDING_PAYMENT,
    REFUNDED,
    STATUSES,
    UNSETTLED,
)
from wxshop_cli.core.paging import DEFAULT_LIMIT, Key, Ordering, Page, read_page
from wxshop_cli.db.models import (
    Address,
    Buyer,
    BuyerItemUsage,
    Order,
    Product,
    Promo,
    PromoItem,
    Refund,
)
from wxshop_cli.db.prepared import Prepared, Tx, TxOrSession, as_tx
from wxshop_cli.errors import Conflict, NotFound

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from wxshop_cli.core.checkout.outcome import PlacedOrder
    from wxshop_cli.db.engine import Database
    from wxshop_cli.gateway.base import PaymentGateway

#: Unpaid orders close after this long (a sweep, or lazily when read).
PAYMENT_WINDOW = dt.timedelta(minutes=15)


def order_public(order: Order | PlacedOrder, buyer_name: str, tz: ZoneInfo, *,
                 replayed: bool = False, promo_code: str | None = None) -> dict[str, Any]:
    """The order as `--json` prints it (SPEC section 3), plus a few helpful extras."""
    return {
        "order_no": order.order_no,
        "status": order.status,
        "buyer": buyer_name,
        "item_id": order.item_id,
        "sku": order.sku,
        "title": order.title,
        "promo": promo_code,
        "qty": order.qty,
        "unit_price_fen": order.unit_price_fen,
        "amount_fen": order.amount_fen,
        "refunded_fen": order.refunded_fen,
        "card_id": order.card_id,
        "address_id": order.address_id or None,  # a top-up ships nowhere
        "region_code": order.region_code or None,
        "mobile_masked": _masked(getattr(order, "mobile", None)),
        "transaction_id": order.transaction_id,
        "created_at": clock.iso(order.created_at, tz),
        "paid_at": clock.iso(order.paid_at, tz),
        "closed_at": clock.iso(order.closed_at, tz),
        "close_reason": order.close_reason,
        "idempotency_key": order.idempotency_key,
        "replayed": replayed,
    }


def _masked(mobile: str | None) -> str | None:
    """A top-up's number as it may be shown: 138****8000."""
    if not mobile:
        return None
    from wxshop_cli.core.identity import mask_mobile

    return mask_mobile(mobile)


def orders_public(session: Session, orders: list[Order], tz: ZoneInfo) -> list[dict[str, Any]]:
    buyer_ids = {o.buyer_id for o in orders}
    promo_ids = {o.promo_id for o in orders if o.promo_id is not None}
    names = dict(session.execute(select(col(Buyer.id), col(Buyer.name)).where(
        col(Buyer.id).in_(buyer_ids))).all()) if buyer_ids else {}
    codes = dict(session.execute(select(col(Promo.id), col(Promo.code)).where(
        col(Promo.id).in_(promo_ids))).all()) if promo_ids else {}
    return [order_public(o, names.get(o.buyer_id, "?"), tz, promo_code=codes.get(o.promo_id))
            for o in orders]


def stored_order_public(session: Session, order: Order, tz: ZoneInfo, *,
             replayed: bool = False) -> dict[str, Any]:
    return {**orders_public(session, [order], tz)[0], "replayed": replayed}


def get_order(session: Session, order_no: str, buyer_id: int | None = None) -> Order:
    """An order by number; with `buyer_id`, only that buyer's (others are "not found")."""
    order = session.get(Order, order_no)
    if order is None or (buyer_id is not None and order.buyer_id != buyer_id):
        raise NotFound(f"no order {order_no}", slug="order_not_found",
                       hint="see `wxshop orders list`")
    return order


# ---------------------------------------------------------------- state changes


# One definition of each state change, run by the hot path on a raw connection and by the
# ORM paths through their Session (db.prepared.as_tx): the guards live in one place.
# Parameters are named `b_…`: a Session reserves the column names for its own parameters.
_FLIP_RETURNED = Prepared(lambda _: update(Order).where(
    col(Order.order_no) == bindparam("b_order_no"), col(Order.stock_returned).is_(False)
).values(stock_returned=True))
_ITEM_GIVE_BACK = Prepared(lambda _: update(PromoItem).where(
    col(PromoItem.id) == bindparam("b_item_id")).values(
        sold=col(PromoItem.sold) - bindparam("b_qty")))
_USAGE_GIVE_BACK = Prepared(lambda _: update(BuyerItemUsage).where(
    col(BuyerItemUsage.buyer_id) == bindparam("b_buyer_id"),
    col(BuyerItemUsage.item_id) == bindparam("b_item_id"),
).values(used=BuyerItemUsage.used - bindparam("b_qty")))
_PRODUCT_GIVE_BACK = Prepared(lambda _: update(Product).where(
    col(Product.sku) == bindparam("b_sku")).values(stock=col(Product.stock) + bindparam("b_qty")))


def _unsettled() -> Any:
    """`status IN (...)` spelled with OR: an IN list is expanded per execution, not compiled."""
    return or_(*(col(Order.status) == status for status in UNSETTLED))


_CLOSE = Prepared(lambda _: update(Order).where(
    col(Order.order_no) == bindparam("b_order_no"), _unsettled()
).values(status=CLOSED, closed_at=bindparam("b_now"), close_reason=bindparam("b_reason")))
_MARK_PAYING = Prepared(lambda _: update(Order).where(
    col(Order.order_no) == bindparam("b_order_no"), col(Order.status) == PENDING_PAYMENT
).values(status=PAYING))
_MARK_PAID = Prepared(lambda _: update(Order).where(
    col(Order.order_no) == bindparam("b_order_no"), _unsettled()
).values(status=PAID, transaction_id=bindparam("b_paid_by"), paid_at=bindparam("b_paid_time")))


def give_back(tx: TxOrSession, order: Any) -> bool:
    """Return the order's stock and per-buyer units, at most once (guarded by a flag).
    `tx` is a Session or a hot transaction; `order` anything with the Order's fields."""
    tx = as_tx(tx)
    if tx.rowcount(_FLIP_RETURNED, b_order_no=order.order_no) != 1:
        return False
    return_stock(tx, order.item_id, order.sku, order.qty)
    if order.item_id is not None:
        return_usage(tx, order.buyer_id, order.item_id, order.qty)
    return True


def return_usage(tx: Tx, buyer_id: int, item_id: str, qty: int) -> None:
    """Give back `qty` of the buyer's units of a promo item."""
    tx.execute(_USAGE_GIVE_BACK, b_buyer_id=buyer_id, b_item_id=item_id, b_qty=qty)


def return_stock(tx: Tx, item_id: str | None, sku: str, qty: int) -> None:
    """Give back `qty` units of the promo allocation, or of list-price stock."""
    if item_id is not None:
        tx.execute(_ITEM_GIVE_BACK, b_item_id=item_id, b_qty=qty)
    else:
        tx.execute(_PRODUCT_GIVE_BACK, b_sku=sku, b_qty=qty)


def close(tx: TxOrSession, order: Any, reason: str, now: dt.datetime) -> bool:
    """Close an unpaid order and give its stock and limit back. False if it was not unpaid."""
    tx = as_tx(tx)
    closed = tx.rowcount(_CLOSE, b_order_no=order.order_no, b_now=tx.time(now), b_reason=reason)
    if closed == 1:
        give_back(tx, order)
    return closed == 1


def mark_paying(tx: TxOrSession, order_no: str) -> bool:
    return as_tx(tx).rowcount(_MARK_PAYING, b_order_no=order_no) == 1


def mark_paid(tx: TxOrSession, order: Any, transaction_id: str, paid_at: dt.datetime) -> bool:
    """Record a successful payment. False if the order was already closed (see settle)."""
    tx = as_tx(tx)
    return tx.rowcount(_MARK_PAID, b_order_no=order.order_no, b_paid_by=transaction_id,
                       b_paid_time=tx.time(paid_at)) == 1


def record_charge(tx: TxOrSession, order: Any, result: Any, now: dt.datetime) -> bool:
    """Write the gateway's answer onto the order inside the caller's transaction and onto
    `order` in memory: paid → `paid`; refused → `closed` with stock and limit given back;
    unknown → `paying`. False when the order had moved on meanwhile (another process settled
    or closed it): the caller must read it again."""
    if result is None:
        return True
    if result.paid:
        if not mark_paid(tx, order, result.transaction_id, result.paid_at):
            return False
        order.status, order.transaction_id, order.paid_at = PAID, result.transaction_id, \
            result.paid_at
    elif result.unknown:
        if not mark_paying(tx, order.order_no):
            return order.status == PAYING
        order.status = PAYING
    else:
        reason = result.failure_code or "refused"
        if not close(tx, order, reason, now):
            return False
        order.status, order.closed_at, order.close_reason = CLOSED, now, reason
    return True


def apply_charge(db: Database, gateway: PaymentGateway, order_no: str, result: Any,
                 now: dt.datetime) -> Order:
    """Transaction two for an order read from the book (the settle path; checkout's hot path
    writes the same through `record_charge` on its own connection).

    A success for an order that was closed meanwhile is recorded and refunded at once; an
    unknown answer for a closed order is asked about again, so that a charge the bank took
    after all is refunded too (never a closed order holding money)."""
    late_refund = ask_again = False
    with db.transaction() as session:
        order = session.get_one(Order, order_no)
        if not record_charge(session, order, result, now):
            closed_unpaid = order.status == CLOSED and order.transaction_id is None
            late_refund = result.paid and closed_unpaid
            ask_again = result.unknown and closed_unpaid
            if late_refund:
                session.execute(update(Order).where(col(Order.order_no) == order_no).values(
                    transaction_id=result.transaction_id, paid_at=result.paid_at))
    if ask_again:
        answer = gateway.query(order_no, now)  # no transaction open while the bank answers
        if answer is not None and answer.paid:
            return apply_charge(db, gateway, order_no, answer, now)
    if late_refund:
        refunds.refund_order(db, gateway, order_no, None, None, "paid after the order closed",
                             now, allow_closed=True)
    with db.transaction(read_only=True) as session:
        return session.get_one(Order, order_no)


@overload
def settle(db: Database, gateway: PaymentGateway, order: Order, now: dt.datetime) -> Order: ...


@overload
def settle(db: Database, gateway: PaymentGateway, order: Order | PlacedOrder,
           now: dt.datetime) -> Order | PlacedOrder: ...


def settle(db: Database, gateway: PaymentGateway, order: Order | PlacedOrder,
           now: dt.datetime) -> Order | PlacedOrder:
    """Bring an unpaid order up to date by asking the gateway first.

    A charge the gateway knows about decides the order; with none, a `pending_payment` order
    past the payment window closes. A `paying` order always has a charge at the gateway."""
    if order.status not in UNSETTLED:
        return order
    result = gateway.query(order.order_no, now)
    if result is not None:
        return apply_charge(db, gateway, order.order_no, result, now)
    if order.status == PENDING_PAYMENT and now - order.created_at >= PAYMENT_WINDOW:
        with db.transaction() as session:
            close(session, session.get_one(Order, order.order_no), "payment_timeout", now)
    with db.transaction(read_only=True) as session:
        return session.get_one(Order, order.order_no)


def refund(db: Database, gateway: PaymentGateway, order_no: str, amount_fen: int | None,
           refund_no: str | None, reason: str, now: dt.datetime, *,
           buyer_id: int | None = None) -> tuple[Refund, bool]:
    """`orders refund`: an unknown payment (the bank timed out) is settled first, as `orders
    show` does; then `refunds.refund_order`. Returns (refund, replayed)."""
    refunds.check_refund_no(refund_no)
    reason = refunds.check_reason(reason)
    with db.transaction(read_only=True) as session:
        pending = session.get(Order, order_no)
    if pending is not None and pending.status in UNSETTLED:
        settle(db, gateway, pending, now)
    return refunds.refund_order(db, gateway, order_no, amount_fen, refund_no, reason, now,
                                buyer_id=buyer_id)


def cancel(db: Database, gateway: PaymentGateway, order: Order, now: dt.datetime) -> Order:
    """Cancel an unpaid order (after asking the gateway whether it was charged)."""
    if order.status not in UNSETTLED:
        raise Conflict(f"order {order.order_no} is {order.status}; only unpaid orders can be "
                       "cancelled", slug="order_not_cancellable",
                       hint="refund a paid order with `wxshop orders refund`",
                       order_no=order.order_no)
    order = settle(db, gateway, order, now)
    if order.status == PAYING:
        from wxshop_cli.errors import TryAgain

        raise TryAgain(f"the payment of {order.order_no} is still being decided by the bank",
                       slug="payment_unknown", order_no=order.order_no,
                       hint="try again shortly; `wxshop orders show` settles it")
    if order.status != CLOSED:
        with db.transaction() as session:
            if not close(session, session.get_one(Order, order.order_no), "cancelled", now):
                current = session.get_one(Order, order.order_no)
                raise Conflict(f"order {order.order_no} is {current.status}",
                               slug="order_not_cancellable", order_no=order.order_no,
                               hint="only unpaid orders can be cancelled")
    elif order.close_reason != "cancelled":
        raise Conflict(f"order {order.order_no} is already closed ({order.close_reason})",
                       slug="order_not_cancellable", order_no=order.order_no,
                       hint="nothing to cancel")
    with db.transaction(read_only=True) as session:
        return session.get_one(Order, order.order_no)


def unsettled_orders(session: Session, now: dt.datetime) -> list[Order]:
    """Orders a sweep must look at: every `paying` one, and `pending_payment` ones past the
    payment window."""
    cutoff = now - PAYMENT_WINDOW
    return list(session.execute(select(Order).where(or_(
        col(Order.status) == PAYING,
        and_(col(Order.status) == PENDING_PAYMENT, col(Order.created_at) <= cutoff),
    )).order_by(col(Order.created_at))).scalars())


def purge_expired_keys(session: Session, now: dt.datetime) -> int:
    """Idempotency keys are kept 24 hours; the sweep drops the ones past that."""
    from sqlalchemy import delete

    from wxshop_cli.db.models import IdempotencyKey
    from wxshop_cli.db.sql import rows_changed

    return rows_changed(session, delete(IdempotencyKey).where(
        col(IdempotencyKey.expires_at) <= now, col(IdempotencyKey.state) == "done"))


def close_expired(db: Database, gateway: PaymentGateway, now: dt.datetime) -> dict[str, list[str]]:
    """The sweep: settle unknown payments and close unpaid orders past 15 minutes."""
    with db.transaction(read_only=True) as session:
        unsettled = unsettled_orders(session, now)
    outcome: dict[str, list[str]] = {"closed": [], "paid": [], "still_paying": [],
                                     "unchanged": []}
    for order in unsettled:  # one gateway question per order: the sweep's real work
        order_no = order.order_no
        after = settle(db, gateway, order, now)
        if after.status == CLOSED:
            outcome["closed"].append(order_no)
        elif after.status == PAID:
            outcome["paid"].append(order_no)
        elif after.status == PAYING:
            outcome["still_paying"].append(order_no)
        else:
            outcome["unchanged"].append(order_no)
    return outcome


#: `orders list`: newest first, by the indexes `ix_orders_*_created` (…, created_at, order_no).
ORDERS = Ordering("orders", (Key(Order.created_at, "time", descending=True),
                             Key(Order.order_no, "str", descending=True)))


def list_orders(session: Session, *, buyer_id: int | None, status: str | None,
                promo_id: int | None, day_bounds: tuple[dt.datetime, dt.datetime] | None,
                limit: int = DEFAULT_LIMIT, after: str | None = None) -> Page:
    """One page (of Order rows) of the orders with these filters, newest first, after the
    cursor `after`."""
    query = select(Order)
    if buyer_id is not None:
        query = query.where(col(Order.buyer_id) == buyer_id)
    if status is not None:
        query = query.where(col(Order.status) == status)
    if promo_id is not None:
        query = query.where(col(Order.promo_id) == promo_id)
    if day_bounds is not None:
        query = query.where(col(Order.created_at) >= day_bounds[0],
                            col(Order.created_at) < day_bounds[1])
    return read_page(session, query, ORDERS, limit=limit, after=after)


def address_region(session: Session, address_id: str) -> str | None:
    address = session.get(Address, address_id)
    return address.region_code if address else None
