"""What a buy produces: the order as the hot path wrote it (`PlacedOrder`), the claim of
transaction one (`Claim`), the buy's `Outcome`, the error an order's state reports, and the
order's JSON shape."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wxshop_cli.core import orders as order_states
from wxshop_cli.db.models import Order
from wxshop_cli.errors import Conflict, PaymentRefused, TryAgain, WxError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from wxshop_cli.db.engine import Database

#: Gateway refusal codes → error slugs and words.
REFUSAL_WORDS = {
    "declined": "the bank declined the payment",
    "insufficient_funds": "insufficient funds on the card",
    "card_frozen": "the card is frozen (reported lost)",
    "single_limit": "the amount is over the card's single-payment limit",
    "daily_limit": "the amount is over the card's daily limit",
    "unknown_card": "the bank does not know this card",
}


@dataclass
class Outcome:
    """The result of one buy: the order (if one was made), whether it is a replay, and the
    error to report with its exit code (None when paid)."""

    order: Order | PlacedOrder | None
    idempotency_key: str
    key_generated: bool
    replayed: bool = False
    error: WxError | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.error is None else self.error.exit_code


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
    mobile: str | None = None  # a top-up's number


@dataclass
class Claim:
    """What transaction one did with the key: a fresh order, a replay, or a takeover."""

    order: PlacedOrder | None = None  # the claimed order, as written
    replay: Outcome | None = None
    replay_order_no: str | None = None  # a replay of a purchase that made an order
    resume_order_no: str | None = None  # a crashed process's claim taken over: ask the gateway
    key: str = ""  # the idempotency key it was claimed under (set by batch callers)


def outcome_public(db: Database, outcome: Outcome, buyer_name: str, tz: ZoneInfo) -> dict[str, Any]:
    """The order JSON shape of an outcome: as the hot path wrote it, or (a replay, a settled
    takeover) read with its promotion code.

    It takes the Database rather than a Session (the one transaction rule's exception): a
    fresh order is shaped from what the hot path wrote, with no transaction at all, and only
    a stored order opens one read transaction; a caller-opened Session would add a
    transaction to every purchase."""
    order = outcome.order
    assert order is not None
    if isinstance(order, PlacedOrder):
        return order_states.order_public(order, buyer_name, tz, replayed=outcome.replayed,
                                   promo_code=order.promo_code)
    with db.transaction(read_only=True) as session:
        return order_states.stored_order_public(session, order, tz, replayed=outcome.replayed)


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
