"""One-step buy (SPEC section 8): region → item → saved address → bound card.

    claim   transaction one: idempotency key, promotion live and serving the region, stock
            taken by one conditional UPDATE, the buyer's units by one conditional upsert, the
            order created `pending_payment`. Short, and no bank call inside.
    charge  the gateway, by out_trade_no, outside any transaction.
    settle  transaction two: paid, closed (stock and limit given back), or paying (unknown).

`place_order` is a plain function over a Database and a gateway so that it can run in a loop
in one process (`buy --from FILE`, `rehearse`), not only through the CLI.

This module is the purchase itself: `place_order`, the claim (`claim_in`) and the units it
takes. Around it: `request` (what is asked, form checks), `reference` (the rows a claim reads
and their checks), `keys` (the idempotency key's states), `outcome` (what a buy produces),
`settle` (the charge, transaction two and the slower paths). The statements that take units
stay here, where the claim runs them: tests/test_rehearse.py swaps `checkout._TAKE_ITEM` and
`checkout._TAKE_LIMIT` for unguarded ones to show that the rehearsal's verdict catches it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, insert, select, update
from sqlmodel import col

from wxshop_cli.core import funnel
from wxshop_cli.core import orders as order_states
from wxshop_cli.core.checkout.keys import (
    CLAIM_TIMEOUT,
    KEY_TTL,
    claim_key,
    release_claim,
    store_refusal,
)
from wxshop_cli.core.checkout.outcome import (
    REFUSAL_WORDS,
    Claim,
    Outcome,
    PlacedOrder,
    error_for,
    outcome_public,
)
from wxshop_cli.core.checkout.reference import (
    Reference,
    buyer_id_for,
    check_reference,
    read_reference,
)
from wxshop_cli.core.checkout.request import (
    MAX_QTY,
    BuyRequest,
    check_request,
    new_idempotency_key,
)
from wxshop_cli.core.checkout.settle import (
    charge,
    complete_claim,
    record_outcome,
    settle_slowly,
)
from wxshop_cli.core.numbers import next_order_no
from wxshop_cli.db.models import BuyerItemUsage, Order, Product, PromoItem
from wxshop_cli.db.prepared import Prepared, guarded_increment, hot_transaction, thread_connection
from wxshop_cli.errors import InvalidInput, PaymentRefused, SoldOut, WxError
from wxshop_cli.money import MAX_FEN

if TYPE_CHECKING:
    from wxshop_cli.db.engine import Database
    from wxshop_cli.db.prepared import HotTransaction
    from wxshop_cli.gateway.base import PaymentGateway

__all__ = [
    "CLAIM_TIMEOUT", "KEY_TTL", "MAX_QTY", "REFUSAL_WORDS", "BuyRequest", "Claim", "Outcome",
    "PlacedOrder", "buyer_id_for", "charge", "check_request", "claim_in",
    "complete_claim", "error_for", "new_idempotency_key", "outcome_public",
    "place_order", "record_outcome", "release_claim", "settle_slowly", "verify_password",
]

_TAKE_ITEM = Prepared(lambda _: update(PromoItem).where(
    col(PromoItem.id) == bindparam("item_id"),
    col(PromoItem.stock_total) - col(PromoItem.sold) >= bindparam("qty")
).values(sold=PromoItem.sold + bindparam("qty")))
_TAKE_PRODUCT = Prepared(lambda _: update(Product).where(
    col(Product.sku) == bindparam("sku"), col(Product.stock) >= bindparam("qty")
).values(stock=Product.stock - bindparam("qty")))
_ITEM_LEFT = Prepared(lambda _: select(col(PromoItem.stock_total) - col(PromoItem.sold)).where(
    col(PromoItem.id) == bindparam("item_id")))
_PRODUCT_LEFT = Prepared(lambda _: select(col(Product.stock)).where(
    col(Product.sku) == bindparam("sku")))
_USED = Prepared(lambda _: select(col(BuyerItemUsage.used)).where(
    col(BuyerItemUsage.buyer_id) == bindparam("buyer_id"),
    col(BuyerItemUsage.item_id) == bindparam("item_id")))
_TAKE_LIMIT = Prepared(lambda d: guarded_increment(
    d, BuyerItemUsage.__table__, {"buyer_id": "buyer_id", "item_id": "item_id"}, "used", "qty",
    "limit"))
_INSERT_ORDER = Prepared(lambda _: insert(Order.__table__).values(
    {**{name: bindparam(name) for name in (
        "order_no", "buyer_id", "promo_id", "item_id", "sku", "title", "qty", "unit_price_fen",
        "amount_fen", "card_id", "address_id", "region_code", "mobile", "idempotency_key",
        "created_at")},
     "refunded_fen": 0, "status": order_states.PENDING_PAYMENT, "stock_returned": False}))


def place_order(db: Database, gateway: PaymentGateway, buyer_name: str, request: BuyRequest,
                now: dt.datetime, idempotency_key: str | None = None, *,
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


def verify_password(db: Database, buyer_name: str, password: str | None, item: str,
                    now: dt.datetime) -> None:
    """The payment password, checked before a buy (core/paypassword.py). A wrong one is an
    attempt of the funnel that ended before the claim: written in a small transaction of its
    own, after the password's, touching no idempotency key (a wrong password never uses one
    up). Failing to write it never hides the password's error."""
    from wxshop_cli.core.paypassword import verify_pay_password

    try:
        verify_pay_password(db, buyer_name, password, now)
    except PaymentRefused as exc:
        if exc.slug == "wrong_password":
            with contextlib.suppress(WxError):
                funnel.record_wrong_passwords(db, [(buyer_name, item)], now)
        raise


def _claim(db: Database, buyer_name: str, request: BuyRequest, key: str, generated: bool,
           now: dt.datetime) -> Claim:
    """Transaction one on its own (tests use it to leave a claim as a crash would)."""
    with hot_transaction(db) as tx:
        return claim_in(tx, db, buyer_name, request, key, generated, now)


def claim_in(tx: HotTransaction, db: Database, buyer_name: str, request: BuyRequest, key: str,
             generated: bool, now: dt.datetime) -> Claim:
    """Claim the key and reserve the order inside `tx`. Errors other than sold out raise and
    must roll back what this wrote (the caller's transaction or savepoint): such requests do
    not use up the key."""
    buyer_id = buyer_id_for(tx, db, buyer_name, now)
    fingerprint = request.fingerprint()
    # The order number is drawn first so that the key is claimed with it in one statement
    # (a replay leaves a gap in the sequence, which numbers may have).
    order_no = next_order_no(tx, now)
    existing = claim_key(tx, buyer_id, fingerprint, key, order_no, now)
    if existing is not None:
        return existing
    ref = read_reference(tx, buyer_id, request, now)
    check_reference(ref, request)
    unit = ref.price_fen if ref.item_id is not None else ref.list_price_fen
    amount = unit * request.qty  # type: ignore[operator]  # check_reference: a price
    if amount > MAX_FEN:
        raise InvalidInput("the order amount is over ¥99,999,999.99", slug="invalid_qty",
                           hint="buy fewer units per order")
    refusal = _take_units(tx, ref, buyer_id, request.qty)
    if refusal is not None:
        store_refusal(tx, buyer_id, key, refusal)
        # The funnel's attempt that ended here (an order is its own record): in this
        # transaction, written once per key, so a replay (answered above) never counts again.
        funnel.record_refusal(tx, refusal.slug, buyer_id, ref, now)
        return Claim(replay=Outcome(order=None, idempotency_key=key, key_generated=generated,
                                    error=refusal))
    order = PlacedOrder(
        order_no=order_no, buyer_id=buyer_id, promo_id=ref.promo_id,
        item_id=ref.item_id, sku=ref.sku, title=ref.title, qty=request.qty,
        # check_reference refused a reference without a price, card, address or region:
        unit_price_fen=unit, amount_fen=amount, card_id=ref.card_id,  # type: ignore[arg-type]
        address_id=ref.address_id, region_code=ref.region_code,  # type: ignore[arg-type]
        idempotency_key=key, created_at=now, promo_code=ref.promo_code,
        mobile=request.mobile if ref.topup else None)
    tx.execute(_INSERT_ORDER, order_no=order_no, buyer_id=buyer_id,
               promo_id=order.promo_id, item_id=order.item_id, sku=order.sku,
               title=order.title, qty=order.qty, unit_price_fen=unit, amount_fen=amount,
               card_id=order.card_id, address_id=order.address_id,
               region_code=order.region_code, mobile=order.mobile, idempotency_key=key,
               created_at=tx.time(now))
    return Claim(order=order)


def _take_units(tx: HotTransaction, ref: Reference, buyer_id: int, qty: int) -> SoldOut | None:
    """The buyer's units by one conditional upsert (`used + qty <= limit`), then stock by one
    conditional UPDATE; never count-then-insert. The hot row (the item's stock) is locked
    last, so on PostgreSQL its lock is held only for the order's insert and the commit. The
    refusal, if any, with what was taken given back in the same transaction; sold out is
    reported before the limit when both apply."""
    limited = ref.item_id is not None and ref.per_buyer_limit is not None
    if limited and (qty > ref.per_buyer_limit or tx.one(  # type: ignore[operator]
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
        order_states.return_usage(tx, buyer_id, ref.item_id, qty)  # type: ignore[arg-type]
    return _sold_out(tx, ref, qty)


def _left(tx: HotTransaction, ref: Reference) -> int:
    if ref.item_id is not None:
        return tx.one(_ITEM_LEFT, item_id=ref.item_id)[0]
    return tx.one(_PRODUCT_LEFT, sku=ref.sku)[0]


def _sold_out(tx: HotTransaction, ref: Reference, qty: int) -> SoldOut:
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
