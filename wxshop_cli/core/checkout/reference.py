"""The reference rows a claim reads — the buyer, the item with its promotion and product, the
address, whether the promotion serves its region, the card — and the checks on them, in the
contract's order. Hot-path statements (see db/prepared.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, case, exists, select
from sqlalchemy.orm import aliased
from sqlmodel import col

from wxshop_cli.config import check_buyer_name
from wxshop_cli.core.cards import BOUND
from wxshop_cli.core.checkout.request import BuyRequest
from wxshop_cli.db.models import Address, Buyer, Card, Product, Promo, PromoItem, PromoRegion
from wxshop_cli.db.prepared import Prepared, dialect_insert
from wxshop_cli.errors import Conflict, InvalidInput, NotFound, UsageError

#: The product kind of mobile credit: sent to a mobile number, no address, no region.
TOPUP = "topup"

if TYPE_CHECKING:
    from wxshop_cli.db.engine import Database
    from wxshop_cli.db.prepared import HotTransaction, Tx

_BUYER_ID = Prepared(lambda _: select(col(Buyer.id)).where(col(Buyer.name) == bindparam("name")))
_INSERT_BUYER = Prepared(lambda d: dialect_insert(d, Buyer.__table__).values(
    name=bindparam("name"), created_at=bindparam("now"), pay_failures=0,
).on_conflict_do_nothing(index_elements=["name"]))


def _item_statement(by_item: bool) -> Any:
    """The item, its promotion and product: by item id, or every live item of a SKU."""
    other_promo = aliased(Promo)

    def live(promo: Any) -> Any:
        return and_(promo.state == "published", promo.starts_at <= bindparam("now"),
                    promo.ends_at > bindparam("now"))

    columns = (*map(col, (Product.sku, Product.title, Product.list_price_fen, PromoItem.id,
                          PromoItem.price_fen, PromoItem.per_buyer_limit, Promo.id, Promo.code)),
               case((live(Promo), 1), else_=0),
               case((exists().where(col(PromoRegion.promo_id) == col(Promo.id)), 1), else_=0),
               col(Product.kind))
    if by_item:
        return select(*columns).select_from(PromoItem).join(
            Promo, col(Promo.id) == PromoItem.promo_id).join(
            Product, col(Product.sku) == PromoItem.sku).where(col(PromoItem.id) == bindparam("ref"))
    live_promo_ids = select(col(other_promo.id)).where(live(other_promo))
    return select(*columns).select_from(Product).outerjoin(PromoItem, and_(
        col(PromoItem.sku) == col(Product.sku),
        col(PromoItem.promo_id).in_(live_promo_ids))).outerjoin(
        Promo, col(Promo.id) == PromoItem.promo_id).where(
        col(Product.sku) == bindparam("ref")).order_by(col(Promo.starts_at), Promo.code)


def _address_statement(mode: str) -> Any:
    """`--address`, else the default address in `--region`, else the default address."""
    query = select(col(Address.id), col(Address.region_code)).where(
        col(Address.buyer_id) == bindparam("buyer_id"), col(Address.removed_at).is_(None))
    if mode == "given":
        query = query.where(col(Address.id) == bindparam("address_id"))
    elif mode == "region":
        query = query.where(col(Address.region_code) == bindparam("region"))
    return query.order_by(col(Address.is_default).desc(), col(Address.created_at),
                          col(Address.id)).limit(1)


def _card_statement(given: bool) -> Any:
    query = select(col(Card.id), col(Card.status)).where(
        col(Card.buyer_id) == bindparam("buyer_id"))
    return (query.where(col(Card.id) == bindparam("card_id")) if given else
            query.where(col(Card.status) == BOUND, col(Card.is_default).is_(True))).limit(1)


# Reference rows are read by small indexed queries, one per table: measured on SQLite, one
# query joining them all (scalar subqueries in outer joins) cost ~100 µs against ~25 µs for
# these together, so the "one query" of the issue became "one indexed lookup per table".
# (mypy cannot infer a lambda whose extra parameter has a default: hence the ignores.)
_ITEM = {by_item: Prepared(lambda _, b=by_item: _item_statement(b))  # type: ignore[misc]
         for by_item in (True, False)}
_ADDRESS = {mode: Prepared(lambda _, m=mode: _address_statement(m))  # type: ignore[misc]
            for mode in ("given", "region", "default")}
_CARD = {given: Prepared(lambda _, g=given: _card_statement(g))  # type: ignore[misc]
         for given in (True, False)}
_SERVES = Prepared(lambda _: select(col(PromoRegion.promo_id)).where(
    col(PromoRegion.promo_id) == bindparam("promo_id"),
    col(PromoRegion.region_code) == bindparam("region")))


@dataclass(slots=True)
class Reference:
    sku: str
    title: str
    list_price_fen: int
    item_id: str | None
    price_fen: int | None
    per_buyer_limit: int | None
    promo_id: int | None
    promo_code: str | None
    live: bool
    served: bool
    address_id: str | None
    region_code: str | None
    card_id: str | None
    card_status: str | None
    kind: str = "goods"

    @property
    def topup(self) -> bool:
        return self.kind == TOPUP


def buyer_id_for(tx: HotTransaction, db: Database, name: str, now: dt.datetime) -> int:
    """The buyer's id, created on first use. Ids never change and buyers are never deleted,
    so each process remembers the ids it read (not one it just inserted: that transaction
    may yet roll back)."""
    cache = db.__dict__.setdefault("_buyer_ids", {})
    found = cache.get(name)
    if found is not None:
        return found
    row = tx.one(_BUYER_ID, name=name)
    if row is not None:
        cache[name] = row[0]
        return row[0]
    check_buyer_name(name)
    tx.execute(_INSERT_BUYER, name=name, now=tx.time(now))
    return tx.one(_BUYER_ID, name=name)[0]


def read_reference(tx: Tx, buyer_id: int, request: BuyRequest,
                   now: dt.datetime) -> Reference:
    by_item = request.item.startswith("item_")
    rows = tx.all(_ITEM[by_item], ref=request.item, now=tx.time(now))
    if not rows:
        if by_item:
            raise NotFound(f"no promo item {request.item!r}", slug="item_not_found",
                           hint="see `wxshop promo list`")
        raise NotFound(f"no item or SKU {request.item!r}", slug="item_not_found",
                       hint="see `wxshop promo list` or `wxshop product list`")
    if len(rows) > 1:
        ids = sorted(row[3] for row in rows)
        raise InvalidInput(f"SKU {request.item} is in several live promotions; buy one of: "
                           f"{', '.join(ids)}", slug="ambiguous_item", item_ids=ids,
                           hint="pass the item id instead of the SKU")
    (sku, title, list_price, item_id, price, limit, promo_id, code, live, regional,
     kind) = rows[0]
    if by_item and not live:
        raise Conflict(f"promotion {code} is not live", slug="promo_not_live",
                       hint="see `wxshop promo list`")
    if kind == TOPUP:  # sent to a mobile number: no address, so no region to serve
        address, served = ("", ""), True
    elif request.address is not None:
        address = tx.one(_ADDRESS["given"], buyer_id=buyer_id, address_id=request.address)
    elif request.region is not None:
        address = tx.one(_ADDRESS["region"], buyer_id=buyer_id, region=request.region)
    else:
        address = tx.one(_ADDRESS["default"], buyer_id=buyer_id)
    address_id, region_code = address if address is not None else (None, None)
    if kind != TOPUP:
        served = not regional or (region_code is not None and tx.one(
            _SERVES, promo_id=promo_id, region=region_code) is not None)
    card = (tx.one(_CARD[True], buyer_id=buyer_id, card_id=request.card)
            if request.card is not None else tx.one(_CARD[False], buyer_id=buyer_id))
    card_id, card_status = card if card is not None else (None, None)
    return Reference(sku, title, list_price, item_id, price, limit, promo_id, code,
                     bool(live), served, address_id, region_code, card_id, card_status, kind)


def check_reference(ref: Reference, request: BuyRequest) -> None:
    """The order of checks is the contract: item, address (a top-up: its mobile), region,
    card, amount."""
    if ref.topup:
        _check_topup(ref, request)
    elif request.mobile is not None:
        raise InvalidInput(f"{ref.sku} is goods, shipped to an address: --mobile is for "
                           "top-ups", slug="mobile_not_for_goods",
                           hint="drop --mobile; the order ships to your saved address")
    if ref.address_id is None:
        if request.address is not None:
            raise NotFound(f"no address {request.address!r}", slug="address_not_found",
                           hint="see `wxshop address list`")
        where = f" in region {request.region}" if request.region else ""
        raise NotFound(f"no saved address{where}", slug="address_not_found",
                       hint="add one with `wxshop address add`")
    if request.region is not None and ref.region_code != request.region:
        raise InvalidInput(f"address {ref.address_id} is not in region {request.region}",
                           slug="address_region_mismatch",
                           hint="drop --region, or pick an address in that region")
    if ref.item_id is not None and not ref.served:
        raise Conflict(f"promotion {ref.promo_code} does not serve region {ref.region_code}",
                       slug="region_not_served", hint="choose an address in a served region")
    if ref.card_id is None:
        if request.card is not None:
            raise NotFound(f"no card {request.card!r}", slug="card_not_found",
                           hint="see `wxshop cards list`")
        raise NotFound("no bound card to pay with", slug="no_card",
                       hint="bind one with `wxshop bind-card`")
    if ref.card_status != BOUND:
        raise Conflict(f"card {ref.card_id} is unbound and cannot pay", slug="card_unbound",
                       hint="pay with another card, or bind it again")


def _check_topup(ref: Reference, request: BuyRequest) -> None:
    """A top-up goes to a mobile number: it needs one, and takes no address or region."""
    if request.address is not None or request.region is not None:
        raise InvalidInput(f"{ref.sku} is a mobile top-up: it ships nowhere, so it takes no "
                           "--address or --region", slug="address_not_for_topup",
                           hint="give the number to top up with --mobile")
    if request.mobile is None:
        raise UsageError(f"{ref.sku} is a mobile top-up: which number?", slug="missing_mobile",
                         hint=f"wxshop buy {request.item} --mobile 13800138000")
