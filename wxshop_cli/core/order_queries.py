"""What `wxshop orders` reads: the order list with its filters, one order with its refunds
(settled with the gateway first), and a buyer's own order. Each returns the public JSON
shape (SPEC section 3); the command renders it after the transaction."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session, col

from wxshop_cli.core import orders
from wxshop_cli.core.buyers import find_buyer
from wxshop_cli.core.paging import DEFAULT_LIMIT, Page, check_limit, empty_page
from wxshop_cli.db.models import Order, Promo
from wxshop_cli.errors import NotFound

if TYPE_CHECKING:
    from wxshop_cli.db.engine import Database
    from wxshop_cli.gateway.base import PaymentGateway


def order_list(session: Session, *, buyer: str | None, status: str | None,
               promo: str | None, day: dt.date | None, tz: ZoneInfo,
               limit: int = DEFAULT_LIMIT, after: str | None = None) -> Page:
    """A page of orders newest first: `buyer`'s (None: every buyer's), with a status, of a
    promotion (by code; unknown: NotFound `promo_not_found`), created on `day` in `tz`. A
    buyer who never bought has no orders."""
    check_limit(limit)
    promo_id = None
    if promo is not None:
        promo_id = session.execute(select(col(Promo.id)).where(col(Promo.code) == promo)).scalar()
        if promo_id is None:
            raise NotFound(f"no promotion {promo!r}", slug="promo_not_found")
    buyer_id = None
    if buyer is not None:
        found = find_buyer(session, buyer)
        if found is None:
            return empty_page(orders.ORDERS, limit=limit, after=after)
        buyer_id = found.id
    bounds = None
    if day is not None:
        start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
        bounds = (start.astimezone(dt.UTC), (start + dt.timedelta(days=1)).astimezone(dt.UTC))
    page = orders.list_orders(session, buyer_id=buyer_id, status=status, promo_id=promo_id,
                              day_bounds=bounds, limit=limit, after=after)
    page.rows = orders.orders_public(session, page.rows, tz)
    return page


def buyer_order(session: Session, buyer: str, order_no: str) -> Order:
    """One of `buyer`'s orders (NotFound `order_not_found` for anyone else's)."""
    found = find_buyer(session, buyer)
    if found is None:
        raise NotFound(f"no order {order_no}", slug="order_not_found")
    return orders.get_order(session, order_no, found.id)


def order_with_refunds(db: Database, gateway: PaymentGateway, order_no: str, now: dt.datetime,
                       tz: ZoneInfo, *, settle: bool = True) -> dict[str, Any]:
    """One order's public shape with its refunds; with `settle`, an unknown payment is first
    asked of the gateway (outside any transaction)."""
    from wxshop_cli.core import refunds

    with db.transaction(read_only=True) as session:
        order = orders.get_order(session, order_no)
    if settle:
        order = orders.settle(db, gateway, order, now)
    with db.transaction(read_only=True) as session:
        shown = orders.stored_order_public(session, order, tz)
        shown["refunds"] = [refunds.refund_public(r, tz)
                            for r in refunds.refunds_of(session, order_no)]
    return shown
