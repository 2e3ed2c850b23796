"""Checks of what buyers hold beside orders: promotion pushes (one per buyer and promotion)
and bound cards (each known to the gateway)."""

from __future__ import annotations

from sqlalchemy import and_, func, select
from sqlmodel import col

from wxshop_cli.core.audit.base import Check, Kind, Violation
from wxshop_cli.db.models import Card, GatewayCard, InboxMessage


def pushes() -> Check:
    m = InboxMessage
    s = (select(col(m.buyer_id), col(m.promo_id), func.count().label("n"))
         .where(col(m.kind) == "promo").group_by(col(m.buyer_id), col(m.promo_id))).subquery()
    c = s.c
    return Check("pushes", [
        Kind("promo_pushed_twice", and_(c.promo_id.is_not(None), c.n > 1),
             lambda r: Violation("promo_pushed_twice", {"buyer_id": r.buyer_id,
                                                        "promo_id": r.promo_id},
                                 1, r.n, f"{r.n} messages of one promotion to one buyer")),
        Kind("push_without_promo", c.promo_id.is_(None),
             lambda r: Violation("push_without_promo", {"buyer_id": r.buyer_id},
                                 "a promotion", None,
                                 f"{r.n} promo message(s) that name no promotion")),
    ], s, [c.promo_id, c.buyer_id])


def cards() -> Check:
    s = (select(col(Card.id).label("card_id"), col(Card.buyer_id), col(GatewayCard.token))
         .outerjoin(GatewayCard, col(GatewayCard.token) == col(Card.id))
         .where(col(Card.status) == "bound")).subquery()
    c = s.c
    return Check("cards", [
        Kind("card_unknown_to_gateway", c.token.is_(None),
             lambda r: Violation("card_unknown_to_gateway", {"card_id": r.card_id,
                                                             "buyer_id": r.buyer_id},
                                 "a gateway card", None,
                                 "a bound card the gateway does not know")),
    ], s, [c.card_id])

