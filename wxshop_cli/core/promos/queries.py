"""Reading promotions: the catalog lock, lookups for the checkout and the merchant, and the
public JSON shapes of SPEC section 3 (`promo list`, `promo show`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from wxshop_cli import clock
from wxshop_cli.core import catalog
from wxshop_cli.core.paging import DEFAULT_LIMIT, Key, Ordering, Page, read_page
from wxshop_cli.core.promos.status import BUYER_VISIBLE, promo_status, regions_serve, stock_left
from wxshop_cli.db.models import Product, Promo, PromoItem, PromoRegion
from wxshop_cli.errors import NotFound

_CATALOG_LOCK = 0x77787370  # "wxsp": serialises catalog writes on PostgreSQL


# ------------------------------------------------------------------ reads


def lock_catalog(session: Session) -> None:
    """Serialise catalog writes across processes (no-op on SQLite: BEGIN IMMEDIATE does it)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import text

        session.exec(text("SELECT pg_advisory_xact_lock(:k)").bindparams(  # type: ignore[call-overload]
            k=_CATALOG_LOCK))


def find_promo(session: Session, code: str) -> Promo | None:
    return session.exec(select(Promo).where(Promo.code == code)).first()


def require_promo(session: Session, code: str) -> Promo:
    promo = find_promo(session, code)
    if promo is None:
        raise NotFound(f"no promotion with code {code!r}", slug="promo_not_found",
                       hint="see `wxshop promo list --all`")
    return promo


def items_of(session: Session, promo_id: int, *, for_update: bool = False) -> list[PromoItem]:
    statement = select(PromoItem).where(PromoItem.promo_id == promo_id).order_by(
        col(PromoItem.position), col(PromoItem.sku))
    if for_update:
        statement = statement.with_for_update()
    return list(session.exec(statement).all())


def regions_of(session: Session, promo_id: int) -> list[str]:
    rows = session.exec(select(PromoRegion.region_code).where(
        PromoRegion.promo_id == promo_id).order_by(col(PromoRegion.region_code))).all()
    return list(rows)


def serves_region(session: Session, promo: Promo, region_code: str) -> bool:
    """True when the promotion is nationwide or targets this region."""
    assert promo.id is not None
    return regions_serve(regions_of(session, promo.id), region_code)


def require_item(session: Session, item_id: str) -> tuple[PromoItem, Promo]:
    """A promo item by id (`item_…`) with its promotion, or NotFound (exit 4)."""
    item = session.get(PromoItem, item_id)
    if item is None:
        raise NotFound(f"no promo item {item_id!r}", slug="item_not_found",
                       hint="see `wxshop promo list`")
    return item, session.get_one(Promo, item.promo_id)


def find_live_items_for_sku(session: Session, sku: str,
                            now: dt.datetime) -> list[tuple[PromoItem, Promo]]:
    """Items for this SKU in promotions open for sale now (published, inside the window),
    sold-out items included (so `buy SKU` answers "sold out", exit 7, instead of silently
    buying at list price). Ordered by start time, then code."""
    now = clock.as_utc(now)
    rows = session.exec(
        select(PromoItem, Promo).join(Promo, col(Promo.id) == col(PromoItem.promo_id)).where(
            PromoItem.sku == sku, Promo.state == "published", col(Promo.starts_at) <= now,
            col(Promo.ends_at) > now).order_by(col(Promo.starts_at), col(Promo.code))).all()
    return [(item, promo) for item, promo in rows]


# ------------------------------------------------------------------ public shapes


def item_public(item: PromoItem, product: Product | None) -> dict[str, Any]:
    """The promo item JSON shape of SPEC section 3 (plus sold, the rule, image, description;
    an absent image URL or description is null)."""
    return {
        "id": item.id,
        "sku": item.sku,
        "title": product.title if product else "",
        "price_fen": item.price_fen,
        "list_price_fen": product.list_price_fen if product else None,
        "stock_total": item.stock_total,
        "stock_left": stock_left(item),
        "sold": item.sold,
        "per_buyer_limit": item.per_buyer_limit,
        "price_rule": item.price_rule,
        "price_rule_value": item.price_rule_value,
        "image_url": (product.image_url or None) if product else None,
        "description": (product.description or None) if product else None,
        "kind": product.kind if product else "goods",  # topup: bought with `buy --mobile`
    }


def promo_public(promo: Promo, items: list[PromoItem], products: dict[str, Product],
                 regions: list[str], now: dt.datetime, tz: ZoneInfo) -> dict[str, Any]:
    """The promo JSON shape of SPEC section 3 (plus the stored state and the push time)."""
    return {
        "code": promo.code,
        "title": promo.title,
        "status": promo_status(promo, items, now),
        "starts_at": clock.iso(promo.starts_at, tz),
        "ends_at": clock.iso(promo.ends_at, tz),
        "regions": list(regions),
        "items": [item_public(item, products.get(item.sku)) for item in items],
        "state": promo.state,
        "notified_at": clock.iso(promo.notified_at, tz),
    }


def promos_public(session: Session, promos: Sequence[Promo], now: dt.datetime,
          tz: ZoneInfo) -> list[dict[str, Any]]:
    """Public shapes of several promotions with three queries, whatever their number."""
    ids = [promo.id for promo in promos if promo.id is not None]
    if not ids:
        return []
    items: dict[int, list[PromoItem]] = {pid: [] for pid in ids}
    for item in session.exec(select(PromoItem).where(col(PromoItem.promo_id).in_(ids)).order_by(
            col(PromoItem.position), col(PromoItem.sku))).all():
        items[item.promo_id].append(item)
    regions: dict[int, list[str]] = {pid: [] for pid in ids}
    for row in session.exec(select(PromoRegion).where(col(PromoRegion.promo_id).in_(ids)).order_by(
            col(PromoRegion.region_code))).all():
        regions[row.promo_id].append(row.region_code)
    skus = sorted({item.sku for rows in items.values() for item in rows})
    products = catalog.products_by_sku(session, skus)
    return [promo_public(promo, items[promo.id], products, regions[promo.id], now, tz)
            for promo in promos if promo.id is not None]


#: `promo list`: by start, then code (unique).
PROMOS = Ordering("promos", (Key(Promo.starts_at, "time"), Key(Promo.code, "str")))


def list_promos(session: Session, now: dt.datetime, tz: ZoneInfo, *,
                region: str | None = None, every: bool = False, limit: int = DEFAULT_LIMIT,
                after: str | None = None) -> Page:
    """A page of the buyer's view (live and sold-out promotions) or, with `every`, of all
    of them; `region` keeps those that serve it (nationwide ones serve every region). The
    status is derived, so the page is filled by `keep` (core.paging) with each promotion's
    shape made once."""
    shapes: dict[int, dict[str, Any]] = {}

    def keep(promo: Promo) -> bool:
        view = shapes[promo.id] = promos_public(session, [promo], now, tz)[0]
        if not every and view["status"] not in BUYER_VISIBLE:
            return False
        return region is None or regions_serve(view["regions"], region)

    simple = every and region is None
    page = read_page(session, select(Promo), PROMOS, limit=limit, after=after,
                     keep=None if simple else keep)
    if simple:
        return Page(promos_public(session, page.rows, now, tz), page.has_more, page.next_cursor)
    return page.map(lambda promo: shapes[promo.id])


def show_promo(session: Session, code: str, now: dt.datetime, tz: ZoneInfo) -> dict[str, Any]:
    return promos_public(session, [require_promo(session, code)], now, tz)[0]

