"""The check of every order, in one pass over the orders joined to their gateway payment and
their refunds: the order's own shape and stock, its payment, its refunds."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, case, func, not_, or_, select
from sqlmodel import col

from wxshop_cli.core import orders as states
from wxshop_cli.core.audit.base import (
    IN_FLIGHT,
    ORDER_NO_FORM,
    PAID_LIKE,
    Check,
    Kind,
    Violation,
    is_in,
    order_no_malformed,
)
from wxshop_cli.core.refunds import MAX_REFUNDS_PER_ORDER
from wxshop_cli.db.models import GatewayPayment, Order, PromoItem, Refund


def orders(dialect: str, now: dt.datetime) -> Check:
    s = _order_rows()
    c = s.c
    return Check("orders", [*_shape_kinds(c, dialect), *_payment_kinds(c, now),
                            *_refund_kinds(c)], s, [c.order_no])


def _order_rows() -> Any:
    """Each order with its gateway payment, its refunds summed, and whether its item exists."""
    refunds = (select(col(Refund.order_no), func.count().label("n"),
                      func.sum(case((col(Refund.status).in_(("success", "processing")),
                                     Refund.amount_fen), else_=0)).label("active_fen"),
                      func.sum(case((col(Refund.status) == "success", 1), else_=0)).label("ok"))
               .group_by(Refund.order_no).subquery())
    gw = GatewayPayment
    return (select(col(Order.order_no), col(Order.buyer_id), col(Order.item_id),
                   col(Order.status), col(Order.qty),
                   col(Order.unit_price_fen), col(Order.amount_fen), col(Order.refunded_fen),
                   col(Order.transaction_id), col(Order.stock_returned), col(Order.closed_at),
                   col(gw.status).label("gw_status"), col(gw.amount_fen).label("gw_fen"),
                   col(gw.transaction_id).label("gw_txn"), col(gw.created_at).label("gw_at"),
                   func.coalesce(refunds.c.n, 0).label("refunds"),
                   func.coalesce(refunds.c.active_fen, 0).label("active_fen"),
                   func.coalesce(refunds.c.ok, 0).label("refunds_ok"),
                   col(PromoItem.id).label("known_item"))
            .outerjoin(gw, col(gw.out_trade_no) == col(Order.order_no))
            .outerjoin(refunds, refunds.c.order_no == Order.order_no)
            .outerjoin(PromoItem, col(PromoItem.id) == col(Order.item_id))).subquery()


def _ids(r: Any) -> dict[str, Any]:
    return {"order_no": r.order_no, "buyer_id": r.buyer_id}


# In each condition the test that is rarely true comes first: SQLite stops there.


def _shape_kinds(c: Any, dialect: str) -> list[Kind]:
    """The order's number, amount, item, and whether it holds stock as its state says."""
    returned = c.stock_returned.is_(True)
    return [
        Kind("order_no_malformed", order_no_malformed(c.order_no, dialect),
             lambda r: Violation("order_no_malformed", _ids(r), ORDER_NO_FORM, r.order_no,
                                 f"order number {r.order_no!r} is not {ORDER_NO_FORM}")),
        Kind("order_amount_wrong", or_(c.qty < 1, c.amount_fen != c.unit_price_fen * c.qty),
             lambda r: Violation("order_amount_wrong", _ids(r), r.unit_price_fen * r.qty,
                                 r.amount_fen, f"{r.qty} × {r.unit_price_fen} fen is not "
                                               f"the amount {r.amount_fen} fen")),
        Kind("order_item_missing", and_(c.known_item.is_(None), c.item_id.is_not(None)),
             lambda r: Violation("order_item_missing", {**_ids(r), "item_id": r.item_id},
                                 "a promo item", None,
                                 f"the order's promo item {r.item_id} does not exist")),
        Kind("closed_order_holds_stock", and_(c.status == states.CLOSED, not_(returned)),
             lambda r: Violation("closed_order_holds_stock", _ids(r), "stock returned",
                                 "stock held", f"closed, but its {r.qty} unit(s) were never "
                                               "given back")),
        Kind("stock_returned_while_active", and_(returned, or_(
            is_in(c.status, (states.PENDING_PAYMENT, states.PAYING, states.PAID,
                             states.PARTIALLY_REFUNDED)),
            and_(c.status == states.REFUNDED, c.closed_at.is_(None)))),
             lambda r: Violation("stock_returned_while_active", _ids(r), "stock held",
                                 "stock returned", f"a {r.status} order gave its {r.qty} "
                                                   "unit(s) back")),
    ]


def _payment_kinds(c: Any, now: dt.datetime) -> list[Kind]:
    """The order against the gateway's payment of it."""
    charged = or_(is_in(c.status, PAID_LIKE), c.transaction_id.is_not(None))
    gw_ok = c.gw_status == "SUCCESS"
    covered = and_(c.transaction_id.is_not(None), c.active_fen >= c.gw_fen)
    return [
        Kind("payment_missing", and_(or_(c.gw_status.is_(None), not_(gw_ok)), charged),
             lambda r: Violation("payment_missing", _ids(r), "SUCCESS", r.gw_status,
                                 f"a {r.status} order without a successful payment at the "
                                 f"gateway ({r.gw_status or 'none'})")),
        Kind("payment_amount_mismatch", and_(c.gw_fen != c.amount_fen, gw_ok, charged),
             lambda r: Violation("payment_amount_mismatch", _ids(r), r.amount_fen, r.gw_fen,
                                 f"the gateway charged {r.gw_fen} fen for an order of "
                                 f"{r.amount_fen} fen")),
        Kind("payment_txn_mismatch", and_(or_(
            c.transaction_id.is_(None), c.gw_txn.is_(None), c.transaction_id != c.gw_txn),
            gw_ok, charged),
             lambda r: Violation("payment_txn_mismatch", _ids(r), r.gw_txn, r.transaction_id,
                                 "the order's transaction id is not the gateway's")),
        Kind("closed_order_charged", and_(c.status == states.CLOSED,
                                          is_in(c.gw_status, ("SUCCESS", "PENDING")),
                                          not_(covered), c.gw_at <= now - IN_FLIGHT),
             lambda r: Violation("closed_order_charged", _ids(r), r.gw_fen, r.active_fen,
                                 f"closed, but charged {r.gw_fen} fen at the gateway "
                                 f"({r.gw_status}) with {r.active_fen} fen refunded"
                                 + ("" if r.transaction_id else
                                    " and the charge not recorded on the order"))),
        Kind("paying_without_charge", and_(c.status == states.PAYING, or_(
            c.gw_status.is_(None), c.gw_status == "FAILED")),
             lambda r: Violation("paying_without_charge", _ids(r), "PENDING or SUCCESS",
                                 r.gw_status, "a paying order the gateway has "
                                              + ("refused" if r.gw_status else
                                                 "no charge for"))),
    ]


def _refund_kinds(c: Any) -> list[Kind]:
    """The order's refunds: how many, how much, and the state they give the order."""
    return [
        Kind("too_many_refunds", c.refunds > MAX_REFUNDS_PER_ORDER,
             lambda r: Violation("too_many_refunds", _ids(r), MAX_REFUNDS_PER_ORDER,
                                 r.refunds, f"{r.refunds} refunds, at most "
                                            f"{MAX_REFUNDS_PER_ORDER} per order")),
        Kind("refunds_exceed_amount", c.active_fen > c.amount_fen,
             lambda r: Violation("refunds_exceed_amount", _ids(r), r.amount_fen, r.active_fen,
                                 f"refunds of {r.active_fen} fen on an order of "
                                 f"{r.amount_fen} fen")),
        Kind("refunded_fen_mismatch", c.refunded_fen != c.active_fen,
             lambda r: Violation("refunded_fen_mismatch", _ids(r), r.active_fen,
                                 r.refunded_fen, f"refunded_fen is {r.refunded_fen}, its "
                                                 "successful and processing refunds sum to "
                                                 f"{r.active_fen}")),
        Kind("refund_status_mismatch", or_(
            and_(c.active_fen > 0, c.transaction_id.is_(None)),
            and_(c.refunds_ok > 0, not_(is_in(c.status, (states.PARTIALLY_REFUNDED,
                                                          states.REFUNDED)))),
            and_(c.status == states.REFUNDED, c.refunded_fen != c.amount_fen),
            and_(c.status == states.PARTIALLY_REFUNDED, c.refunds_ok == 0)),
             lambda r: Violation("refund_status_mismatch", _ids(r),
                                 _expected_refund_status(r), r.status, _status_problem(r))),
    ]


def _status_problem(r: Any) -> str:
    if r.active_fen > 0 and r.transaction_id is None:
        return "refunds of an order that was never paid"
    if r.refunds_ok and r.status not in (states.PARTIALLY_REFUNDED, states.REFUNDED):
        return f"{r.refunds_ok} successful refund(s), but the order is {r.status}"
    if r.status == states.REFUNDED:
        return (f"refunded, but {r.refunded_fen} of {r.amount_fen} fen are refunded")
    return "partially_refunded without a successful refund"


def _expected_refund_status(r: Any) -> str:
    if r.transaction_id is None:
        return "no refunds"
    if r.refunds_ok == 0:
        return states.PAID
    return states.REFUNDED if r.refunded_fen >= r.amount_fen else states.PARTIALLY_REFUNDED
