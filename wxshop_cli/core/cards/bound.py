"""Bound cards (SPEC section 5): the card's public shape, listing, the default card, unbinding,
and the card a purchase pays with.

What a card row keeps: token (`card_…`), keyed fingerprint, first 6, last 4, brand, bank,
bank code, type, masked holder and mobile, default flag, test flag, bound/unbound times.
`card_public` is the only shape of a card that leaves the package.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from wxshop_cli.clock import iso
from wxshop_cli.core import bins, cardnumber
from wxshop_cli.core.paging import DEFAULT_LIMIT, Key, Ordering, Page, empty_page, read_page
from wxshop_cli.db.models import Card, CardBase
from wxshop_cli.errors import Conflict, InvalidInput, NotFound

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

BOUND = "bound"
UNBOUND = "unbound"


# ---------------------------------------------------------------- public shapes


def display_name(bank: str, card_type: str, last4: str) -> str:
    """`招商银行 储蓄卡 (1234)`."""
    return f"{bank} {bins.CARD_TYPE_LABELS.get(card_type, card_type)} ({last4})"


class CardPublic(CardBase):
    """What `--json` shows of a card. Built from the table row field by field, so a secret
    column added to `Card` later cannot leak here by accident."""

    id: str
    masked_number: str
    display: str
    status: str
    holder_masked: str
    phone_masked: str
    is_test: bool
    bound_at: str | None
    unbound_at: str | None


def card_public(card: Card, tz: dt.tzinfo) -> dict[str, Any]:
    shape = CardPublic(
        id=card.id, brand=card.brand, bank=card.bank, bank_code=card.bank_code,
        card_type=card.card_type, first6=card.first6, last4=card.last4,
        is_default=card.is_default,
        masked_number=cardnumber.masked(card.first6, card.last4),
        display=display_name(card.bank, card.card_type, card.last4),
        status=card.status, holder_masked=card.holder_masked, phone_masked=card.phone_masked,
        is_test=card.is_test, bound_at=iso(card.bound_at, tz),
        unbound_at=iso(card.unbound_at, tz))
    data = shape.model_dump()
    return {"id": data.pop("id"), **data}


# ---------------------------------------------------------------- bound cards


_CARD_ID_FORM = re.compile(r"card_[A-Za-z0-9]{1,64}", re.ASCII)


def check_card_id(card_id: str) -> str:
    """A card is named by its id (`card_…`). Anything else is refused without being echoed:
    it may be a card number typed in the wrong place."""
    if not _CARD_ID_FORM.fullmatch(card_id):
        raise InvalidInput("not a card id: cards are named card_… (never by their number)",
                           slug="invalid_card_id", hint="see `wxshop cards list`")
    return card_id


def _require_card(session: Session, buyer_name: str, card_id: str, *,
                  lock: bool = False) -> Card:
    from wxshop_cli.core.buyers import find_buyer

    check_card_id(card_id)

    buyer = find_buyer(session, buyer_name)
    card = session.get(Card, card_id, with_for_update=lock) if buyer else None
    if buyer is None or card is None or card.buyer_id != buyer.id:
        raise NotFound(f"no card {card_id!r} for buyer {buyer_name!r}", slug="card_not_found",
                       hint="see `wxshop cards list`")
    return card


#: `cards list`: bound before unbound, the default first, then in binding order (a buyer's
#: cards are read by `buyer_id`'s index; the id makes the order unique).
CARDS = Ordering("cards", (Key(Card.status, "str"), Key(Card.is_default, "bool", descending=True),
                           Key(Card.bound_at, "time"), Key(Card.id, "str")))


def list_cards(session: Session, buyer_name: str, *, include_unbound: bool = False,
               tz: ZoneInfo | None = None, limit: int = DEFAULT_LIMIT,
               after: str | None = None) -> Page:
    """A page of the buyer's bound cards (default first, then in binding order);
    `include_unbound` adds the unbound ones kept for order history. Reads only."""
    from wxshop_cli.core.buyers import find_buyer

    buyer = find_buyer(session, buyer_name)
    if buyer is None:
        return empty_page(CARDS, limit=limit, after=after)
    statement = select(Card).where(Card.buyer_id == buyer.id)
    if not include_unbound:
        statement = statement.where(Card.status == BOUND)
    page = read_page(session, statement, CARDS, limit=limit, after=after)
    return page.map(lambda card: card_public(card, tz or dt.UTC))


def show_card(session: Session, buyer_name: str, card_id: str, *,
              tz: ZoneInfo | None = None) -> dict[str, Any]:
    """One of the buyer's cards (bound or not). Reads only."""
    return card_public(_require_card(session, buyer_name, card_id), tz or dt.UTC)


def unbind_card(session: Session, buyer_name: str, card_id: str, now: dt.datetime, *,
                tz: ZoneInfo | None = None) -> dict[str, Any]:
    """Unbind a card: the row stays for order history, it can no longer pay. If it was the
    default, the earliest other bound card becomes the default (or none is left).
    Returns the card plus `unbound: true` and `new_default` (a card id or null)."""
    card = _require_card(session, buyer_name, card_id, lock=True)
    if card.status != BOUND:
        raise Conflict(f"card {card_id} is already unbound", slug="card_unbound",
                       hint="nothing to do; `wxshop cards list --all` shows unbound cards")
    was_default = card.is_default
    card.status = UNBOUND
    card.unbound_at = now
    card.is_default = False
    session.add(card)
    new_default: str | None = None
    if was_default:
        successor = session.exec(select(Card).where(
            Card.buyer_id == card.buyer_id, Card.status == BOUND, Card.id != card.id)
            .order_by(col(Card.bound_at), col(Card.id))).first()
        if successor is not None:
            successor.is_default = True
            session.add(successor)
            new_default = successor.id
    session.flush()
    return {**card_public(card, tz or dt.UTC), "unbound": True, "new_default": new_default}


def set_default_card(session: Session, buyer_name: str, card_id: str, *,
                     tz: ZoneInfo | None = None) -> dict[str, Any]:
    """Make a bound card the default. Returns the card plus `changed` (false if it already
    was the default)."""
    from sqlalchemy import update

    card = _require_card(session, buyer_name, card_id, lock=True)
    if card.status != BOUND:
        raise Conflict(f"card {card_id} is unbound and cannot pay", slug="card_unbound",
                       hint="bind it again with `wxshop bind-card`")
    changed = not card.is_default
    if changed:
        session.execute(update(Card).where(col(Card.buyer_id) == card.buyer_id,
                                           col(Card.id) != card.id)
                        .values(is_default=False))
        card.is_default = True
        session.add(card)
        session.flush()
    return {**card_public(card, tz or dt.UTC), "changed": changed}


# ---------------------------------------------------------------- for checkout


def payment_card(session: Session, buyer_id: int, card_id: str | None = None) -> Card:
    """The card a purchase pays with: `card_id` if given (it must be the buyer's and bound),
    else the buyer's default card.

    Raises NotFound (4) `card_not_found` / `no_card`, Conflict (5) `card_unbound`."""
    if card_id is not None:
        card = session.get(Card, card_id)
        if card is None or card.buyer_id != buyer_id:
            raise NotFound(f"no card {card_id!r}", slug="card_not_found",
                           hint="see `wxshop cards list`")
        if card.status != BOUND:
            raise Conflict(f"card {card_id} is unbound and cannot pay", slug="card_unbound",
                           hint="pay with another card, or bind it again")
        return card
    card = session.exec(select(Card).where(Card.buyer_id == buyer_id, Card.status == BOUND,
                                           col(Card.is_default).is_(True))).first()
    if card is None:
        raise NotFound("no bound card to pay with", slug="no_card",
                       hint="bind one with `wxshop bind-card`")
    return card


def card_display(card: Card) -> str:
    """`招商银行 储蓄卡 (1234)` for a stored card."""
    return display_name(card.bank, card.card_type, card.last4)

