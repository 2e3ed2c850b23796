"""Applying a promotion file (`promo publish FILE`, SPEC section 4): create or update its
products and its promotion, publish it and push it, all in the caller's one transaction.

In phases: `plan_spec` reads and checks everything and writes nothing — mistakes that need the
catalog (a new SKU without title or list price, a price above the stored list price) are exit
3 and all listed; then every conflict with the stored state is exit 5 and all listed. Its
`SpecPlan` holds what the file will do item by item (stock, list price, promo price), so a
preview can be computed from it. Then the writes: products, the promotion, its items, and the
finish (status and push), each recording what changed in the `Report`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from wxshop_cli import clock, money
from wxshop_cli.core import catalog
from wxshop_cli.core.promos.changes import (
    check_writable,
    delete_item,
    has_orders,
    item_conflicts,
    items_priced_above,
    write_item,
)
from wxshop_cli.core.promos.exposure import exposure
from wxshop_cli.core.promos.file import ItemSpec, PromoSpec
from wxshop_cli.core.promos.push import push_promo
from wxshop_cli.core.promos.queries import items_of, lock_catalog, regions_of
from wxshop_cli.core.promos.report import Problems, Report
from wxshop_cli.core.promos.rules import compute_price
from wxshop_cli.core.promos.status import has_started, promo_status
from wxshop_cli.db.models import Product, Promo, PromoItem, PromoRegion
from wxshop_cli.errors import InvalidInput


@dataclass
class SpecPlan:
    """A checked promotion file against the stored state, before anything is written."""

    spec: PromoSpec
    promo: Promo | None  # the stored promotion (locked), or None for a new one
    products: dict[str, Product]  # the catalog's products of the file's SKUs
    prices: dict[str, int]  # SKU -> the promo price in fen
    existing: list[PromoItem]  # the promotion's stored items (locked)
    gone: list[PromoItem]  # stored items that the file leaves out: removed
    by_sku: dict[str, PromoItem] = field(init=False)

    def __post_init__(self) -> None:
        self.by_sku = {item.sku: item for item in self.existing}


def apply_spec(session: Session, spec: PromoSpec, *, now: dt.datetime, tz: ZoneInfo,
               notify: bool | None = None, force: bool = False) -> Report:
    """Create or update the products and the promotion of a (checked) promotion file, publish
    it, and push it if asked — all in the caller's one transaction. Nothing is written unless
    `plan_spec` finds neither mistakes nor conflicts."""
    lock_catalog(session)
    plan = plan_spec(session, spec, now=now, force=force)
    report = Report(code=spec.code)
    _write_products(session, report, plan, now)
    promo = _write_promo(session, report, plan, now, tz)
    _write_items(session, report, plan, promo, now)
    if report.any_change:
        promo.updated_at = now
        session.add(promo)
    session.flush()
    assert promo.id is not None
    items = items_of(session, promo.id)
    report.status = promo_status(promo, items, now)
    report.exposure = exposure(session, promo, items, now=now, tz=tz)
    if spec.notify if notify is None else notify:
        report.notified = push_promo(session, promo, items, spec.regions, now, tz)
    return report


# ------------------------------------------------------------------ checking (no writes)


def plan_spec(session: Session, spec: PromoSpec, *, now: dt.datetime,
              force: bool = False) -> SpecPlan:
    """Every check of a promotion file against the catalog (exit 3, all listed) and then the
    stored state (exit 5, all listed); locks the promotion and its items. Writes nothing."""
    problems = Problems(spec.source or "promotion")
    promo = session.exec(select(Promo).where(Promo.code == spec.code).with_for_update()).first()
    products = catalog.products_by_sku(session, [item.sku for item in spec.items])
    prices = _prices(problems, spec, products)
    problems.raise_invalid()
    if promo is not None:
        check_writable(promo)
    existing = items_of(session, promo.id, for_update=True) if promo is not None and (
        promo.id is not None) else []
    wanted = {item.sku for item in spec.items}
    plan = SpecPlan(spec=spec, promo=promo, products=products, prices=prices,
                    existing=existing, gone=[item for item in existing if item.sku not in wanted])
    _item_conflicts(session, problems, plan, now=now, force=force)
    _list_price_conflicts(session, problems, plan)
    problems.raise_conflicts()
    return plan


def _prices(problems: Problems, spec: PromoSpec, products: dict[str, Product]) -> dict[str, int]:
    """The promo price of each item; the mistakes that need the catalog go to `problems`."""
    prices: dict[str, int] = {}
    for item in spec.items:
        product = products.get(item.sku)
        if product is None:
            for key, value in (("title", item.title), ("list_price", item.list_price_fen)):
                if value is None:
                    problems.invalid.append((
                        "invalid_promo_file",
                        f"{item.path}.{key}: required for a new product ({item.sku!r} is not "
                        "in the catalog)"))
        list_price = item.list_price_fen if item.list_price_fen is not None else (
            product.list_price_fen if product is not None else None)
        if list_price is None:
            continue
        try:
            prices[item.sku] = compute_price(list_price, item.pricing,
                                             field=f"{item.path}.{item.price_key}")
        except InvalidInput as exc:
            problems.invalid.append(("invalid_promo_file", exc.message))
    return prices


def _item_conflicts(session: Session, problems: Problems, plan: SpecPlan, *, now: dt.datetime,
                    force: bool) -> None:
    """Stock below sold and price changes after the start (each kept item), then removed
    items that have sales."""
    started = plan.promo is not None and has_started(plan.promo, now)
    for item in plan.spec.items:
        old = plan.by_sku.get(item.sku)
        if old is not None:
            item_conflicts(problems, old, new_price=plan.prices[item.sku], new_stock=item.stock,
                           started=started, force=force, stock_where=f"{item.path}.stock",
                           price_where=f"{item.path}.{item.price_key}")
    for gone in plan.gone:
        if gone.sold > 0 or has_orders(session, item_id=gone.id):
            problems.conflicts.append((
                "item_has_sales",
                f"items: {gone.sku} ({gone.id}) is not in the file but has sales "
                f"({gone.sold} sold); it cannot be removed"))


def _list_price_conflicts(session: Session, problems: Problems, plan: SpecPlan) -> None:
    """A new list price may not fall below the price of the SKU in another promotion."""
    exclude = plan.promo.id if plan.promo is not None else None
    for item in plan.spec.items:
        product = plan.products.get(item.sku)
        if product is None or item.list_price_fen is None or (
                item.list_price_fen == product.list_price_fen):
            continue
        for other, other_promo in items_priced_above(session, item.sku, item.list_price_fen,
                                                     exclude=exclude):
            problems.conflicts.append((
                "list_price_below_promo",
                f"{item.path}.list_price: {money.yuan(item.list_price_fen)} is below the price "
                f"{money.yuan(other.price_fen)} of {other.id} in promotion {other_promo.code!r}"))


# ------------------------------------------------------------------ writing


def _write_products(session: Session, report: Report, plan: SpecPlan, now: dt.datetime) -> None:
    """Create the new products, update the fields the file gives of existing ones."""
    for item in plan.spec.items:
        product = plan.products.get(item.sku)
        if product is None:
            plan.products[item.sku] = _new_product(session, item, now)
            report.created.append({"kind": "product", "key": item.sku})
            continue
        wanted_fields = {
            "title": item.title, "list_price_fen": item.list_price_fen,
            "image_url": item.image_url, "description": item.description,
            "stock": item.product_stock,
        }
        fields = {name: (getattr(product, name), value)
                  for name, value in wanted_fields.items() if value is not None}
        # An absent image URL or description is stored as "" and reported as null.
        shown = {name: ((old or None, new or None) if name in ("image_url", "description")
                        else (old, new)) for name, (old, new) in fields.items()}
        if report.diff("product", item.sku, shown):
            for name, (_, value) in fields.items():
                setattr(product, name, value)
            product.updated_at = now
            session.add(product)
    session.flush()


def _new_product(session: Session, item: ItemSpec, now: dt.datetime) -> Product:
    assert item.title is not None and item.list_price_fen is not None
    product = Product(sku=item.sku, title=item.title, list_price_fen=item.list_price_fen,
                      stock=item.product_stock or 0, image_url=item.image_url or "",
                      description=item.description or "", created_at=now, updated_at=now)
    session.add(product)
    return product


def _write_promo(session: Session, report: Report, plan: SpecPlan, now: dt.datetime,
                 tz: ZoneInfo) -> Promo:
    """Create the promotion (published), or update its fields and regions."""
    spec, promo = plan.spec, plan.promo
    if promo is None:
        promo = Promo(code=spec.code, title=spec.title, starts_at=spec.starts_at,
                      ends_at=spec.ends_at, state="published", created_at=now, updated_at=now)
        session.add(promo)
        session.flush()
        assert promo.id is not None
        for region in spec.regions:
            session.add(PromoRegion(promo_id=promo.id, region_code=region))
        report.created.append({"kind": "promo", "key": spec.code})
        return promo
    assert promo.id is not None
    old_regions = regions_of(session, promo.id)
    new_regions = sorted(spec.regions)
    if report.diff("promo", spec.code, {
        "title": (promo.title, spec.title),
        "starts_at": (clock.iso(promo.starts_at, tz), clock.iso(spec.starts_at, tz)),
        "ends_at": (clock.iso(promo.ends_at, tz), clock.iso(spec.ends_at, tz)),
        "regions": (old_regions, new_regions),
        "state": (promo.state, "published"),
    }):
        promo.title, promo.starts_at, promo.ends_at = spec.title, spec.starts_at, spec.ends_at
        promo.state = "published"
        if old_regions != new_regions:
            _replace_regions(session, promo.id, new_regions)
    return promo


def _replace_regions(session: Session, promo_id: int, regions: list[str]) -> None:
    for row in session.exec(select(PromoRegion).where(PromoRegion.promo_id == promo_id)).all():
        session.delete(row)
    session.flush()
    for region in regions:
        session.add(PromoRegion(promo_id=promo_id, region_code=region))


def _write_items(session: Session, report: Report, plan: SpecPlan, promo: Promo,
                 now: dt.datetime) -> None:
    """The items: removed, then changed or created in file order."""
    for gone in plan.gone:
        delete_item(session, gone)
        report.removed.append({"kind": "item", "key": gone.sku, "id": gone.id})
    for position, item in enumerate(plan.spec.items):
        write_item(session, report, promo, plan.by_sku.get(item.sku), sku=item.sku,
                   pricing=item.pricing, price_fen=plan.prices[item.sku], stock=item.stock,
                   limit=item.per_buyer_limit, position=position, now=now)
