"""One-step buy (SPEC section 8): region → item → saved address → bound card.

    claim   transaction one: idempotency key, promotion live and serving the region, stock
            taken by one conditional UPDATE, the buyer's units by one conditional upsert, the
            order created `pending_payment`. Short, and no bank call inside.
    charge  the gateway, by out_trade_no, outside any transaction.
    settle  transaction two: paid, closed (stock and limit given back), or paying (unknown).

`place_order` is a plain function over a Database and a gateway so that it can run in a loop
in one process (`buy --from FILE`, `rehearse`), not only through the CLI.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, exists, insert, null, select, update
from sqlalchemy.orm import aliased

from wxshop_cli.config import check_buyer_name
from wxshop_cli.core import orders as order_states
from wxshop_cli.core.buyers import openid_of
from wxshop_cli.core.cards import BOUND, check_card_id
from wxshop_cli.core.numbers import next_order_no
from wxshop_cli.db.models import (
    Address,
    Buyer,
    BuyerItemUsage,
    Card,
    IdempotencyKey,
    Order,
    Product,
    Promo,
    PromoItem,
    PromoRegion,
)
from wxshop_cli.db.prepared import (
    Prepared,
    dialect_insert,
    guarded_increment,
    hot_transaction,
    thread_connection,
)
from wxshop_cli.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PaymentRefused,
    SoldOut,
    TryAgain,
    WxError,
)
from wxshop_cli.money import MAX_FEN

KEY_TTL = dt.timedelta(hours=24)
#: A claim older than this was left by a crashed process; a retry may take it over.
CLAIM_TIMEOUT = dt.timedelta(seconds=60)
MAX_QTY = 999
_KEY_FORM = re.compile(r"[A-Za-z0-9_.:-]{1,128}", re.ASCII)
_ITEM_FORM = re.compile(r"[A-Za-z0-9_.-]{1,64}", re.ASCII)

#: Gateway refusal codes → error slugs and words.
REFUSAL_WORDS = {
    "declined": "the bank declined the payment",
    "insufficient_funds": "insufficient funds on the card",
    "card_frozen": "the card is frozen (reported lost)",
    "single_limit": "the amount is over the card's single-payment limit",
    "daily_limit": "the amount is over the card's daily limit",
    "unknown_card": "the bank does not know this card",
}


@dataclass(frozen=True)
class BuyRequest:
    """What the buyer asked for, as given (the idempotency fingerprint uses exactly this)."""

    item: str
    qty: int = 1
    region: str | None = None
    address: str | None = None
    card: str | None = None

    def fingerprint(self) -> str:
        canonical = json.dumps({"item": self.item, "qty": self.qty, "region": self.region,
                                "address": self.address, "card": self.card}, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class Outcome:
    """The result of one buy: the order (if one was made), whether it is a replay, and the
    error to report with its exit code (None when paid)."""

    order: Order | None
    idempotency_key: str
    key_generated: bool
    replayed: bool = False
    error: WxError | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.error is None else self.error.exit_code


def check_request(request: BuyRequest, idempotency_key: str | None) -> None:
    """Form checks, before any state is read (invalid input is reported before conflicts)."""
    if not _ITEM_FORM.fullmatch(request.item):
        raise InvalidInput(f"not an item id or SKU: {request.item!r}", slug="invalid_item",
                           hint="an item id (item_…) or a SKU from `wxshop promo list`")
    if not 1 <= request.qty <= MAX_QTY:
        raise InvalidInput(f"quantity must be 1-{MAX_QTY}, got {request.qty}", slug="invalid_qty",
                           hint=f"--qty takes 1 to {MAX_QTY}")
    if request.region is not None:
        from wxshop_cli.core.regions import check_region

        check_region(request.region)
    if request.card is not None:
        check_card_id(request.card)
    if idempotency_key is not None and not _KEY_FORM.fullmatch(idempotency_key):
        raise InvalidInput("idempotency key: 1-128 characters of A-Z a-z 0-9 _ . : -",
                           slug="invalid_idempotency_key",
                           hint="e.g. a job id plus a counter: ci-4711-1")


def new_idempotency_key() -> str:
    return f"idem_{secrets.token_hex(12)}"


# ---------------------------------------------------------------- the hot path's statements
#
# Checkout is the hot path: it runs driver-level SQL compiled once from Core statements over
# the models (see db/prepared.py for why). Reference rows — the item, its promotion and
# product, the address, the card and whether the promotion serves the address's region — come
# from ONE query per claim; stock and the buyer's units are taken by conditional updates.

_BUYER_ID = Prepared(lambda _: select(Buyer.id).where(Buyer.name == bindparam("name")))
_KEY_CLAIM = Prepared(lambda d: dialect_insert(d, IdempotencyKey.__table__).values(
    buyer_id=bindparam("buyer_id"), key=bindparam("key"), request_hash=bindparam("request_hash"),
    state="running", order_no=bindparam("order_no"), claimed_at=bindparam("now"),
    expires_at=bindparam("expires_at"),
).on_conflict_do_nothing(index_elements=["buyer_id", "key"]).returning(
    IdempotencyKey.__table__.c.buyer_id))
_KEY_READ = Prepared(lambda _: select(
    IdempotencyKey.request_hash, IdempotencyKey.state, IdempotencyKey.order_no,
    IdempotencyKey.response_json, IdempotencyKey.claimed_at, IdempotencyKey.expires_at,
).where(IdempotencyKey.buyer_id == bindparam("buyer_id"), IdempotencyKey.key == bindparam("key")))


def _KEY_WHERE() -> tuple[Any, Any]:
    return (IdempotencyKey.buyer_id == bindparam("buyer_id"),
            IdempotencyKey.key == bindparam("key"))


_KEY_DELETE = Prepared(lambda _: delete(IdempotencyKey).where(*_KEY_WHERE()))
_KEY_TAKE_OVER = Prepared(lambda _: update(IdempotencyKey).where(*_KEY_WHERE()).values(
    claimed_at=bindparam("now")))
_KEY_DONE = Prepared(lambda _: update(IdempotencyKey).where(*_KEY_WHERE()).values(
    state="done", exit_code=bindparam("exit_code")))
_KEY_REFUSED = Prepared(lambda _: update(IdempotencyKey).where(*_KEY_WHERE()).values(
    state="done", order_no=null(), exit_code=bindparam("exit_code"),
    response_json=bindparam("response_json")))
_TAKE_ITEM = Prepared(lambda _: update(PromoItem).where(
    PromoItem.id == bindparam("item_id"), PromoItem.stock_total - PromoItem.sold >= bindparam("qty")
).values(sold=PromoItem.sold + bindparam("qty")))
_TAKE_PRODUCT = Prepared(lambda _: update(Product).where(
    Product.sku == bindparam("sku"), Product.stock >= bindparam("qty")
).values(stock=Product.stock - bindparam("qty")))
_ITEM_LEFT = Prepared(lambda _: select(PromoItem.stock_total - PromoItem.sold).where(
    PromoItem.id == bindparam("item_id")))
_PRODUCT_LEFT = Prepared(lambda _: select(Product.stock).where(Product.sku == bindparam("sku")))
_USED = Prepared(lambda _: select(BuyerItemUsage.used).where(
    BuyerItemUsage.buyer_id == bindparam("buyer_id"),
    BuyerItemUsage.item_id == bindparam("item_id")))


_TAKE_LIMIT = Prepared(lambda d: guarded_increment(
    d, BuyerItemUsage.__table__, {"buyer_id": "buyer_id", "item_id": "item_id"}, "used", "qty",
    "limit"))
_INSERT_ORDER = Prepared(lambda _: insert(Order.__table__).values(
    {**{name: bindparam(name) for name in (
        "order_no", "buyer_id", "promo_id", "item_id", "sku", "title", "qty", "unit_price_fen",
        "amount_fen", "card_id", "address_id", "region_code", "idempotency_key", "created_at")},
     "refunded_fen": 0, "status": order_states.PENDING_PAYMENT, "stock_returned": False}))


def _item_statement(by_item: bool) -> Any:
    """The item, its promotion and product: by item id, or every live item of a SKU."""
    other_promo = aliased(Promo)

    def live(promo: Any) -> Any:
        return and_(promo.state == "published", promo.starts_at <= bindparam("now"),
                    promo.ends_at > bindparam("now"))

    columns = (Product.sku, Product.title, Product.list_price_fen, PromoItem.id,
               PromoItem.price_fen, PromoItem.per_buyer_limit, Promo.id, Promo.code,
               case((live(Promo), 1), else_=0),
               case((exists().where(PromoRegion.promo_id == Promo.id), 1), else_=0))
    if by_item:
        return select(*columns).select_from(PromoItem).join(
            Promo, Promo.id == PromoItem.promo_id).join(Product, Product.sku == PromoItem.sku
                                                        ).where(PromoItem.id == bindparam("ref"))
    live_promo_ids = select(other_promo.id).where(live(other_promo))
    return select(*columns).select_from(Product).outerjoin(PromoItem, and_(
        PromoItem.sku == Product.sku, PromoItem.promo_id.in_(live_promo_ids))).outerjoin(
        Promo, Promo.id == PromoItem.promo_id).where(Product.sku == bindparam("ref")
                                                     ).order_by(Promo.starts_at, Promo.code)


def _address_statement(mode: str) -> Any:
    """`--address`, else the default address in `--region`, else the default address."""
    query = select(Address.id, Address.region_code).where(
        Address.buyer_id == bindparam("buyer_id"), Address.removed_at.is_(None))
    if mode == "given":
        query = query.where(Address.id == bindparam("address_id"))
    elif mode == "region":
        query = query.where(Address.region_code == bindparam("region"))
    return query.order_by(Address.is_default.desc(), Address.created_at, Address.id).limit(1)


def _card_statement(given: bool) -> Any:
    query = select(Card.id, Card.status).where(Card.buyer_id == bindparam("buyer_id"))
    return (query.where(Card.id == bindparam("card_id")) if given else
            query.where(Card.status == BOUND, Card.is_default.is_(True))).limit(1)


# Reference rows are read by small indexed queries, one per table: measured on SQLite, one
# query joining them all (scalar subqueries in outer joins) cost ~100 µs against ~25 µs for
# these together, so the "one query" of the issue became "one indexed lookup per table".
_ITEM = {by_item: Prepared(lambda _, b=by_item: _item_statement(b)) for by_item in (True, False)}
_ADDRESS = {mode: Prepared(lambda _, m=mode: _address_statement(m))
            for mode in ("given", "region", "default")}
_CARD = {given: Prepared(lambda _, g=given: _card_statement(g)) for given in (True, False)}
_SERVES = Prepared(lambda _: select(PromoRegion.promo_id).where(
    PromoRegion.promo_id == bindparam("promo_id"), PromoRegion.region_code == bindparam("region")))


@dataclass(slots=True)
class PlacedOrder:
    """An order as the hot path wrote it (the fields of `Order`, plus what the JSON shape
    needs), so that no transaction reads it back."""

    order_no: str
    buyer_id: int
    promo_id: int | None
    item_id: str | None
    sku: str
    title: str
    qty: int
    unit_price_fen: int
    amount_fen: int
    card_id: str
    address_id: str
    region_code: str
    idempotency_key: str
    created_at: dt.datetime
    status: str = order_states.PENDING_PAYMENT
    refunded_fen: int = 0
    transaction_id: str | None = None
    paid_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    close_reason: str | None = None
    stock_returned: bool = False
    promo_code: str | None = None


@dataclass(slots=True)
class _Reference:
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


# ---------------------------------------------------------------- claims (inside txn one)


def buyer_id_for(tx: Any, db: Any, name: str, now: dt.datetime) -> int:
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


_INSERT_BUYER = Prepared(lambda d: dialect_insert(d, Buyer.__table__).values(
    name=bindparam("name"), created_at=bindparam("now"), pay_failures=0,
).on_conflict_do_nothing(index_elements=["name"]))


def _reference(tx: Any, buyer_id: int, request: BuyRequest, now: dt.datetime) -> _Reference:
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
    (sku, title, list_price, item_id, price, limit, promo_id, code, live, regional) = rows[0]
    if by_item and not live:
        raise Conflict(f"promotion {code} is not live", slug="promo_not_live",
                       hint="see `wxshop promo list`")
    if request.address is not None:
        address = tx.one(_ADDRESS["given"], buyer_id=buyer_id, address_id=request.address)
    elif request.region is not None:
        address = tx.one(_ADDRESS["region"], buyer_id=buyer_id, region=request.region)
    else:
        address = tx.one(_ADDRESS["default"], buyer_id=buyer_id)
    address_id, region_code = address if address is not None else (None, None)
    served = not regional or (region_code is not None and tx.one(
        _SERVES, promo_id=promo_id, region=region_code) is not None)
    card = (tx.one(_CARD[True], buyer_id=buyer_id, card_id=request.card)
            if request.card is not None else tx.one(_CARD[False], buyer_id=buyer_id))
    card_id, card_status = card if card is not None else (None, None)
    return _Reference(sku, title, list_price, item_id, price, limit, promo_id, code,
                      bool(live), served, address_id, region_code, card_id, card_status)


def _check_reference(ref: _Reference, request: BuyRequest) -> None:
    """The order of checks is the contract: item, address, region, card, amount."""
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


@dataclass
class _Claim:
    order: PlacedOrder | None = None  # the claimed order, as written
    replay: Outcome | None = None
    replay_order_no: str | None = None  # a replay of a purchase that made an order
    resume_order_no: str | None = None  # a crashed process's claim taken over: ask the gateway
    key: str = ""  # the idempotency key it was claimed under (set by batch callers)


def place_order(db: Any, gateway: Any, buyer_name: str, request: BuyRequest, now: dt.datetime,
                idempotency_key: str | None = None, *,
                on_claimed: Any = None) -> Outcome:
    """Buy in one step. The payment password must have been verified by the caller.

    Two write transactions of the shop's own (the claim; the outcome with the key's final
    state) around the bank's own. `on_claimed(order_no, key)` runs after the claim committed
    and before the bank is called (so a caller can tell the buyer what to retry with)."""
    check_request(request, idempotency_key)
    generated = idempotency_key is None
    key = idempotency_key or new_idempotency_key()
    connection = thread_connection(db)
    with connection.transaction() as tx:
        claim = claim_in(tx, db, buyer_name, request, key, generated, now)
    if claim.order is not None and on_claimed is not None:
        on_claimed(claim.order.order_no, key)
    if claim.order is None:
        return complete_claim(db, gateway, claim, key, generated, now)
    result = charge(gateway, buyer_name, claim.order, now)
    with connection.transaction() as tx:
        settled = record_outcome(tx, claim.order, result, key, generated, now)
    return settled if settled is not None else settle_slowly(db, gateway, claim.order, result,
                                                             key, generated, now)


def charge(gateway: Any, buyer_name: str, order: PlacedOrder, now: dt.datetime) -> Any:
    return gateway.charge(out_trade_no=order.order_no, card_token=order.card_id,
                          amount_fen=order.amount_fen, openid=openid_of(buyer_name),
                          product=order.title, now=now)


def record_outcome(tx: Any, order: PlacedOrder, result: Any, key: str, generated: bool,
                   now: dt.datetime) -> Outcome | None:
    """Transaction two: the gateway's answer on the order and the key's final state, written
    together. None when the order had moved on meanwhile (see `settle_slowly`)."""
    if not order_states.record_charge(tx, order, result, now):
        return None
    outcome = Outcome(order=order, idempotency_key=key, key_generated=generated,
                      error=error_for(order))
    tx.execute(_KEY_DONE, buyer_id=order.buyer_id, key=key, exit_code=outcome.exit_code)
    return outcome


def settle_slowly(db: Any, gateway: Any, order: PlacedOrder, result: Any, key: str,
                   generated: bool, now: dt.datetime) -> Outcome:
    """Someone else closed or settled the order between our transactions (a cancel, a sweep):
    the book's path records the answer, refunding a payment that landed on a closed order."""
    settled = order_states.apply_charge(db, gateway, order.order_no, result, now)
    outcome = Outcome(order=settled, idempotency_key=key, key_generated=generated,
                      error=error_for(settled))
    _finish_key(db, order.buyer_id, key, outcome)
    return outcome


def complete_claim(db: Any, gateway: Any, claim: _Claim, key: str, generated: bool,
                   now: dt.datetime) -> Outcome:
    """The claims that did not make a fresh order: a replay, or a crashed claim taken over."""
    if claim.replay is not None:
        if claim.replay_order_no is None:
            return claim.replay
        with db.transaction(read_only=True) as session:
            claim.replay.order = session.get_one(Order, claim.replay_order_no)
        return _refresh_replay(db, gateway, claim.replay, now)
    assert claim.resume_order_no is not None
    with db.transaction(read_only=True) as session:
        order = session.get_one(Order, claim.resume_order_no)
    # Taking over a crashed attempt: ask the gateway about that order before anything.
    order = order_states.settle(db, gateway, order, now)
    if order.status == order_states.PENDING_PAYMENT:
        buyer = _buyer_name(db, order.buyer_id)
        result = gateway.charge(out_trade_no=order.order_no, card_token=order.card_id,
                                amount_fen=order.amount_fen, openid=openid_of(buyer),
                                product=order.title, now=now)
        order = order_states.apply_charge(db, gateway, order.order_no, result, now)
    outcome = Outcome(order=order, idempotency_key=key, key_generated=generated,
                      error=error_for(order))
    _finish_key(db, order.buyer_id, key, outcome)
    return outcome


def _buyer_name(db: Any, buyer_id: int) -> str:
    with db.transaction(read_only=True) as session:
        return session.get_one(Buyer, buyer_id).name


def _claim(db: Any, buyer_name: str, request: BuyRequest, key: str, generated: bool,
           now: dt.datetime) -> _Claim:
    """Transaction one on its own (tests use it to leave a claim as a crash would)."""
    with hot_transaction(db) as tx:
        return claim_in(tx, db, buyer_name, request, key, generated, now)


def claim_in(tx: Any, db: Any, buyer_name: str, request: BuyRequest, key: str,
             generated: bool, now: dt.datetime) -> _Claim:
    """Claim the key and reserve the order inside `tx`. Errors other than sold out raise and
    must roll back what this wrote (the caller's transaction or savepoint): such requests do
    not use up the key."""
    buyer_id = buyer_id_for(tx, db, buyer_name, now)
    fingerprint = request.fingerprint()
    # The order number is drawn first so that the key is claimed with it in one statement
    # (a replay leaves a gap in the sequence, which numbers may have).
    order_no = next_order_no(tx, now)
    if tx.one(_KEY_CLAIM, buyer_id=buyer_id, key=key, request_hash=fingerprint,
              order_no=order_no, now=tx.time(now),
              expires_at=tx.time(now + KEY_TTL)) is None:
        existing = _existing_claim(tx, buyer_id, fingerprint, key, order_no, now)
        if existing is not None:
            return existing
    ref = _reference(tx, buyer_id, request, now)
    _check_reference(ref, request)
    unit = ref.price_fen if ref.item_id is not None else ref.list_price_fen
    amount = unit * request.qty
    if amount > MAX_FEN:
        raise InvalidInput("the order amount is over ¥99,999,999.99", slug="invalid_qty",
                           hint="buy fewer units per order")
    refusal = _take_units(tx, ref, buyer_id, request.qty)
    if refusal is not None:
        # The outcome is kept on the key, so a replay answers the same.
        refusal.extra["idempotency_key"] = key
        tx.execute(_KEY_REFUSED, buyer_id=buyer_id, key=key, exit_code=refusal.exit_code,
                   response_json=json.dumps({"slug": refusal.slug, "message": refusal.message,
                                             "extra": refusal.extra}, ensure_ascii=False))
        return _Claim(replay=Outcome(order=None, idempotency_key=key, key_generated=generated,
                                     error=refusal))
    order = PlacedOrder(
        order_no=order_no, buyer_id=buyer_id, promo_id=ref.promo_id,
        item_id=ref.item_id, sku=ref.sku, title=ref.title, qty=request.qty,
        unit_price_fen=unit, amount_fen=amount, card_id=ref.card_id,
        address_id=ref.address_id, region_code=ref.region_code, idempotency_key=key,
        created_at=now, promo_code=ref.promo_code)
    tx.execute(_INSERT_ORDER, order_no=order_no, buyer_id=buyer_id,
               promo_id=order.promo_id, item_id=order.item_id, sku=order.sku,
               title=order.title, qty=order.qty, unit_price_fen=unit, amount_fen=amount,
               card_id=order.card_id, address_id=order.address_id,
               region_code=order.region_code, idempotency_key=key, created_at=tx.time(now))
    return _Claim(order=order)


def _take_units(tx: Any, ref: _Reference, buyer_id: int, qty: int) -> SoldOut | None:
    """The buyer's units by one conditional upsert (`used + qty <= limit`), then stock by one
    conditional UPDATE; never count-then-insert. The hot row (the item's stock) is locked
    last, so on PostgreSQL its lock is held only for the order's insert and the commit. The
    refusal, if any, with what was taken given back in the same transaction; sold out is
    reported before the limit when both apply."""
    limited = ref.item_id is not None and ref.per_buyer_limit is not None
    if limited and (qty > ref.per_buyer_limit or tx.one(
            _TAKE_LIMIT, buyer_id=buyer_id, item_id=ref.item_id, qty=qty,
            limit=ref.per_buyer_limit) is None):
        if _left(tx, ref) < qty:
            return _sold_out(tx, ref, qty)
        used = tx.one(_USED, buyer_id=buyer_id, item_id=ref.item_id)
        return SoldOut(f"the per-buyer limit of {ref.per_buyer_limit} for {ref.title} "
                       f"would be exceeded (already bought {used[0] if used else 0})",
                       slug="limit_exceeded", item_id=ref.item_id, sku=ref.sku,
                       hint="this promotion allows each buyer that many units in all")
    if ref.item_id is not None:
        taken = tx.rowcount(_TAKE_ITEM, item_id=ref.item_id, qty=qty) == 1
    else:
        taken = tx.rowcount(_TAKE_PRODUCT, sku=ref.sku, qty=qty) == 1
    if taken:
        return None
    if limited:
        order_states.return_usage(tx, buyer_id, ref.item_id, qty)
    return _sold_out(tx, ref, qty)


def _left(tx: Any, ref: _Reference) -> int:
    if ref.item_id is not None:
        return tx.one(_ITEM_LEFT, item_id=ref.item_id)[0]
    return tx.one(_PRODUCT_LEFT, sku=ref.sku)[0]


def _sold_out(tx: Any, ref: _Reference, qty: int) -> SoldOut:
    """Say exactly what ran out: the promotion's allocation or the list-price stock, and how
    many are left when some are."""
    left = _left(tx, ref)
    if ref.item_id is not None:
        where = f"promo item {ref.item_id}"
    else:
        where = f"{ref.sku} at list price (no live promotion)"
    if left > 0:
        return SoldOut(f"only {left} of {ref.title} left for {where}, asked for {qty}",
                       slug="sold_out", item_id=ref.item_id, sku=ref.sku, left=left,
                       hint=f"buy at most {left}")
    return SoldOut(f"{ref.title} is sold out: {where}", slug="sold_out", item_id=ref.item_id,
                   sku=ref.sku, left=0,
                   hint="see `wxshop promo list` for what is still in stock")


def _existing_claim(tx: Any, buyer_id: int, fingerprint: str, key: str, order_no: str,
                    now: dt.datetime) -> _Claim | None:
    """The key was claimed before. None when an expired key was dropped and claimed afresh
    with `order_no` (the caller goes on as for a new key)."""
    row = tx.one(_KEY_READ, buyer_id=buyer_id, key=key)
    request_hash, state, claimed_order_no, response_json = row[:4]
    claimed_at, expires_at = tx.from_time(row[4]), tx.from_time(row[5])
    if expires_at <= now or (state != "done" and claimed_order_no is None):
        # Past its 24 hours, or a claim that never reserved anything: claim it afresh.
        tx.execute(_KEY_DELETE, buyer_id=buyer_id, key=key)
        tx.execute(_KEY_CLAIM, buyer_id=buyer_id, key=key, request_hash=fingerprint,
                   order_no=order_no, now=tx.time(now), expires_at=tx.time(now + KEY_TTL))
        return None
    if request_hash != fingerprint:
        raise Conflict("idempotency key already used for another request",
                       slug="idempotency_key_reused", idempotency_key=key,
                       hint="use a new key for a different purchase")
    if state == "done":
        replay = Outcome(order=None, idempotency_key=key, key_generated=False, replayed=True)
        if claimed_order_no is None:
            stored = json.loads(response_json or "{}")
            replay.error = SoldOut(stored.get("message", "sold out"),
                                   slug=stored.get("slug", "sold_out"), **stored.get("extra", {}))
        return _Claim(replay=replay, replay_order_no=claimed_order_no)
    if now - claimed_at < CLAIM_TIMEOUT:
        raise TryAgain("the same request is still running", slug="request_in_progress",
                       idempotency_key=key, order_no=claimed_order_no,
                       hint="retry in a minute with the same key")
    # A claim left by a crashed process: take it over and ask the gateway first.
    tx.execute(_KEY_TAKE_OVER, buyer_id=buyer_id, key=key, now=tx.time(now))
    return _Claim(resume_order_no=claimed_order_no)


_KEY_RELEASE = Prepared(lambda _: update(IdempotencyKey).where(
    *_KEY_WHERE(), IdempotencyKey.state == "running").values(claimed_at=bindparam("lapsed")))


def release_claim(db: Any, buyer_name: str, key: str, now: dt.datetime) -> None:
    """Let a retry take over at once a claim this process gives up (an interrupt while the
    bank was asked): the retry asks the gateway about the order before anything else, as for
    a crashed process's claim, so it never pays twice."""
    with hot_transaction(db) as tx:
        buyer_id = buyer_id_for(tx, db, buyer_name, now)
        tx.execute(_KEY_RELEASE, buyer_id=buyer_id, key=key,
                   lapsed=tx.time(now - CLAIM_TIMEOUT - dt.timedelta(seconds=1)))


def _finish_key(db: Any, buyer_id: int, key: str, outcome: Outcome) -> None:
    # Done even when the payment is unknown: a replay settles the order with the gateway
    # first (see _refresh_replay), so the retry answers with the settled state.
    with hot_transaction(db) as tx:
        tx.execute(_KEY_DONE, buyer_id=buyer_id, key=key, exit_code=outcome.exit_code)


def _refresh_replay(db: Any, gateway: Any, outcome: Outcome, now: dt.datetime) -> Outcome:
    """A replay shows the order as it is now, settling an unknown payment first."""
    if outcome.order is None:
        return outcome
    order = order_states.settle(db, gateway, outcome.order, now)
    outcome.order = order
    outcome.error = error_for(order)
    return outcome


def order_json(db: Any, outcome: Outcome, buyer_name: str, tz: Any) -> dict[str, Any]:
    """The order JSON shape of an outcome: as the hot path wrote it, or (a replay, a settled
    takeover) read with its promotion code."""
    order = outcome.order
    assert order is not None
    if isinstance(order, PlacedOrder):
        return order_states.public(order, buyer_name, tz, replayed=outcome.replayed,
                                   promo_code=order.promo_code)
    with db.transaction(read_only=True) as session:
        return order_states.describe(session, order, tz, replayed=outcome.replayed)


def error_for(order: Any) -> WxError | None:
    """The error a buy reports for the order's state (None when it is paid)."""
    extra = {"order_no": order.order_no, "idempotency_key": order.idempotency_key}
    if order.status in (order_states.PAID, order_states.PARTIALLY_REFUNDED,
                        order_states.REFUNDED):
        return None
    if order.status == order_states.PAYING:
        return TryAgain(f"the bank has not answered for order {order.order_no}",
                        slug="payment_unknown",
                        hint="retry with the same idempotency key, or `wxshop orders show`",
                        **extra)
    if order.status == order_states.CLOSED:
        reason = order.close_reason or "refused"
        if reason in REFUSAL_WORDS:
            return PaymentRefused(f"payment refused: {REFUSAL_WORDS[reason]}",
                                  slug=f"payment_{reason}",
                                  hint="nothing was charged; pay with another card (--card)",
                                  **extra)
        return Conflict(f"order {order.order_no} is closed ({reason})", slug="order_closed",
                        hint="buy again with a new idempotency key", **extra)
    return TryAgain(f"order {order.order_no} is still {order.status}", slug="payment_unknown",
                    **extra)
