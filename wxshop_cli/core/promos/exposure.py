"""The worst case of a promotion (`promo publish`, its dry run included): what the discount can
cost if every unit sells, what one buyer can take, and where the same SKU is also on offer.

Computed from the promotion as it stands in the caller's transaction once the publish's
writes are made (a dry run rolls them back afterwards), so a file and a code publish, a new
promotion and a changed one, are judged the same way. Integer fen throughout.

Per item:
- ``discount_fen`` = the product's list price − the promo price (the catalog refuses a promo
  price above the list price, so it is never negative);
- ``exposure_fen`` = ``stock`` (the item's total stock) × ``discount_fen``: the worst case;
  ``remaining_fen`` = the units not yet sold × ``discount_fen`` (differs once it sells);
- ``per_buyer_units`` = the per-buyer limit, or the stock when there is none (never more than
  the stock), and ``per_buyer_fen`` = that × ``discount_fen``;
- ``overlaps``: the other promotions, published and not ended (live or scheduled), whose
  window meets this one's and whose regions meet its regions (nationwide meets every region),
  offering the same SKU, with their price.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from wxshop_cli import clock
from wxshop_cli.db.models import Product, Promo, PromoItem, PromoRegion


def exposure(session: Session, promo: Promo, items: list[PromoItem], *, now: dt.datetime,
             tz: ZoneInfo) -> dict[str, Any]:
    """The public ``exposure`` object of a promotion (see the module docstring)."""
    assert promo.id is not None
    skus = [item.sku for item in items]
    list_prices = dict(session.exec(select(Product.sku, Product.list_price_fen).where(
        col(Product.sku).in_(skus))).all()) if skus else {}
    overlaps = _overlaps(session, promo, skus, now=now, tz=tz)
    rows = []
    for item in items:
        discount = list_prices.get(item.sku, item.price_fen) - item.price_fen
        units = item.stock_total if item.per_buyer_limit is None else min(
            item.per_buyer_limit, item.stock_total)
        rows.append({
            "sku": item.sku, "stock": item.stock_total, "sold": item.sold,
            "list_price_fen": list_prices.get(item.sku), "price_fen": item.price_fen,
            "discount_fen": discount, "exposure_fen": item.stock_total * discount,
            "remaining_fen": max(item.stock_total - item.sold, 0) * discount,
            "per_buyer_limit": item.per_buyer_limit, "per_buyer_units": units,
            "per_buyer_fen": units * discount, "overlaps": overlaps.get(item.sku, []),
        })
    return {
        "items": rows,
        "total_fen": sum(row["exposure_fen"] for row in rows),
        "remaining_fen": sum(row["remaining_fen"] for row in rows),
        "overlapping_items": sum(1 for row in rows if row["overlaps"]),
    }


def _regions(session: Session, promo_ids: list[int]) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {promo_id: set() for promo_id in promo_ids}
    if promo_ids:
        for promo_id, region in session.exec(select(PromoRegion.promo_id,
                                                    PromoRegion.region_code).where(
                col(PromoRegion.promo_id).in_(promo_ids))).all():
            found[promo_id].add(region)
    return found


def _overlaps(session: Session, promo: Promo, skus: list[str], *, now: dt.datetime,
              tz: ZoneInfo) -> dict[str, list[dict[str, Any]]]:
    """SKU → the other live or scheduled promotions of that SKU that meet this one."""
    if not skus:
        return {}
    rows = session.exec(
        select(PromoItem.sku, PromoItem.id, PromoItem.price_fen, Promo)
        .join(Promo, col(Promo.id) == col(PromoItem.promo_id))
        .where(col(PromoItem.sku).in_(skus), col(Promo.id) != promo.id,
               Promo.state == "published", col(Promo.ends_at) > now,
               col(Promo.starts_at) < promo.ends_at, col(Promo.ends_at) > promo.starts_at)
        .order_by(col(Promo.starts_at), col(Promo.code))).all()
    if not rows:
        return {}
    assert promo.id is not None
    regions = _regions(session, [promo.id, *{other.id for *_, other in rows if other.id}])
    mine = regions[promo.id]
    found: dict[str, list[dict[str, Any]]] = {}
    for sku, item_id, price, other in rows:
        theirs = regions.get(other.id or -1, set())
        if mine and theirs and not mine & theirs:
            continue  # different regions: no buyer sees both
        live = clock.as_utc(other.starts_at) <= clock.as_utc(now)
        found.setdefault(sku, []).append({
            "code": other.code, "item_id": item_id, "status": "live" if live else "scheduled",
            "price_fen": price, "starts_at": clock.iso(other.starts_at, tz),
            "ends_at": clock.iso(other.ends_at, tz)})
    return found
