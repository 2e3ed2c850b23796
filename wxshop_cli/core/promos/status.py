"""The status a promotion shows (SPEC section 7), derived at read time from the stored state
and one clock reading: `draft`, `scheduled`, `live`, `sold_out`, `ended`, `archived`; windows
are half-open `[starts_at, ends_at)`. Pure: no database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from wxshop_cli import clock
from wxshop_cli.db.models import Promo, PromoItem

STATUSES = ("draft", "scheduled", "live", "sold_out", "ended", "archived")
#: The buyer's view (`promo list` without --all) shows promotions in these statuses.
BUYER_VISIBLE = ("live", "sold_out")


def stock_left(item: PromoItem) -> int:
    return max(item.stock_total - item.sold, 0)


def promo_status(promo: Promo, items: Iterable[PromoItem], now: dt.datetime) -> str:
    """The status shown, from the stored state and one clock reading.

    archived and draft are stored states; a published promotion is `scheduled` before
    `starts_at`, `ended` from `ends_at` on, and within `[starts_at, ends_at)` `sold_out` when
    every item's stock_left is 0, else `live`."""
    if promo.state == "archived":
        return "archived"
    if promo.state != "published":
        return "draft"
    now = clock.as_utc(now)
    if now < clock.as_utc(promo.starts_at):
        return "scheduled"
    if now >= clock.as_utc(promo.ends_at):
        return "ended"
    items = list(items)
    if items and all(stock_left(item) == 0 for item in items):
        return "sold_out"
    return "live"


def is_live(promo: Promo, items: Iterable[PromoItem], now: dt.datetime) -> bool:
    return promo_status(promo, items, now) == "live"


def is_open_for_sale(promo: Promo, now: dt.datetime) -> bool:
    """Published and within its window, whatever the stock: what the checkout checks (stock
    itself is taken by the checkout's conditional update, so sold out is exit 7, not 5)."""
    now = clock.as_utc(now)
    return (promo.state == "published"
            and clock.as_utc(promo.starts_at) <= now < clock.as_utc(promo.ends_at))


def has_started(promo: Promo, now: dt.datetime) -> bool:
    """Published and past its start: price changes then need --force."""
    return promo.state == "published" and clock.as_utc(now) >= clock.as_utc(promo.starts_at)


def regions_serve(regions: Sequence[str], region_code: str) -> bool:
    """Nationwide (no regions) serves every region."""
    return not regions or region_code in regions
