"""Promotion rules (SPEC section 7): the code, window and limit checks, and the pricing of an
item (a fixed price, a percentage or an amount off), rounded to the fen."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from wxshop_cli import money
from wxshop_cli.errors import InvalidInput

PROMO_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", re.ASCII)
PERCENT = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,2})?", re.ASCII)
#: The keys of a promotion file item that set its price; exactly one is given.
PRICE_KEYS = ("price", "price_fen", "percent_off", "amount_off", "amount_off_fen")
RULES = ("price", "percent_off", "amount_off")
LIMIT_MAX = 1_000_000


# ------------------------------------------------------------------ checks


def check_code(code: Any, *, field: str = "code") -> str:
    if not isinstance(code, str) or not PROMO_CODE.fullmatch(code):
        raise InvalidInput(f"{field}: not a promotion code: {code!r}", slug="invalid_promo_code",
                           hint="1-64 characters of A-Z a-z 0-9 _ -, starting with a letter "
                                "or digit")
    return code


def check_window(starts_at: dt.datetime, ends_at: dt.datetime, *, field: str = "ends") -> None:
    if ends_at <= starts_at:
        raise InvalidInput(f"{field}: the promotion must end after it starts",
                           slug="invalid_window",
                           hint="give an end later than the start; the window is [start, end)")


def check_limit(limit: Any, *, field: str = "per_buyer_limit") -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInput(f"{field}: must be a whole number of at least 1", slug="invalid_limit",
                           hint="units per buyer, 1 or more; leave it out for no limit")
    if limit > LIMIT_MAX:
        raise InvalidInput(f"{field}: more than {LIMIT_MAX:,}", slug="invalid_limit",
                           hint=f"at most {LIMIT_MAX:,} units per buyer, or leave it out for "
                                "no limit")
    return limit


# ------------------------------------------------------------------ pricing


@dataclass(frozen=True)
class Pricing:
    """How an item is priced: `price` (fixed), `percent_off` or `amount_off`.

    `value` is canonical text, so that equal rules compare equal: yuan with two decimals
    (`3999.00`, `500.00`) or a percentage without trailing zeros (`20`, `12.5`)."""

    rule: str
    value: str

    def describe(self) -> str:
        if self.rule == "price":
            return f"price {self.value}"
        if self.rule == "percent_off":
            return f"{self.value}% off"
        return f"{self.value} off"


def parse_percent(text: str, *, field: str = "percent_off") -> Pricing:
    """`20`, `12.5`, `12.50` → a percent-off rule; more than 0 and less than 100, ≤2 decimals.
    Nothing is stripped: ` 20` is refused like any other malformed number."""
    from wxshop_cli.money import check_option_type

    check_option_type(text, field, "a number above 0 and below 100, e.g. 20")  # `abc`: exit 2
    raw = text
    if not PERCENT.fullmatch(raw):
        reason = ("more than two decimals" if re.fullmatch(r"[0-9]+\.[0-9]{3,}", raw, re.ASCII)
                  else f"not a percentage: {text!r}")
        raise InvalidInput(f"{field}: {reason}", slug="invalid_percent",
                           hint="a number above 0 and below 100, e.g. 20 or 12.5")
    try:
        percent = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise InvalidInput(f"{field}: not a percentage: {text!r}", slug="invalid_percent",
                           hint="a number above 0 and below 100, e.g. 20 or 12.5") from None
    if not Decimal(0) < percent < Decimal(100):
        raise InvalidInput(f"{field}: {raw} is out of range", slug="invalid_percent",
                           hint="a number above 0 and below 100")
    return Pricing("percent_off", _decimal_text(percent))


def _decimal_text(value: Decimal) -> str:
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def pricing_for_amount(rule: str, fen: int) -> Pricing:
    """A fixed price or an amount off, from fen already checked by `money`."""
    assert rule in ("price", "amount_off")
    return Pricing(rule, money.yuan(fen))


def raw_price(list_price_fen: int, pricing: Pricing) -> int:
    """The promo price before the bounds are checked.

    Percent off: `list × (100 − P) / 100`, rounded half-up to the fen (the price is rounded,
    not the discount: at an exact half fen the buyer pays the higher fen)."""
    if pricing.rule == "price":
        return money.parse_yuan(pricing.value, allow_zero=True)
    if pricing.rule == "amount_off":
        return list_price_fen - money.parse_yuan(pricing.value, allow_zero=True)
    if pricing.rule == "percent_off":
        return money.percent_of(list_price_fen, Decimal(100) - Decimal(pricing.value))
    raise ValueError(f"unknown price rule {pricing.rule!r}")


def compute_price(list_price_fen: int, pricing: Pricing, *, field: str = "price") -> int:
    """The promo price in fen: never below ¥0.01 and never above the list price (exit 3)."""
    price = raw_price(list_price_fen, pricing)
    if price < 1:
        raise InvalidInput(f"{field}: {pricing.describe()} leaves a price below 0.01 "
                           f"(list price {money.yuan(list_price_fen)})", slug="invalid_price",
                           hint="take less off: the promo price must be at least 0.01")
    if price > list_price_fen:
        raise InvalidInput(f"{field}: {money.yuan(price)} is above the list price "
                           f"{money.yuan(list_price_fen)}", slug="invalid_price",
                           hint="a promo price is at most the list price; raise the list "
                                "price first if it is out of date")
    return price

