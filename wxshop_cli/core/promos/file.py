"""Checking a promotion file (SPEC section 4): the document read by `core.promofile` (TOML or
the same keys in JSON) becomes a `PromoSpec`, before the database is opened.

Every mistake is collected with its key path (`items[2].price: more than two decimals`; items
are counted from 0) and reported together: one `InvalidInput` (exit 3, slug
`invalid_promo_file`) whose `details` lists each mistake on its own line. Amounts are strings of
yuan, or whole numbers in fields ending `_fen`; floats are refused in both formats (they cannot
say 0.10 exactly), as are booleans where a number is expected.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from wxshop_cli import clock, money
from wxshop_cli.core import catalog
from wxshop_cli.core.promos.report import mistakes_error
from wxshop_cli.core.promos.rules import (
    PRICE_KEYS,
    Pricing,
    check_code,
    check_limit,
    compute_price,
    parse_percent,
)
from wxshop_cli.core.regions import check_region
from wxshop_cli.errors import InvalidInput

TOP_KEYS = ("code", "title", "starts_at", "ends_at", "regions", "notify", "items")
ITEM_KEYS = ("sku", "title", "list_price", "list_price_fen", "image_url", "description",
             "product_stock", "price", "price_fen", "percent_off", "amount_off",
             "amount_off_fen", "stock", "per_buyer_limit")


class FloatText(str):
    """A float as written in the file: kept as text so it can be refused with its path."""


@dataclass
class ItemSpec:
    path: str  # "items[2]"
    sku: str
    pricing: Pricing
    price_key: str  # the key the price came from, for messages: "price", "percent_off", ...
    stock: int
    per_buyer_limit: int | None = None
    title: str | None = None  # product fields: None leaves an existing product's value
    list_price_fen: int | None = None
    image_url: str | None = None
    description: str | None = None
    product_stock: int | None = None


@dataclass
class PromoSpec:
    code: str
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    regions: list[str] = field(default_factory=list)
    notify: bool = True
    items: list[ItemSpec] = field(default_factory=list)
    source: str = ""


# ------------------------------------------------------------------ checking


class _Collector:
    def __init__(self) -> None:
        self.mistakes: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.mistakes.append(f"{path}: {message}")

    def check(self, func, *args: Any, **kwargs: Any) -> Any:
        """Run a check that raises InvalidInput whose message starts with the key path."""
        try:
            return func(*args, **kwargs)
        except InvalidInput as exc:
            self.mistakes.append(exc.message)
            return None


def _is_float(value: Any) -> bool:
    return isinstance(value, float | FloatText)


def _whole(c: _Collector, value: Any, path: str, *, minimum: int) -> int | None:
    if _is_float(value):
        c.add(path, f"expected a whole number, got the float {value}")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        c.add(path, f"expected a whole number, got {_kind(value)}")
        return None
    if value < minimum:
        c.add(path, "must not be negative" if minimum == 0 else f"must be at least {minimum}")
        return None
    return c.check(catalog.check_stock, value, field=path)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _yuan(c: _Collector, value: Any, path: str) -> int | None:
    """A yuan amount: a string with at most two decimals."""
    if _is_float(value):
        c.add(path, f"floats are refused; write the amount as a string such as \"{value}\"")
        return None
    if not isinstance(value, str):
        c.add(path, f"expected a string of yuan such as \"3999.00\" (or {path.rsplit('.', 1)[-1]}"
                    f"_fen as a whole number of fen), got {_kind(value)}")
        return None
    return c.check(money.parse_yuan, value, field=path)


def _fen(c: _Collector, value: Any, path: str) -> int | None:
    if _is_float(value) or isinstance(value, bool) or not isinstance(value, int):
        got = f"the float {value}" if _is_float(value) else _kind(value)
        c.add(path, f"expected a whole number of fen, got {got}")
        return None
    return c.check(money.check_fen, value, field=path)


def _amount(c: _Collector, raw: dict[str, Any], key: str, path: str) -> tuple[bool, int | None]:
    """(given, fen) for a yuan key that may also be given as `key_fen`."""
    has_yuan, has_fen = key in raw, f"{key}_fen" in raw
    if has_yuan and has_fen:
        c.add(f"{path}.{key}", f"give {key} or {key}_fen, not both")
        return True, None
    if has_yuan:
        return True, _yuan(c, raw[key], f"{path}.{key}")
    if has_fen:
        return True, _fen(c, raw[f"{key}_fen"], f"{path}.{key}_fen")
    return False, None


def _time(c: _Collector, value: Any, path: str, tz: ZoneInfo) -> dt.datetime | None:
    if isinstance(value, dt.datetime):  # a TOML date-time written without quotes
        return clock.as_utc(value) if value.tzinfo else value.replace(tzinfo=tz).astimezone(
            dt.UTC)
    if not isinstance(value, str):
        c.add(path, f"expected an ISO 8601 time such as \"2013-11-11T00:00:00+08:00\", "
                    f"got {_kind(value)}")
        return None
    try:
        return clock.parse_instant(value, tz)
    except ValueError:
        c.add(path, f"not an ISO 8601 time: {value!r}")
        return None


def _text(c: _Collector, raw: dict[str, Any], key: str, path: str, check) -> str | None:
    if key not in raw:
        return None
    return c.check(check, raw[key], field=f"{path}{key}")



def parse_spec(document: dict[str, Any], tz: ZoneInfo, *, source: str = "promotion") -> PromoSpec:
    """Check every key of a promotion document; raise one InvalidInput listing each mistake."""
    c = _Collector()
    for key in document:
        if key not in TOP_KEYS:
            c.add(str(key), "unknown key")
    code = _required(c, document, "code", check_code)
    title = _required(c, document, "title", catalog.check_title)
    starts, ends = _window(c, document, tz)
    regions = _regions(c, document)
    notify = document.get("notify", True)
    if not isinstance(notify, bool):
        c.add("notify", f"expected true or false, got {_kind(notify)}")
        notify = True
    items = _items(c, document)
    if c.mistakes:
        raise mistakes_error(source, c.mistakes)
    assert code is not None and title is not None and starts is not None and ends is not None
    return PromoSpec(code=code, title=title, starts_at=starts, ends_at=ends, regions=regions,
                     notify=notify, items=items, source=source)


def _required(c: _Collector, document: dict[str, Any], key: str, check) -> Any:
    if key not in document:
        c.add(key, "required")
        return None
    return c.check(check, document[key], field=key)


def _window(c: _Collector, document: dict[str, Any],
            tz: ZoneInfo) -> tuple[dt.datetime | None, dt.datetime | None]:
    times: dict[str, dt.datetime | None] = {}
    for key in ("starts_at", "ends_at"):
        if key not in document:
            c.add(key, "required")
            times[key] = None
        else:
            times[key] = _time(c, document[key], key, tz)
    starts, ends = times["starts_at"], times["ends_at"]
    if starts is not None and ends is not None and ends <= starts:
        c.add("ends_at", f"not after starts_at ({clock.iso(ends, tz)} <= {clock.iso(starts, tz)})")
    return starts, ends


def _regions(c: _Collector, document: dict[str, Any]) -> list[str]:
    regions: list[str] = []
    raw_regions = document.get("regions", [])
    if not isinstance(raw_regions, list):
        c.add("regions", f"expected a list of region codes, got {_kind(raw_regions)}")
        return regions
    for index, region in enumerate(raw_regions):
        path = f"regions[{index}]"
        if not isinstance(region, str):
            c.add(path, f"expected a region code as a string such as \"310000\", "
                        f"got {_kind(region)}")
            continue
        row = c.check(check_region, region, field=path)
        if row is None:
            continue
        if row["code"] in regions:
            c.add(path, f"{row['code']!r} is listed twice")
        else:
            regions.append(row["code"])
    return regions


def _items(c: _Collector, document: dict[str, Any]) -> list[ItemSpec]:
    items: list[ItemSpec] = []
    raw_items = document.get("items")
    if raw_items is None:
        c.add("items", "required: at least one [[items]] entry")
    elif not isinstance(raw_items, list):
        c.add("items", f"expected a list of items, got {_kind(raw_items)}")
    elif not raw_items:
        c.add("items", "at least one item is required")
    else:
        first_seen: dict[str, str] = {}
        for index, raw in enumerate(raw_items):
            path = f"items[{index}]"
            sku = raw.get("sku") if isinstance(raw, dict) else None
            if isinstance(sku, str) and sku in first_seen:
                c.add(f"{path}.sku", f"{sku!r} is listed twice (also {first_seen[sku]})")
            elif isinstance(sku, str):
                first_seen[sku] = path
            item = _parse_item(c, raw, path)
            if item is not None:
                items.append(item)
    return items


def _parse_item(c: _Collector, raw: Any, path: str) -> ItemSpec | None:
    if not isinstance(raw, dict):
        c.add(path, f"expected a table of item keys, got {_kind(raw)}")
        return None
    before = len(c.mistakes)
    for key in raw:
        if key not in ITEM_KEYS:
            c.add(f"{path}.{key}", "unknown key")
    sku = None
    if "sku" not in raw:
        c.add(f"{path}.sku", "required")
    else:
        sku = c.check(catalog.check_sku, raw["sku"], field=f"{path}.sku")
    title = _text(c, raw, "title", f"{path}.", catalog.check_title)
    image_url = _text(c, raw, "image_url", f"{path}.", catalog.check_image_url)
    description = _text(c, raw, "description", f"{path}.", catalog.check_description)
    _, list_price = _amount(c, raw, "list_price", path)
    product_stock = None
    if "product_stock" in raw:
        product_stock = _whole(c, raw["product_stock"], f"{path}.product_stock", minimum=0)
    pricing, price_key = _pricing(c, raw, path)
    stock = None
    if "stock" not in raw:
        c.add(f"{path}.stock", "required: the units allocated to this promotion")
    else:
        stock = _whole(c, raw["stock"], f"{path}.stock", minimum=0)
    limit = _limit(c, raw, path)
    # With the list price in the file, the price rule is checked here (else against the
    # catalog when the file is applied).
    if pricing is not None and list_price is not None:
        c.check(compute_price, list_price, pricing, field=f"{path}.{price_key}")
    if len(c.mistakes) > before or sku is None or pricing is None or stock is None:
        return None
    return ItemSpec(path=path, sku=sku, pricing=pricing, price_key=price_key, stock=stock,
                    per_buyer_limit=limit, title=title, list_price_fen=list_price,
                    image_url=image_url, description=description, product_stock=product_stock)


def _pricing(c: _Collector, raw: dict[str, Any], path: str) -> tuple[Pricing | None, str]:
    """The item's price rule from its one price key, and that key (for messages)."""
    given = [key for key in PRICE_KEYS if key in raw]
    price_key = given[0] if given else "price"
    if not given:
        c.add(path, "no price: give one of price, percent_off, amount_off")
        return None, price_key
    if len(given) > 1:
        c.add(f"{path}.{given[1]}", f"two price fields ({', '.join(given)}): give one of "
                                    "price, percent_off, amount_off")
        return None, price_key
    value = raw[price_key]
    where = f"{path}.{price_key}"
    if price_key == "percent_off":
        if _is_float(value):
            c.add(where, f"floats are refused; write the percentage as a string such as "
                         f"\"{value}\" or a whole number")
        elif isinstance(value, bool) or not isinstance(value, int | str):
            c.add(where, f"expected a percentage such as 20 or \"12.5\", got {_kind(value)}")
        else:
            return c.check(parse_percent, str(value), field=where), price_key
        return None, price_key
    fen = _fen(c, value, where) if price_key.endswith("_fen") else _yuan(c, value, where)
    if fen is None:
        return None, price_key
    return Pricing(price_key.removesuffix("_fen"), money.yuan(fen)), price_key


def _limit(c: _Collector, raw: dict[str, Any], path: str) -> int | None:
    if "per_buyer_limit" not in raw:
        return None
    value = raw["per_buyer_limit"]
    if _is_float(value) or isinstance(value, bool) or not isinstance(value, int):
        c.add(f"{path}.per_buyer_limit", f"expected a whole number, got {_kind(value)}")
        return None
    return c.check(check_limit, value, field=f"{path}.per_buyer_limit")
