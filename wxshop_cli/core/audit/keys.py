"""Checks of idempotency keys: none stuck running, each pointing at its own order, a finished
one with an outcome; and one order per key within the key's lifetime."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, func, not_, or_, select
from sqlmodel import col

from wxshop_cli.core.audit.base import Check, Kind, Violation, seconds_between
from wxshop_cli.core.checkout import CLAIM_TIMEOUT, KEY_TTL
from wxshop_cli.db.models import IdempotencyKey, Order


def idempotency_keys(now: dt.datetime) -> Check:
    k = IdempotencyKey
    s = (select(col(k.buyer_id), col(k.key), col(k.state), col(k.order_no),
                col(k.response_json).is_not(None).label("has_refusal"), col(k.claimed_at),
                col(Order.order_no).label("order"),
                col(Order.buyer_id).label("order_buyer"),
                col(Order.idempotency_key).label("order_key"))
         .outerjoin(Order, col(Order.order_no) == col(k.order_no))).subquery()
    c = s.c
    stale = now - CLAIM_TIMEOUT

    def ids(r):
        return {"buyer_id": r.buyer_id, "idempotency_key": r.key}

    def age(r) -> str:
        seconds = int((now - r.claimed_at).total_seconds())
        since = r.claimed_at.astimezone(now.tzinfo).isoformat()  # in the audit clock's zone
        return f"running since {since}, {seconds} s before the audit"

    return Check("idempotency_keys", [
        Kind("key_stuck_running", and_(c.state == "running", c.claimed_at <= stale),
             lambda r: Violation("key_stuck_running", {**ids(r), "order_no": r.order_no},
                                 "done", "running",
                                 f"{age(r)} (claims time out after "
                                 f"{int(CLAIM_TIMEOUT.total_seconds())} s)")),
        Kind("key_order_missing", and_(c.order_no.is_not(None), c.order.is_(None)),
             lambda r: Violation("key_order_missing", {**ids(r), "order_no": r.order_no},
                                 r.order_no, None, f"the key points at order {r.order_no}, "
                                                   "which does not exist")),
        Kind("key_order_mismatch", and_(c.order.is_not(None), or_(
            c.order_buyer != c.buyer_id, c.order_key.is_(None), c.order_key != c.key)),
             lambda r: Violation("key_order_mismatch", {**ids(r), "order_no": r.order_no},
                                 {"buyer_id": r.buyer_id, "idempotency_key": r.key},
                                 {"buyer_id": r.order_buyer, "idempotency_key": r.order_key},
                                 f"order {r.order_no} belongs to another buyer or key")),
        Kind("key_without_outcome", and_(c.state == "done", c.order_no.is_(None),
                                         not_(c.has_refusal)),
             lambda r: Violation("key_without_outcome", ids(r),
                                 "an order or a stored refusal", None,
                                 "a finished key with neither an order nor the refusal it "
                                 "replays")),
    ], s, [c.buyer_id, c.key])


def order_keys(dialect: str) -> Check:
    """One order per key: two orders of one buyer with one key less than the key's 24 h
    apart (a key can only be used again once it has expired).

    A GROUP BY finds the keys with several orders (normally none); only their orders go
    through the window that compares neighbours — a window over every order costs several
    times the grouping on SQLite."""
    keyed = col(Order.idempotency_key).is_not(None)
    # Key first: grouping by buyer first walks the buyer index in random table order.
    several = (select(col(Order.idempotency_key).label("key"), col(Order.buyer_id).label("buyer"))
               .where(keyed).group_by(col(Order.idempotency_key), col(Order.buyer_id))
               .having(func.count() > 1)).subquery()
    window: dict[str, Any] = {"partition_by": (Order.idempotency_key, Order.buyer_id),
                              "order_by": (Order.created_at, Order.order_no)}
    s = (select(col(Order.order_no), col(Order.buyer_id), col(Order.idempotency_key),
                col(Order.created_at),
                func.lag(col(Order.created_at)).over(**window).label("prev_at"),
                func.lag(col(Order.order_no)).over(**window).label("prev_no"))
         .join(several, and_(several.c.key == Order.idempotency_key,
                             several.c.buyer == Order.buyer_id))).subquery()
    c = s.c
    twice = and_(c.prev_no.is_not(None),
                 seconds_between(c.created_at, c.prev_at, dialect)
                 < KEY_TTL.total_seconds())
    return Check("order_keys", [
        Kind("key_ordered_twice", twice, lambda r: Violation(
            "key_ordered_twice", {"order_no": r.order_no, "buyer_id": r.buyer_id,
                                  "idempotency_key": r.idempotency_key,
                                  "other_order_no": r.prev_no},
            1, 2, f"orders {r.prev_no} and {r.order_no} were made with one key within "
                  f"{int(KEY_TTL.total_seconds() // 3600)} h")),
    ], s, [c.order_no], rows=select(func.count()).select_from(Order).where(keyed))

