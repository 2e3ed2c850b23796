"""The merchant's changes to promotions one at a time (SPEC section 7): create a draft, add or
change an item, publish, unpublish, archive; each returns a `Report` of what changed. Every
write takes the catalog lock first (PostgreSQL advisory lock; SQLite's write transactions are
already serialised by BEGIN IMMEDIATE). The rules shared with a promotion file
(`promos.apply`) are here: `check_writable`, `item_conflicts`, `write_item`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from wxshop_cli import money
from wxshop_cli.core import catalog
from wxshop_cli.core.promos.exposure import exposure
from wxshop_cli.core.promos.push import push_promo
from wxshop_cli.core.promos.queries import (
    find_promo,
    items_of,
    lock_catalog,
    regions_of,
    require_promo,
)
from wxshop_cli.core.promos.report import Problems, Report
from wxshop_cli.core.promos.rules import Pricing, compute_price
from wxshop_cli.core.promos.status import has_started, promo_status
from wxshop_cli.db.models import BuyerItemUsage, Order, Promo, PromoItem, PromoRegion
from wxshop_cli.db.types import new_id
from wxshop_cli.errors import Conflict


def create_promo(session: Session, *, code: str, title: str, starts_at: dt.datetime,
                 ends_at: dt.datetime, regions: Sequence[str], now: dt.datetime) -> Promo:
    """A new draft promotion (values already checked). An existing code is exit 5."""
    lock_catalog(session)
    if find_promo(session, code) is not None:
        raise Conflict(f"a promotion with code {code!r} already exists", slug="promo_exists",
                       hint="change it with `promo add-item` or `promo publish FILE`")
    promo = Promo(code=code, title=title, starts_at=starts_at, ends_at=ends_at, state="draft",
                  created_at=now, updated_at=now)
    session.add(promo)
    session.flush()
    assert promo.id is not None
    for region in sorted(set(regions)):
        session.add(PromoRegion(promo_id=promo.id, region_code=region))
    session.flush()
    return promo


def check_writable(promo: Promo) -> None:
    if promo.state == "archived":
        raise Conflict(f"promotion {promo.code!r} is archived", slug="promo_archived",
                       hint="archived promotions cannot change; create a new code")


def item_conflicts(problems: Problems, item: PromoItem, *, new_price: int, new_stock: int,
                    started: bool, force: bool, stock_where: str, price_where: str) -> None:
    if new_stock < item.sold:
        problems.conflicts.append((
            "stock_below_sold",
            f"{stock_where}: {new_stock} is below the {item.sold} already sold of {item.sku}"))
    if started and new_price != item.price_fen and not force:
        problems.conflicts.append((
            "price_change_needs_force",
            f"{price_where}: changes the price of {item.sku} from {money.yuan(item.price_fen)} "
            f"to {money.yuan(new_price)} after the promotion started"))


def write_item(session: Session, report: Report, promo: Promo, item: PromoItem | None, *,
                sku: str, pricing: Pricing, price_fen: int, stock: int, limit: int | None,
                position: int, now: dt.datetime) -> PromoItem:
    """Create or update one item (conflicts already checked) and record what changed."""
    assert promo.id is not None
    if item is None:
        item = PromoItem(id=new_id("item"), promo_id=promo.id, sku=sku, price_rule=pricing.rule,
                         price_rule_value=pricing.value, price_fen=price_fen, stock_total=stock,
                         sold=0, per_buyer_limit=limit, position=position, created_at=now)
        session.add(item)
        report.created.append({"kind": "item", "key": sku, "id": item.id})
        return item
    old_pricing = Pricing(item.price_rule, item.price_rule_value)
    if report.diff("item", sku, {
        "pricing": (old_pricing.describe(), pricing.describe()),
        "price_fen": (item.price_fen, price_fen),
        "stock_total": (item.stock_total, stock),
        "per_buyer_limit": (item.per_buyer_limit, limit),
        "position": (item.position, position),
    }, item_id=item.id):
        item.price_rule, item.price_rule_value = pricing.rule, pricing.value
        item.price_fen, item.stock_total = price_fen, stock
        item.per_buyer_limit, item.position = limit, position
        session.add(item)
    return item


def set_item(session: Session, code: str, sku: str, pricing: Pricing, stock: int,
             limit: int | None, *, now: dt.datetime, force: bool) -> tuple[PromoItem, Report]:
    """`promo add-item`: add a product to a promotion, or change its item (same rules as a
    promotion file: stock never below sold; a price change after the start needs force)."""
    lock_catalog(session)
    promo = require_promo(session, code)
    product = catalog.require_product(session, sku)
    option = {"price": "--price", "percent_off": "--percent-off",
              "amount_off": "--amount-off"}[pricing.rule]
    price = compute_price(product.list_price_fen, pricing, field=option)
    check_writable(promo)
    assert promo.id is not None
    items = items_of(session, promo.id, for_update=True)
    existing = next((item for item in items if item.sku == sku), None)
    problems = Problems("")
    if existing is not None:
        item_conflicts(problems, existing, new_price=price, new_stock=stock,
                        started=has_started(promo, now), force=force, stock_where="--stock",
                        price_where=option)
    problems.raise_conflicts()
    report = Report(code=code)
    position = existing.position if existing is not None else (
        max((item.position for item in items), default=-1) + 1)
    item = write_item(session, report, promo, existing, sku=sku, pricing=pricing,
                       price_fen=price, stock=stock, limit=limit, position=position, now=now)
    if report.any_change:
        promo.updated_at = now
        session.add(promo)
    session.flush()
    report.status = promo_status(promo, items_of(session, promo.id), now)
    return item, report



def has_orders(session: Session, *, item_id: str | None = None,
                promo_id: int | None = None) -> bool:
    """Any order that is not closed (a sale, or a payment under way) for this item/promo."""
    statement = select(Order.order_no).where(Order.status != "closed")
    if item_id is not None:
        statement = statement.where(Order.item_id == item_id)
    if promo_id is not None:
        statement = statement.where(Order.promo_id == promo_id)
    return session.exec(statement.limit(1)).first() is not None


def items_priced_above(session: Session, sku: str, list_price_fen: int,
                        exclude: int | None) -> list[tuple[PromoItem, Promo]]:
    statement = select(PromoItem, Promo).join(
        Promo, col(Promo.id) == col(PromoItem.promo_id)).where(
        PromoItem.sku == sku, Promo.state != "archived", PromoItem.price_fen > list_price_fen)
    if exclude is not None:
        statement = statement.where(Promo.id != exclude)
    return [(item, promo) for item, promo in session.exec(statement).all()]


def delete_item(session: Session, item: PromoItem) -> None:
    from sqlalchemy import delete

    session.execute(delete(BuyerItemUsage).where(col(BuyerItemUsage.item_id) == item.id))
    session.delete(item)
    session.flush()


def _move_state(session: Session, promo: Promo, state: str, now: dt.datetime) -> Report:
    """The stored lifecycle step shared by publish, unpublish and archive, with its report."""
    report = Report(code=promo.code)
    if report.diff("promo", promo.code, {"state": (promo.state, state)}):
        promo.state = state
        promo.updated_at = now
        session.add(promo)
        session.flush()
    return report


def publish_code(session: Session, code: str, *, now: dt.datetime, tz: ZoneInfo,
                 notify: bool = True) -> Report:
    """Publish a draft promotion (already published: no change). Pushes if asked."""
    lock_catalog(session)
    promo = require_promo(session, code)
    check_writable(promo)
    assert promo.id is not None
    items = items_of(session, promo.id)
    if not items:
        raise Conflict(f"promotion {code!r} has no items", slug="promo_empty",
                       hint="add some with `wxshop promo add-item`")
    report = _move_state(session, promo, "published", now)
    report.status = promo_status(promo, items, now)
    report.exposure = exposure(session, promo, items, now=now, tz=tz)
    if notify:
        report.notified = push_promo(session, promo, items, regions_of(session, promo.id), now,
                                     tz)
    return report


def unpublish(session: Session, code: str, *, now: dt.datetime) -> Report:
    """Back to draft, only before the first sale (exit 5 after it)."""
    lock_catalog(session)
    promo = require_promo(session, code)
    check_writable(promo)
    assert promo.id is not None
    items = items_of(session, promo.id, for_update=True)
    sold = sum(item.sold for item in items)
    if sold > 0 or has_orders(session, promo_id=promo.id):
        raise Conflict(f"promotion {code!r} has already sold ({sold} units)",
                       slug="promo_has_sales",
                       hint="unpublish works only before the first sale; archive it instead")
    report = _move_state(session, promo, "draft", now)
    report.status = promo_status(promo, items, now)
    return report


def archive(session: Session, code: str, *, now: dt.datetime) -> Report:
    """Archive a promotion in any state (final: it no longer sells or changes)."""
    lock_catalog(session)
    promo = require_promo(session, code)
    assert promo.id is not None
    report = _move_state(session, promo, "archived", now)
    report.status = promo_status(promo, items_of(session, promo.id), now)
    return report

