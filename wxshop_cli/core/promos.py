"""Promotions: pricing rules, the derived status, what the buyer sees, and every change the
merchant makes (SPEC section 7).

Stored lifecycle: `draft → published → archived` (`unpublish` returns to draft before the
first sale). The status shown is derived at read time from one clock reading by
`promo_status()`: `draft`, `scheduled`, `live`, `sold_out`, `ended`, `archived`; windows are
half-open `[starts_at, ends_at)`.

For the checkout: `is_open_for_sale()`, `serves_region()`, `find_live_items_for_sku()`,
`require_item()`. For the merchant: `create_promo()`, `set_item()`, `publish_code()`,
`apply_spec()` (a promotion file), `unpublish()`, `archive()`; each returns a `Report` of what
changed. Every write takes the catalog lock first (PostgreSQL advisory lock; SQLite's write
transactions are already serialised by BEGIN IMMEDIATE).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from wxshop_cli import clock, money
from wxshop_cli.core import catalog
from wxshop_cli.db.models import (
    Address,
    Buyer,
    BuyerItemUsage,
    Card,
    InboxMessage,
    Order,
    Product,
    Promo,
    PromoItem,
    PromoRegion,
)
from wxshop_cli.db.types import new_id
from wxshop_cli.errors import Conflict, InvalidInput, NotFound

if TYPE_CHECKING:
    from wxshop_cli.core.promofile import PromoSpec

PROMO_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", re.ASCII)
PERCENT = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,2})?", re.ASCII)
#: The keys of a promotion file item that set its price; exactly one is given.
PRICE_KEYS = ("price", "price_fen", "percent_off", "amount_off", "amount_off_fen")
RULES = ("price", "percent_off", "amount_off")
STATUSES = ("draft", "scheduled", "live", "sold_out", "ended", "archived")
#: The buyer's view (`promo list` without --all) shows promotions in these statuses.
BUYER_VISIBLE = ("live", "sold_out")
LIMIT_MAX = 1_000_000
_CATALOG_LOCK = 0x77787370  # "wxsp": serialises catalog writes on PostgreSQL


# ------------------------------------------------------------------ checks


def check_code(code: Any, *, field: str = "code") -> str:
    if not isinstance(code, str) or not PROMO_CODE.fullmatch(code):
        raise InvalidInput(f"{field}: not a promotion code: {code!r}", slug="invalid_promo_code",
                           hint="1-64 characters of A-Z a-z 0-9 _ -, starting with a letter "
                                "or digit")
    return code


def check_window(starts_at: dt.datetime, ends_at: dt.datetime, *, field: str = "ends") -> None:
    if ends_at <= starts_at:
        raise InvalidInput(f"{field}: the promotion must end after it starts",
                           slug="invalid_window",
                           hint="give an end later than the start; the window is [start, end)")


def check_limit(limit: Any, *, field: str = "per_buyer_limit") -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInput(f"{field}: must be a whole number of at least 1", slug="invalid_limit",
                           hint="units per buyer, 1 or more; leave it out for no limit")
    if limit > LIMIT_MAX:
        raise InvalidInput(f"{field}: more than {LIMIT_MAX:,}", slug="invalid_limit",
                           hint=f"at most {LIMIT_MAX:,} units per buyer, or leave it out for "
                                "no limit")
    return limit


# ------------------------------------------------------------------ pricing


@dataclass(frozen=True)
class Pricing:
    """How an item is priced: `price` (fixed), `percent_off` or `amount_off`.

    `value` is canonical text, so that equal rules compare equal: yuan with two decimals
    (`3999.00`, `500.00`) or a percentage without trailing zeros (`20`, `12.5`)."""

    rule: str
    value: str

    def describe(self) -> str:
        if self.rule == "price":
            return f"price {self.value}"
        if self.rule == "percent_off":
            return f"{self.value}% off"
        return f"{self.value} off"


def parse_percent(text: str, *, field: str = "percent_off") -> Pricing:
    """`20`, `12.5`, `12.50` → a percent-off rule; more than 0 and less than 100, ≤2 decimals.
    Nothing is stripped: ` 20` is refused like any other malformed number."""
    from wxshop_cli.money import check_option_type

    check_option_type(text, field, "a number above 0 and below 100, e.g. 20")  # `abc`: exit 2
    raw = text
    if not PERCENT.fullmatch(raw):
        reason = ("more than two decimals" if re.fullmatch(r"[0-9]+\.[0-9]{3,}", raw, re.ASCII)
                  else f"not a percentage: {text!r}")
        raise InvalidInput(f"{field}: {reason}", slug="invalid_percent",
                           hint="a number above 0 and below 100, e.g. 20 or 12.5")
    try:
        percent = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise InvalidInput(f"{field}: not a percentage: {text!r}", slug="invalid_percent",
                           hint="a number above 0 and below 100, e.g. 20 or 12.5") from None
    if not Decimal(0) < percent < Decimal(100):
        raise InvalidInput(f"{field}: {raw} is out of range", slug="invalid_percent",
                           hint="a number above 0 and below 100")
    return Pricing("percent_off", _decimal_text(percent))


def _decimal_text(value: Decimal) -> str:
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def pricing_for_amount(rule: str, fen: int) -> Pricing:
    """A fixed price or an amount off, from fen already checked by `money`."""
    assert rule in ("price", "amount_off")
    return Pricing(rule, money.yuan(fen))


def raw_price(list_price_fen: int, pricing: Pricing) -> int:
    """The promo price before the bounds are checked.

    Percent off: `list × (100 − P) / 100`, rounded half-up to the fen (the price is rounded,
    not the discount: at an exact half fen the buyer pays the higher fen)."""
    if pricing.rule == "price":
        return money.parse_yuan(pricing.value, allow_zero=True)
    if pricing.rule == "amount_off":
        return list_price_fen - money.parse_yuan(pricing.value, allow_zero=True)
    if pricing.rule == "percent_off":
        return money.percent_of(list_price_fen, Decimal(100) - Decimal(pricing.value))
    raise ValueError(f"unknown price rule {pricing.rule!r}")


def compute_price(list_price_fen: int, pricing: Pricing, *, field: str = "price") -> int:
    """The promo price in fen: never below ¥0.01 and never above the list price (exit 3)."""
    price = raw_price(list_price_fen, pricing)
    if price < 1:
        raise InvalidInput(f"{field}: {pricing.describe()} leaves a price below 0.01 "
                           f"(list price {money.yuan(list_price_fen)})", slug="invalid_price",
                           hint="take less off: the promo price must be at least 0.01")
    if price > list_price_fen:
        raise InvalidInput(f"{field}: {money.yuan(price)} is above the list price "
                           f"{money.yuan(list_price_fen)}", slug="invalid_price",
                           hint="a promo price is at most the list price; raise the list "
                                "price first if it is out of date")
    return price


# ------------------------------------------------------------------ status (pure)


def stock_left(item: PromoItem) -> int:
    return max(item.stock_total - item.sold, 0)


def promo_status(promo: Promo, items: Iterable[PromoItem], now: dt.datetime) -> str:
    """The status shown, from the stored state and one clock reading.

    archived and draft are stored states; a published promotion is `scheduled` before
    `starts_at`, `ended` from `ends_at` on, and within `[starts_at, ends_at)` `sold_out` when
    every item's stock_left is 0, else `live`."""
    if promo.state == "archived":
        return "archived"
    if promo.state != "published":
        return "draft"
    now = clock.as_utc(now)
    if now < clock.as_utc(promo.starts_at):
        return "scheduled"
    if now >= clock.as_utc(promo.ends_at):
        return "ended"
    items = list(items)
    if items and all(stock_left(item) == 0 for item in items):
        return "sold_out"
    return "live"


def is_live(promo: Promo, items: Iterable[PromoItem], now: dt.datetime) -> bool:
    return promo_status(promo, items, now) == "live"


def is_open_for_sale(promo: Promo, now: dt.datetime) -> bool:
    """Published and within its window, whatever the stock: what the checkout checks (stock
    itself is taken by the checkout's conditional update, so sold out is exit 7, not 5)."""
    now = clock.as_utc(now)
    return (promo.state == "published"
            and clock.as_utc(promo.starts_at) <= now < clock.as_utc(promo.ends_at))


def has_started(promo: Promo, now: dt.datetime) -> bool:
    """Published and past its start: price changes then need --force."""
    return promo.state == "published" and clock.as_utc(now) >= clock.as_utc(promo.starts_at)


def regions_serve(regions: Sequence[str], region_code: str) -> bool:
    """Nationwide (no regions) serves every region."""
    return not regions or region_code in regions


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


def views(session: Session, promos: Sequence[Promo], now: dt.datetime,
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


def list_promos(session: Session, now: dt.datetime, tz: ZoneInfo, *,
                region: str | None = None, every: bool = False) -> list[dict[str, Any]]:
    """The buyer's view (live and sold-out promotions) or, with `every`, all of them;
    `region` keeps those that serve it (nationwide ones serve every region)."""
    promos = session.exec(select(Promo).order_by(col(Promo.starts_at), col(Promo.code))).all()
    shown = views(session, promos, now, tz)
    if not every:
        shown = [view for view in shown if view["status"] in BUYER_VISIBLE]
    if region is not None:
        shown = [view for view in shown if regions_serve(view["regions"], region)]
    return shown


def show_promo(session: Session, code: str, now: dt.datetime, tz: ZoneInfo) -> dict[str, Any]:
    return views(session, [require_promo(session, code)], now, tz)[0]


# ------------------------------------------------------------------ reports


@dataclass
class Report:
    """What a merchant command did: created / changed (field, old → new) / unchanged /
    removed, plus how many buyers the push reached. JSON keeps money in fen."""

    code: str
    created: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    unchanged: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    notified: int = 0
    status: str = ""
    dry_run: bool = False

    @property
    def any_change(self) -> bool:
        return bool(self.created or self.changed or self.removed)

    def diff(self, kind: str, key: str, fields: dict[str, tuple[Any, Any]], *,
             item_id: str | None = None) -> bool:
        """Record the fields whose values differ (or `unchanged`); True if any did."""
        entry: dict[str, Any] = {"kind": kind, "key": key}
        if item_id is not None:
            entry["id"] = item_id
        differing = [(name, old, new) for name, (old, new) in fields.items() if old != new]
        if not differing:
            self.unchanged.append(entry)
            return False
        for name, old, new in differing:
            self.changed.append({**entry, "field": name, "old": old, "new": new})
        return True

    def to_json(self) -> dict[str, Any]:
        # A dry run rolls back the items it would create: their ids were never kept, and the
        # real publish makes new ones, so they are null rather than a promise nobody keeps.
        created = ([{**entry, "id": None} if "id" in entry else entry for entry in self.created]
                   if self.dry_run else self.created)
        return {
            "code": self.code,
            "status": self.status,
            "dry_run": self.dry_run,
            "any_change": self.any_change,
            "created": created,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "notified": self.notified,
        }

    def rows(self) -> list[dict[str, Any]]:
        """One row per fact, for a table or TSV: action, kind, key, field, old, new."""
        out: list[dict[str, Any]] = []
        data = self.to_json()
        for action in ("created", "changed", "removed", "unchanged"):
            for entry in data[action]:
                name = entry.get("field", "")
                out.append({"action": action, "kind": entry["kind"], "key": entry["key"],
                            "id": entry.get("id"), "field": name,
                            "old": _shown(name, entry.get("old")),
                            "new": _shown(name, entry.get("new"))})
        return out


def _shown(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name.endswith("_fen") and isinstance(value, int):
        return money.yuan(value)
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "nationwide"
    return str(value)


#: What to do next about each conflict a promotion change can run into.
CONFLICT_HINTS = {
    "stock_below_sold": "set the stock to at least the units sold (exactly that ends the "
                        "item's sales)",
    "price_change_needs_force": "add --force to change prices of a promotion that started",
    "item_has_sales": "keep the item in the file; set its stock to the units sold to stop "
                      "selling it",
    "list_price_below_promo": "lower that promotion's price first, or keep the list price",
}


class Problems:
    """Mistakes (exit 3) and conflicts (exit 5) collected so that all are reported at once;
    invalid input is always reported before any conflict."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.invalid: list[tuple[str, str]] = []
        self.conflicts: list[tuple[str, str]] = []

    def raise_invalid(self) -> None:
        if not self.invalid:
            return
        if len(self.invalid) == 1 and not self.source:
            slug, message = self.invalid[0]
            raise InvalidInput(message, slug=slug, hint="correct the value and run it again")
        from wxshop_cli.core.promofile import mistakes_error

        raise mistakes_error(self.source, [message for _, message in self.invalid])

    def raise_conflicts(self) -> None:
        if not self.conflicts:
            return
        slug, message = self.conflicts[0]
        if len(self.conflicts) == 1:
            raise Conflict(message, slug=slug, hint=CONFLICT_HINTS.get(slug),
                           location=message.split(":", 1)[0])
        slugs = {slug for slug, _ in self.conflicts}
        hint = (CONFLICT_HINTS.get(slug) if len(slugs) == 1
                else "resolve each change listed above, then publish again")
        raise Conflict(f"{self.source or 'promotion'}: {len(self.conflicts)} changes are not "
                       "allowed in the current state; nothing was written", slug=slug,
                       hint=hint, details=[m for _, m in self.conflicts],
                       location=message.split(":", 1)[0])


# ------------------------------------------------------------------ writes


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


def _check_writable(promo: Promo) -> None:
    if promo.state == "archived":
        raise Conflict(f"promotion {promo.code!r} is archived", slug="promo_archived",
                       hint="archived promotions cannot change; create a new code")


def _item_conflicts(problems: Problems, item: PromoItem, *, new_price: int, new_stock: int,
                    started: bool, force: bool, stock_where: str, price_where: str) -> None:
    if new_stock < item.sold:
        problems.conflicts.append((
            "stock_below_sold",
            f"{stock_where}: {new_stock} is below the {item.sold} already sold of {item.sku}"))
    if started and new_price != item.price_fen and not force:
        problems.conflicts.append((
            "price_change_needs_force",
            f"{price_where}: changes the price of {item.sku} from {money.yuan(item.price_fen)} "
            f"to {money.yuan(new_price)} after the promotion started (use --force)"))


def _write_item(session: Session, report: Report, promo: Promo, item: PromoItem | None, *,
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
    _check_writable(promo)
    assert promo.id is not None
    items = items_of(session, promo.id, for_update=True)
    existing = next((item for item in items if item.sku == sku), None)
    problems = Problems("")
    if existing is not None:
        _item_conflicts(problems, existing, new_price=price, new_stock=stock,
                        started=has_started(promo, now), force=force, stock_where="--stock",
                        price_where=option)
    problems.raise_conflicts()
    report = Report(code=code)
    position = existing.position if existing is not None else (
        max((item.position for item in items), default=-1) + 1)
    item = _write_item(session, report, promo, existing, sku=sku, pricing=pricing,
                       price_fen=price, stock=stock, limit=limit, position=position, now=now)
    if report.any_change:
        promo.updated_at = now
        session.add(promo)
    session.flush()
    report.status = promo_status(promo, items_of(session, promo.id), now)
    return item, report


def apply_spec(session: Session, spec: PromoSpec, *, now: dt.datetime, tz: ZoneInfo,
               notify: bool | None = None, force: bool = False) -> Report:
    """Create or update the products and the promotion of a (checked) promotion file, publish
    it, and push it if asked — all in the caller's one transaction. Mistakes that need the
    catalog (a new SKU without title or list price, a price above the stored list price) are
    exit 3 and all listed; then every state conflict is exit 5 and all listed. Nothing is
    written unless both lists are empty."""
    lock_catalog(session)
    report = Report(code=spec.code)
    problems = Problems(spec.source or "promotion")
    promo = session.exec(select(Promo).where(Promo.code == spec.code).with_for_update()).first()
    products = catalog.products_by_sku(session, [item.sku for item in spec.items])

    # Mistakes that need the catalog (still invalid input, exit 3).
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
    problems.raise_invalid()

    # Conflicts with the current state (exit 5).
    if promo is not None:
        _check_writable(promo)
    existing = items_of(session, promo.id, for_update=True) if promo is not None and (
        promo.id is not None) else []
    by_sku = {item.sku: item for item in existing}
    started = promo is not None and has_started(promo, now)
    for item in spec.items:
        old = by_sku.get(item.sku)
        if old is not None:
            _item_conflicts(problems, old, new_price=prices[item.sku], new_stock=item.stock,
                            started=started, force=force, stock_where=f"{item.path}.stock",
                            price_where=f"{item.path}.{item.price_key}")
    wanted = {item.sku for item in spec.items}
    gone = [item for item in existing if item.sku not in wanted]
    for item in gone:
        if item.sold > 0 or _has_orders(session, item_id=item.id):
            problems.conflicts.append((
                "item_has_sales",
                f"items: {item.sku} ({item.id}) is not in the file but has sales "
                f"({item.sold} sold); it cannot be removed"))
    for item in spec.items:
        product = products.get(item.sku)
        if product is None or item.list_price_fen is None or (
                item.list_price_fen == product.list_price_fen):
            continue
        for other, other_promo in _items_priced_above(session, item.sku, item.list_price_fen,
                                                      exclude=promo.id if promo else None):
            problems.conflicts.append((
                "list_price_below_promo",
                f"{item.path}.list_price: {money.yuan(item.list_price_fen)} is below the price "
                f"{money.yuan(other.price_fen)} of {other.id} in promotion {other_promo.code!r}"))
    problems.raise_conflicts()

    # Products.
    for item in spec.items:
        product = products.get(item.sku)
        if product is None:
            assert item.title is not None and item.list_price_fen is not None
            product = Product(sku=item.sku, title=item.title, list_price_fen=item.list_price_fen,
                              stock=item.product_stock or 0, image_url=item.image_url or "",
                              description=item.description or "", created_at=now,
                              updated_at=now)
            session.add(product)
            products[item.sku] = product
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

    # The promotion.
    if promo is None:
        promo = Promo(code=spec.code, title=spec.title, starts_at=spec.starts_at,
                      ends_at=spec.ends_at, state="published", created_at=now, updated_at=now)
        session.add(promo)
        session.flush()
        assert promo.id is not None
        for region in spec.regions:
            session.add(PromoRegion(promo_id=promo.id, region_code=region))
        report.created.append({"kind": "promo", "key": spec.code})
    else:
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
                for row in session.exec(select(PromoRegion).where(
                        PromoRegion.promo_id == promo.id)).all():
                    session.delete(row)
                session.flush()
                for region in new_regions:
                    session.add(PromoRegion(promo_id=promo.id, region_code=region))

    # The items: removed, then changed or created in file order.
    for item in gone:
        _delete_item(session, item)
        report.removed.append({"kind": "item", "key": item.sku, "id": item.id})
    for position, item in enumerate(spec.items):
        _write_item(session, report, promo, by_sku.get(item.sku), sku=item.sku,
                    pricing=item.pricing, price_fen=prices[item.sku], stock=item.stock,
                    limit=item.per_buyer_limit, position=position, now=now)
    if report.any_change:
        promo.updated_at = now
        session.add(promo)
    session.flush()
    assert promo.id is not None
    items = items_of(session, promo.id)
    report.status = promo_status(promo, items, now)
    if spec.notify if notify is None else notify:
        report.notified = push_promo(session, promo, items, spec.regions, now, tz)
    return report


def _has_orders(session: Session, *, item_id: str | None = None,
                promo_id: int | None = None) -> bool:
    """Any order that is not closed (a sale, or a payment under way) for this item/promo."""
    statement = select(Order.order_no).where(Order.status != "closed")
    if item_id is not None:
        statement = statement.where(Order.item_id == item_id)
    if promo_id is not None:
        statement = statement.where(Order.promo_id == promo_id)
    return session.exec(statement.limit(1)).first() is not None


def _items_priced_above(session: Session, sku: str, list_price_fen: int,
                        exclude: int | None) -> list[tuple[PromoItem, Promo]]:
    statement = select(PromoItem, Promo).join(
        Promo, col(Promo.id) == col(PromoItem.promo_id)).where(
        PromoItem.sku == sku, Promo.state != "archived", PromoItem.price_fen > list_price_fen)
    if exclude is not None:
        statement = statement.where(Promo.id != exclude)
    return [(item, promo) for item, promo in session.exec(statement).all()]


def _delete_item(session: Session, item: PromoItem) -> None:
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
    _check_writable(promo)
    assert promo.id is not None
    items = items_of(session, promo.id)
    if not items:
        raise Conflict(f"promotion {code!r} has no items", slug="promo_empty",
                       hint="add some with `wxshop promo add-item`")
    report = _move_state(session, promo, "published", now)
    report.status = promo_status(promo, items, now)
    if notify:
        report.notified = push_promo(session, promo, items, regions_of(session, promo.id), now,
                                     tz)
    return report


def unpublish(session: Session, code: str, *, now: dt.datetime) -> Report:
    """Back to draft, only before the first sale (exit 5 after it)."""
    lock_catalog(session)
    promo = require_promo(session, code)
    _check_writable(promo)
    assert promo.id is not None
    items = items_of(session, promo.id, for_update=True)
    sold = sum(item.sold for item in items)
    if sold > 0 or _has_orders(session, promo_id=promo.id):
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


# ------------------------------------------------------------------ the push


#: Statuses in which a publish pushes: there is something to buy now or soon.
PUSH_STATUSES = ("scheduled", "live")


def push_text(promo: Promo, items: Sequence[PromoItem], status: str, tz: ZoneInfo) -> str:
    count = len(items)
    cheapest = min(item.price_fen for item in items)
    what = f"{count} item{'s' if count != 1 else ''} from {money.display(cheapest)}"
    if status == "scheduled":
        return f"{promo.title} starts {clock.human(promo.starts_at, tz)[:16]}: {what}"
    return f"{promo.title} is live: {what}"


def eligible_buyers(session: Session, promo: Promo, regions: Sequence[str]) -> list[int]:
    """Buyers with a bound card (and, for a targeted promotion, a default address in a target
    region) who have not had this promotion pushed yet."""
    from sqlalchemy import exists

    conditions = [
        exists().where(col(Card.buyer_id) == col(Buyer.id), Card.status == "bound"),
        ~exists().where(col(InboxMessage.buyer_id) == col(Buyer.id),
                        InboxMessage.promo_id == promo.id),
    ]
    if regions:
        conditions.append(exists().where(
            col(Address.buyer_id) == col(Buyer.id), col(Address.is_default).is_(True),
            col(Address.removed_at).is_(None), col(Address.region_code).in_(list(regions))))
    return list(session.exec(select(Buyer.id).where(*conditions).order_by(col(Buyer.id))).all())


def push_promo(session: Session, promo: Promo, items: Sequence[PromoItem],
               regions: Sequence[str], now: dt.datetime, tz: ZoneInfo) -> int:
    """One `promo` message into the inbox of every eligible buyer, once per promotion per
    buyer (insert-ignore on buyer+promo), so a re-publish never pushes twice — it reaches
    only buyers who qualify since the last push. Nothing is pushed for a promotion that is
    not scheduled or live. Returns the number of messages written."""
    status = promo_status(promo, items, now)
    if status not in PUSH_STATUSES or not items:
        return 0
    buyers = eligible_buyers(session, promo, regions)
    if not buyers:
        return 0
    text = push_text(promo, items, status, tz)
    pushed = _push(session, buyers, promo, text, now)
    if pushed and promo.notified_at is None:
        promo.notified_at = now
        session.add(promo)
        session.flush()
    return pushed


def _push(session: Session, buyers: list[int], promo: Promo, text: str,
          now: dt.datetime) -> int:
    from wxshop_cli.core.inbox import push_promo_to  # the one way to push (core/inbox.py)

    assert promo.id is not None
    return push_promo_to(session, buyers, promo.id, text, now)
