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

from sqlalchemy import delete, select, update
from sqlmodel import Session

from wxshop_cli.core import orders as order_states
from wxshop_cli.core import promos
from wxshop_cli.core.buyers import get_or_create_buyer, openid_of
from wxshop_cli.core.cards import payment_card
from wxshop_cli.core.numbers import next_order_no
from wxshop_cli.db.models import (
    Address,
    Buyer,
    BuyerItemUsage,
    IdempotencyKey,
    Order,
    Product,
    Promo,
    PromoItem,
)
from wxshop_cli.db.sql import affected, dialect_insert, insert_ignore
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
    if idempotency_key is not None and not _KEY_FORM.fullmatch(idempotency_key):
        raise InvalidInput("idempotency key: 1-128 characters of A-Z a-z 0-9 _ . : -",
                           slug="invalid_idempotency_key",
                           hint="e.g. a job id plus a counter: ci-4711-1")


def new_idempotency_key() -> str:
    return f"idem_{secrets.token_hex(12)}"


# ---------------------------------------------------------------- resolution (inside txn one)


def resolve_item(session: Session, ref: str, now: dt.datetime) -> tuple[PromoItem | None,
                                                                         Product, Promo | None]:
    """ITEM is a promo item id, or a SKU: in exactly one live promotion → that promo item;
    in none → the product at list price; in several → refused, naming the item ids."""
    if ref.startswith("item_"):
        item, promo = promos.require_item(session, ref)
        if not promos.is_open_for_sale(promo, now):
            raise Conflict(f"promotion {promo.code} is not live", slug="promo_not_live",
                           hint="see `wxshop promo list`")
        return item, session.get_one(Product, item.sku), promo
    product = session.get(Product, ref)
    if product is None:
        raise NotFound(f"no item or SKU {ref!r}", slug="item_not_found",
                       hint="see `wxshop promo list` or `wxshop product list`")
    live = promos.find_live_items_for_sku(session, ref, now)
    if len(live) > 1:
        ids = sorted(item.id for item, _ in live)
        raise InvalidInput(f"SKU {ref} is in several live promotions; buy one of: "
                           f"{', '.join(ids)}", slug="ambiguous_item", item_ids=ids,
                           hint="pass the item id instead of the SKU")
    if live:
        return live[0][0], product, live[0][1]
    return None, product, None


def resolve_address(session: Session, buyer: Buyer, address_id: str | None,
                    region: str | None) -> Address:
    """`--address`, else the buyer's default address in `--region`, else the default."""
    from wxshop_cli.core.addresses import default_address, get_address

    if address_id is not None:
        return get_address(session, buyer.id, address_id)
    address = default_address(session, buyer.id, region)
    if address is None:
        where = f" in region {region}" if region else ""
        raise NotFound(f"no saved address{where}", slug="address_not_found",
                       hint="add one with `wxshop address add`")
    return address


# ---------------------------------------------------------------- claims (inside txn one)


def take_stock(session: Session, item: PromoItem | None, product: Product, qty: int) -> bool:
    """One conditional UPDATE: never below zero, whoever races."""
    if item is not None:
        statement = update(PromoItem).where(
            PromoItem.id == item.id, PromoItem.stock_total - PromoItem.sold >= qty
        ).values(sold=PromoItem.sold + qty)
    else:
        statement = update(Product).where(Product.sku == product.sku,
                                          Product.stock >= qty).values(stock=Product.stock - qty)
    return session.execute(statement).rowcount == 1


def take_limit(session: Session, buyer: Buyer, item: PromoItem, qty: int) -> bool:
    """One conditional upsert of the buyer's units: `used + qty <= limit`, never count-then-
    insert."""
    if item.per_buyer_limit is None:
        return True
    if qty > item.per_buyer_limit:
        return False
    statement = dialect_insert(session, BuyerItemUsage).values(
        buyer_id=buyer.id, item_id=item.id, used=qty)
    table = BuyerItemUsage.__table__
    statement = statement.on_conflict_do_update(
        index_elements=["buyer_id", "item_id"],
        set_={"used": table.c.used + statement.excluded.used},
        where=(table.c.used + statement.excluded.used) <= item.per_buyer_limit,
    )
    return affected(session, statement, ["buyer_id"])


# ---------------------------------------------------------------- the three steps


@dataclass
class _Claim:
    order: Order | None = None  # the claimed order, read in the claiming transaction
    replay: Outcome | None = None
    resume: bool = False  # a crashed process's claim taken over: ask the gateway first


def place_order(db: Any, gateway: Any, buyer_name: str, request: BuyRequest, now: dt.datetime,
                idempotency_key: str | None = None) -> Outcome:
    """Buy in one step. The payment password must have been verified by the caller."""
    check_request(request, idempotency_key)
    generated = idempotency_key is None
    key = idempotency_key or new_idempotency_key()
    claim = _claim(db, buyer_name, request, key, generated, now)
    if claim.replay is not None:
        return _refresh_replay(db, gateway, claim.replay, now)
    order = claim.order
    assert order is not None
    if claim.resume:
        # Taking over a crashed attempt: ask the gateway about that order before anything.
        order = order_states.settle(db, gateway, order, now)
    if order.status == order_states.PENDING_PAYMENT:
        result = gateway.charge(out_trade_no=order.order_no, card_token=order.card_id,
                                amount_fen=order.amount_fen, openid=openid_of(buyer_name),
                                product=order.title, now=now)
        order = order_states.apply_charge(db, gateway, order.order_no, result, now)
    outcome = Outcome(order=order, idempotency_key=key, key_generated=generated,
                      error=error_for(order))
    _finish_key(db, order.buyer_id, key, outcome)
    return outcome


def _claim(db: Any, buyer_name: str, request: BuyRequest, key: str, generated: bool,
           now: dt.datetime) -> _Claim:
    fingerprint = request.fingerprint()
    with db.transaction() as session:
        buyer = get_or_create_buyer(session, buyer_name, now)
        existing = session.get(IdempotencyKey, (buyer.id, key))
        if existing is not None and existing.expires_at <= now:
            session.execute(delete(IdempotencyKey).where(IdempotencyKey.buyer_id == buyer.id,
                                                         IdempotencyKey.key == key))
            session.flush()
            existing = None
        if existing is None and not insert_ignore(session, IdempotencyKey, {
            "buyer_id": buyer.id, "key": key, "request_hash": fingerprint, "state": "running",
            "claimed_at": now, "expires_at": now + KEY_TTL}, ["buyer_id", "key"]):
            existing = session.get(IdempotencyKey, (buyer.id, key))  # claimed just now
        if existing is not None:
            return _existing_claim(session, existing, fingerprint, key, now)
        try:
            with session.begin_nested():  # a savepoint: sold out rolls back the reservation
                order = _reserve(session, buyer, request, key, now)
        except SoldOut as exc:
            # The outcome is kept on the key, so a replay answers the same.
            exc.extra["idempotency_key"] = key
            session.execute(update(IdempotencyKey).where(
                IdempotencyKey.buyer_id == buyer.id, IdempotencyKey.key == key
            ).values(state="done", exit_code=exc.exit_code, response_json=json.dumps(
                {"slug": exc.slug, "message": exc.message, "extra": exc.extra},
                ensure_ascii=False)))
            return _Claim(replay=Outcome(order=None, idempotency_key=key,
                                         key_generated=generated, error=exc))
        # Any other error (not found, not live, region not served) propagates and rolls the
        # claim back with everything else: such requests do not use up the key.
        session.execute(update(IdempotencyKey).where(
            IdempotencyKey.buyer_id == buyer.id, IdempotencyKey.key == key
        ).values(order_no=order.order_no))
        return _Claim(order=order)


def _sold_out(session: Session, item: PromoItem | None, product: Product, qty: int) -> SoldOut:
    """Say exactly what ran out: the promotion's allocation or the list-price stock, and how
    many are left when some are."""
    if item is not None:
        session.refresh(item)
        left, where = item.stock_total - item.sold, f"promo item {item.id}"
    else:
        session.refresh(product)
        left, where = product.stock, f"{product.sku} at list price (no live promotion)"
    if left > 0:
        return SoldOut(f"only {left} of {product.title} left for {where}, asked for {qty}",
                       slug="sold_out", item_id=item.id if item else None, sku=product.sku,
                       left=left, hint=f"buy at most {left}")
    return SoldOut(f"{product.title} is sold out: {where}", slug="sold_out",
                   item_id=item.id if item else None, sku=product.sku, left=0,
                   hint="see `wxshop promo list` for what is still in stock")


def _existing_claim(session: Session, existing: IdempotencyKey, fingerprint: str, key: str,
                    now: dt.datetime) -> _Claim:
    if existing.request_hash != fingerprint:
        raise Conflict("idempotency key already used for another request",
                       slug="idempotency_key_reused", idempotency_key=key,
                       hint="use a new key for a different purchase")
    if existing.state == "done":
        return _Claim(replay=_stored_outcome(session, existing))
    if now - existing.claimed_at < CLAIM_TIMEOUT:
        raise TryAgain("the same request is still running", slug="request_in_progress",
                       idempotency_key=key, order_no=existing.order_no,
                       hint="retry in a minute with the same key")
    # A claim left by a crashed process: take it over and ask the gateway first.
    session.execute(update(IdempotencyKey).where(
        IdempotencyKey.buyer_id == existing.buyer_id, IdempotencyKey.key == key
    ).values(claimed_at=now))
    if existing.order_no is None:
        # It crashed before its reservation committed: nothing was reserved.
        session.execute(delete(IdempotencyKey).where(
            IdempotencyKey.buyer_id == existing.buyer_id, IdempotencyKey.key == key))
        raise TryAgain("a crashed attempt left this key; retry now", slug="request_in_progress",
                       idempotency_key=key)
    return _Claim(order=session.get_one(Order, existing.order_no), resume=True)


def _reserve(session: Session, buyer: Buyer, request: BuyRequest, key: str,
             now: dt.datetime) -> Order:
    item, product, promo = resolve_item(session, request.item, now)
    address = resolve_address(session, buyer, request.address, request.region)
    if request.region is not None and address.region_code != request.region:
        raise InvalidInput(f"address {address.id} is not in region {request.region}",
                           slug="address_region_mismatch",
                           hint="drop --region, or pick an address in that region")
    if promo is not None and not promos.serves_region(session, promo,
                                                            address.region_code):
        raise Conflict(f"promotion {promo.code} does not serve region {address.region_code}",
                       slug="region_not_served", hint="choose an address in a served region")
    card = payment_card(session, buyer.id, request.card)
    unit = item.price_fen if item is not None else product.list_price_fen
    amount = unit * request.qty
    if amount > MAX_FEN:
        raise InvalidInput("the order amount is over ¥99,999,999.99", slug="invalid_qty",
                           hint="buy fewer units per order")
    if not take_stock(session, item, product, request.qty):
        raise _sold_out(session, item, product, request.qty)
    if item is not None and not take_limit(session, buyer, item, request.qty):
        used = session.execute(select(BuyerItemUsage.used).where(
            BuyerItemUsage.buyer_id == buyer.id, BuyerItemUsage.item_id == item.id)
        ).scalar() or 0
        raise SoldOut(f"the per-buyer limit of {item.per_buyer_limit} for {product.title} "
                      f"would be exceeded (already bought {used})", slug="limit_exceeded",
                      item_id=item.id, sku=product.sku,
                      hint="this promotion allows each buyer that many units in all")
    order = Order(order_no=next_order_no(session, now), buyer_id=buyer.id,
                  promo_id=promo.id if promo else None, item_id=item.id if item else None,
                  sku=product.sku, title=product.title, qty=request.qty,
                  unit_price_fen=unit, amount_fen=amount, card_id=card.id,
                  address_id=address.id, region_code=address.region_code,
                  status=order_states.PENDING_PAYMENT, idempotency_key=key, created_at=now)
    session.add(order)
    session.flush()
    return order


def _finish_key(db: Any, buyer_id: int, key: str, outcome: Outcome) -> None:
    # Done even when the payment is unknown: a replay settles the order with the gateway
    # first (see _refresh_replay), so the retry answers with the settled state.
    with db.transaction() as session:
        session.execute(update(IdempotencyKey).where(
            IdempotencyKey.buyer_id == buyer_id, IdempotencyKey.key == key
        ).values(state="done", exit_code=outcome.exit_code))


def _stored_outcome(session: Session, row: IdempotencyKey) -> Outcome:
    if row.order_no is None:
        stored = json.loads(row.response_json or "{}")
        error = SoldOut(stored.get("message", "sold out"), slug=stored.get("slug", "sold_out"),
                        **stored.get("extra", {}))
        return Outcome(order=None, idempotency_key=row.key, key_generated=False, replayed=True,
                       error=error)
    order = session.get_one(Order, row.order_no)
    return Outcome(order=order, idempotency_key=row.key, key_generated=False, replayed=True)


def _refresh_replay(db: Any, gateway: Any, outcome: Outcome, now: dt.datetime) -> Outcome:
    """A replay shows the order as it is now, settling an unknown payment first."""
    if outcome.order is None:
        return outcome
    order = order_states.settle(db, gateway, outcome.order, now)
    outcome.order = order
    outcome.error = error_for(order)
    return outcome


def error_for(order: Order) -> WxError | None:
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
