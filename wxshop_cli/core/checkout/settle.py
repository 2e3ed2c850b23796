"""After the claim: the bank's charge, transaction two (the outcome with the key's final
state), and the slower paths — an order someone else moved meanwhile, a replay, a crashed
claim taken over — which go through the book's ORM paths (core/orders.py)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from wxshop_cli.core import orders as order_states
from wxshop_cli.core.buyers import openid_of
from wxshop_cli.core.checkout.keys import finish_key, mark_done
from wxshop_cli.core.checkout.outcome import Claim, Outcome, PlacedOrder, error_for
from wxshop_cli.db.models import Buyer, Order

if TYPE_CHECKING:
    from sqlmodel import Session

    from wxshop_cli.db.engine import Database
    from wxshop_cli.db.prepared import HotTransaction
    from wxshop_cli.gateway.base import PaymentGateway


def charge(gateway: PaymentGateway, buyer_name: str, order: PlacedOrder | Order,
           now: dt.datetime) -> Any:
    """The bank's charge of an order: a fresh one, or a crashed claim's taken over."""
    return gateway.charge(out_trade_no=order.order_no, card_token=order.card_id,
                          amount_fen=order.amount_fen, openid=openid_of(buyer_name),
                          product=order.title, now=now)


def record_outcome(tx: HotTransaction, order: PlacedOrder, result: Any, key: str, generated: bool,
                   now: dt.datetime) -> Outcome | None:
    """Transaction two: the gateway's answer on the order and the key's final state, written
    together. None when the order had moved on meanwhile (see `settle_slowly`)."""
    if not order_states.record_charge(tx, order, result, now):
        return None
    outcome = Outcome(order=order, idempotency_key=key, key_generated=generated,
                      error=error_for(order))
    mark_done(tx, order.buyer_id, key, outcome.exit_code)
    return outcome


def settle_slowly(db: Database, gateway: PaymentGateway, order: PlacedOrder, result: Any, key: str,
                  generated: bool, now: dt.datetime) -> Outcome:
    """Someone else closed or settled the order between our transactions (a cancel, a sweep):
    the book's path records the answer, refunding a payment that landed on a closed order."""
    settled = order_states.apply_charge(db, gateway, order.order_no, result, now)
    outcome = Outcome(order=settled, idempotency_key=key, key_generated=generated,
                      error=error_for(settled))
    finish_key(db, order.buyer_id, key, outcome)
    return outcome


def complete_claim(db: Database, gateway: PaymentGateway, claim: Claim, key: str, generated: bool,
                   now: dt.datetime) -> Outcome:
    """The claims that did not make a fresh order: a replay, or a crashed claim taken over."""
    if claim.replay is not None:
        if claim.replay_order_no is None:
            return claim.replay
        with db.transaction(read_only=True) as session:
            claim.replay.order = session.get_one(Order, claim.replay_order_no)
        return refresh_replay(db, gateway, claim.replay, now)
    assert claim.resume_order_no is not None
    with db.transaction(read_only=True) as session:
        order = session.get_one(Order, claim.resume_order_no)
    # Taking over a crashed attempt: ask the gateway about that order before anything.
    order = order_states.settle(db, gateway, order, now)
    if order.status == order_states.PENDING_PAYMENT:
        with db.transaction(read_only=True) as session:
            buyer = _buyer_name(session, order.buyer_id)
        result = charge(gateway, buyer, order, now)
        order = order_states.apply_charge(db, gateway, order.order_no, result, now)
    outcome = Outcome(order=order, idempotency_key=key, key_generated=generated,
                      error=error_for(order))
    finish_key(db, order.buyer_id, key, outcome)
    return outcome


def _buyer_name(session: Session, buyer_id: int) -> str:
    return session.get_one(Buyer, buyer_id).name


def refresh_replay(db: Database, gateway: PaymentGateway, outcome: Outcome,
                   now: dt.datetime) -> Outcome:
    """A replay shows the order as it is now, settling an unknown payment first."""
    if outcome.order is None:
        return outcome
    order = order_states.settle(db, gateway, outcome.order, now)
    outcome.order = order
    outcome.error = error_for(order)
    return outcome
