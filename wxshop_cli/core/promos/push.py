"""The push (SPEC section 7): publishing a scheduled or live promotion puts one `promo`
message into the inbox of every eligible buyer, once per promotion per buyer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from wxshop_cli import clock
from wxshop_cli.core.promos.status import promo_status
from wxshop_cli.db.models import Address, Buyer, Card, InboxMessage, Promo, PromoItem

#: Statuses in which a publish pushes: there is something to buy now or soon.
PUSH_STATUSES = ("scheduled", "live")


def push_text(promo: Promo, items: Sequence[PromoItem], status: str, tz: ZoneInfo) -> str:
    """The push says what stays true: the title, when, how many items, and where the live
    facts are. A message is written once, at publish time, and read later — a price or stock
    in it ("from ¥149.00") would go stale when that item sells out or is repriced, so prices
    and stock are left to `promo show` and the strips, which are read live
    (docs/decisions-cli.md)."""
    count = len(items)
    what = f"{count} item{'s' if count != 1 else ''} (wxshop promo show {promo.code})"
    if status == "scheduled":
        return f"{promo.title} starts {clock.human(promo.starts_at, tz)[:16]}: {what}"
    return f"{promo.title} is live: {what}"


def eligible_buyers(session: Session, promo: Promo, regions: Sequence[str]) -> list[int]:
    """Buyers with a bound card (and, for a targeted promotion, a default address in a target
    region) who have not had this promotion pushed yet."""
    from sqlalchemy import exists

    conditions = [
        exists().where(col(Card.buyer_id) == col(Buyer.id), col(Card.status) == "bound"),
        ~exists().where(col(InboxMessage.buyer_id) == col(Buyer.id),
                        col(InboxMessage.promo_id) == promo.id),
    ]
    if regions:
        conditions.append(exists().where(
            col(Address.buyer_id) == col(Buyer.id), col(Address.is_default).is_(True),
            col(Address.removed_at).is_(None), col(Address.region_code).in_(list(regions))))
    return list(session.exec(select(col(Buyer.id)).where(*conditions).order_by(
        col(Buyer.id))).all())


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
