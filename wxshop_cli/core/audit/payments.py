"""Checks of the money between the book and the gateway: charges without an order, refunds
against the gateway's refunds, the gateway's refunds without one in the book."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, not_, or_, select
from sqlmodel import col

from wxshop_cli.core.audit.base import IN_FLIGHT, Check, Kind, Violation, is_in
from wxshop_cli.db.models import GatewayPayment, GatewayRefund, Order, Refund


def gateway_payments() -> Check:
    gw = GatewayPayment
    s = (select(col(gw.out_trade_no), col(gw.status), col(gw.amount_fen),
                col(Order.order_no).label("order"))
         .outerjoin(Order, col(Order.order_no) == col(gw.out_trade_no))).subquery()
    c = s.c
    return Check("gateway_payments", [
        Kind("payment_without_order", and_(c.order.is_(None),
                                           is_in(c.status, ("SUCCESS", "PENDING"))),
             lambda r: Violation("payment_without_order", {"out_trade_no": r.out_trade_no},
                                 "an order", None, f"the gateway charged {r.amount_fen} fen "
                                                   f"({r.status}) for no order")),
    ], s, [c.out_trade_no])


_REFUND_STATES = {"success": "SUCCESS", "processing": "PROCESSING", "closed": "CLOSED"}


def refunds(now: dt.datetime) -> Check:
    gw = GatewayRefund
    s = (select(col(Refund.refund_no), col(Refund.order_no), col(Refund.amount_fen),
                col(Refund.status), col(Refund.gateway_refund_id), col(Refund.created_at),
                col(gw.refund_id).label("gw_id"),
                col(gw.status).label("gw_status"), col(gw.amount_fen).label("gw_fen"),
                col(gw.out_trade_no).label("gw_order"))
         .outerjoin(gw, col(gw.out_refund_no) == col(Refund.refund_no))).subquery()
    c = s.c
    known = c.gw_id.is_not(None)
    settled = or_(c.status != "processing", c.created_at <= now - IN_FLIGHT)
    same_state = or_(and_(c.status == "success", c.gw_status == "SUCCESS",
                          c.gateway_refund_id == c.gw_id),
                     and_(c.status == "processing", c.gw_status == "PROCESSING"),
                     and_(c.status == "closed", c.gw_status == "CLOSED"))

    def ids(r):
        return {"refund_no": r.refund_no, "order_no": r.order_no}

    def state_detail(r) -> str:
        if r.status == "success" and r.gw_status == "SUCCESS":
            return (f"the book's gateway refund id {r.gateway_refund_id} is not the "
                    f"gateway's {r.gw_id}")
        return f"the book's refund is {r.status}, the gateway's {r.gw_status}"

    return Check("refunds", [
        Kind("refund_unknown_to_gateway", and_(not_(known), settled,
                                               is_in(c.status, ("success", "processing"))),
             lambda r: Violation("refund_unknown_to_gateway", ids(r), "a gateway refund",
                                 None, f"a {r.status} refund of {r.amount_fen} fen the "
                                       "gateway has no record of")),
        Kind("refund_state_mismatch", and_(known, settled, not_(same_state)),
             lambda r: Violation("refund_state_mismatch", ids(r),
                                 _REFUND_STATES.get(r.status, r.status), r.gw_status,
                                 state_detail(r))),
        Kind("refund_amount_mismatch", and_(known, or_(c.gw_fen != c.amount_fen,
                                                       c.gw_order != c.order_no)),
             lambda r: Violation("refund_amount_mismatch", ids(r), r.amount_fen, r.gw_fen,
                                 f"the gateway refunded {r.gw_fen} fen of {r.gw_order}, the "
                                 f"book {r.amount_fen} fen of {r.order_no}")),
    ], s, [c.refund_no])


def gateway_refunds() -> Check:
    gw = GatewayRefund
    s = (select(col(gw.out_refund_no), col(gw.out_trade_no), col(gw.status), col(gw.amount_fen),
                col(Refund.refund_no).label("book"))
         .outerjoin(Refund, col(Refund.refund_no) == col(gw.out_refund_no))).subquery()
    c = s.c
    return Check("gateway_refunds", [
        Kind("gateway_refund_without_refund", and_(c.book.is_(None), c.status != "CLOSED"),
             lambda r: Violation("gateway_refund_without_refund",
                                 {"refund_no": r.out_refund_no, "out_trade_no": r.out_trade_no},
                                 "a refund in the book", None,
                                 f"the gateway refunded {r.amount_fen} fen ({r.status}) "
                                 "for no refund of the book")),
    ], s, [c.out_refund_no])

