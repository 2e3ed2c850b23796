"""Checks of stock and limits: promo items' sold against their orders, list-price stock,
each buyer's units of a limited item against the limit and their orders."""

from __future__ import annotations

from sqlalchemy import func, literal, or_, select, union_all
from sqlmodel import col

from wxshop_cli.core.audit.base import Check, Kind, Violation
from wxshop_cli.db.models import BuyerItemUsage, Order, Product, PromoItem


def promo_items() -> Check:
    held = (select(col(Order.item_id), func.sum(col(Order.qty)).label("units"))
            .where(col(Order.item_id).is_not(None), col(Order.stock_returned).is_(False))
            .group_by(Order.item_id).subquery())
    s = (select(col(PromoItem.id).label("item_id"), col(PromoItem.sku), col(PromoItem.stock_total),
                col(PromoItem.sold), func.coalesce(held.c.units, 0).label("units"))
         .outerjoin(held, held.c.item_id == col(PromoItem.id))).subquery()
    c = s.c

    def ids(r):
        return {"item_id": r.item_id, "sku": r.sku}

    return Check("promo_items", [
        Kind("item_sold_mismatch", c.sold != c.units, lambda r: Violation(
            "item_sold_mismatch", ids(r), r.units, r.sold,
            f"sold is {r.sold}, but its orders that hold stock have {r.units} units")),
        Kind("item_oversold", or_(c.sold > c.stock_total, c.units > c.stock_total),
             lambda r: Violation(
                 "item_oversold", ids(r), r.stock_total, max(r.sold, r.units),
                 f"{max(r.sold, r.units)} units sold of a stock of {r.stock_total} "
                 f"(sold {r.sold}, orders hold {r.units})")),
        Kind("item_sold_negative", c.sold < 0, lambda r: Violation(
            "item_sold_negative", ids(r), 0, r.sold, f"sold is {r.sold}, below zero")),
    ], s, [c.item_id])


def products() -> Check:
    s = select(col(Product.sku), col(Product.stock)).subquery()
    c = s.c
    return Check("products", [
        Kind("product_stock_negative", c.stock < 0, lambda r: Violation(
            "product_stock_negative", {"sku": r.sku}, 0, r.stock,
            f"list-price stock is {r.stock}, below zero")),
    ], s, [c.sku])


def buyer_items() -> Check:
    """Buyer × item of items with a per-buyer limit: the counter against the orders.

    A UNION ALL of the counters and the orders that count, grouped once, is a full outer
    join of the two (a counter without orders, orders without a counter)."""
    both = union_all(
        select(col(BuyerItemUsage.buyer_id), col(BuyerItemUsage.item_id),
               col(BuyerItemUsage.used).label("used"), literal(0).label("units")),
        select(col(Order.buyer_id), col(Order.item_id), literal(0).label("used"),
               col(Order.qty).label("units"))
        .where(col(Order.item_id).is_not(None), col(Order.stock_returned).is_(False)),
    ).subquery()
    s = (select(both.c.buyer_id, both.c.item_id, col(PromoItem.sku),
                col(PromoItem.per_buyer_limit).label("limit"),
                func.sum(both.c.used).label("used"), func.sum(both.c.units).label("units"))
         .join(PromoItem, col(PromoItem.id) == both.c.item_id)
         .where(col(PromoItem.per_buyer_limit).is_not(None))
         .group_by(both.c.buyer_id, both.c.item_id, PromoItem.sku,
                   col(PromoItem.per_buyer_limit))).subquery()
    c = s.c

    def ids(r):
        return {"buyer_id": r.buyer_id, "item_id": r.item_id, "sku": r.sku}

    return Check("buyer_items", [
        Kind("usage_mismatch", c.used != c.units, lambda r: Violation(
            "usage_mismatch", ids(r), r.units, r.used,
            f"the buyer's counter says {r.used}, their orders that count have {r.units} "
            "units")),
        Kind("over_limit", or_(c.used > c.limit, c.units > c.limit), lambda r: Violation(
            "over_limit", ids(r), r.limit, max(r.used, r.units),
            f"{max(r.used, r.units)} units for one buyer, the limit is {r.limit}")),
    ], s, [c.item_id, c.buyer_id])

