"""What a purchase will use, read before the payment password on a terminal (the one-screen
buy of issue 14): the item with its promotion and list price, the quantity and total, the
address and the card the claim will pick, and the stock left.

It reads the same reference rows as the claim (`reference.read_reference`, through the
Session) and runs the same checks, so a purchase that cannot go through (no address, a
region not served, no card) fails here, before the password is asked. Only a command on a
terminal calls it: `buy --from` and scripts never pay for it."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlmodel import col

from wxshop_cli.core.checkout.reference import check_reference, read_reference
from wxshop_cli.core.checkout.request import BuyRequest
from wxshop_cli.db.models import Address, Card, Product, PromoItem
from wxshop_cli.db.prepared import as_tx

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from sqlmodel import Session


def preview(session: Session, buyer_name: str, request: BuyRequest, now: dt.datetime,
            tz: ZoneInfo) -> dict[str, Any] | None:
    """The facts of the panel, read in the caller's (read-only) transaction, or None when
    the buyer does not exist yet (the password check then says what is missing). Raises
    what the claim would raise for the item, the address, the region and the card; never
    writes."""
    from wxshop_cli.core.addresses import address_public
    from wxshop_cli.core.buyers import find_buyer
    from wxshop_cli.core.cards import card_public

    buyer = find_buyer(session, buyer_name)
    if buyer is None:
        return None
    ref = read_reference(as_tx(session), buyer.id, request, now)
    check_reference(ref, request)
    if ref.item_id is not None:
        left = session.execute(select(col(PromoItem.stock_total) - col(PromoItem.sold))
                               .where(col(PromoItem.id) == ref.item_id)).scalar_one()
    else:
        left = session.execute(select(col(Product.stock))
                               .where(col(Product.sku) == ref.sku)).scalar_one()
    # A top-up ships nowhere: the number it tops up instead of an address.
    address = (address_public(session.get_one(Address, ref.address_id), tz)
               if ref.address_id else None)
    card = card_public(session.get_one(Card, ref.card_id), tz)
    unit = ref.price_fen if ref.item_id is not None and ref.price_fen is not None \
        else ref.list_price_fen
    return {"sku": ref.sku, "title": ref.title, "item_id": ref.item_id,
            "promo_code": ref.promo_code, "price_fen": unit,
            "list_price_fen": ref.list_price_fen, "qty": request.qty,
            "total_fen": unit * request.qty, "stock_left": left,
            "address": address, "card": card, "mobile_masked": _masked(request.mobile)}


def _masked(mobile: str | None) -> str | None:
    from wxshop_cli.core.identity import mask_mobile

    return mask_mobile(mobile) if mobile else None


def order_facts(session: Session, card_id: str | None, address_id: str | None,
                tz: ZoneInfo) -> dict[str, Any]:
    """The card and address of a placed order as a person reads them (the result panel on
    a terminal): `{"card": {...} | None, "address": {...} | None}`."""
    from wxshop_cli.core.addresses import address_public
    from wxshop_cli.core.cards import card_public

    card = session.get(Card, card_id) if card_id else None
    address = session.get(Address, address_id) if address_id else None
    return {"card": card_public(card, tz) if card is not None else None,
            "address": address_public(address, tz) if address is not None else None}
