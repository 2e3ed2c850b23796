"""The promotion file of `wxshop promo publish FILE` (SPEC section 4): TOML or the same keys in
JSON, read and checked completely before the database is opened.

Every mistake is collected with its key path (`items[2].price: more than two decimals`; items
are counted from 0) and reported together: one `InvalidInput` (exit 3, slug
`invalid_promo_file`) whose `details` lists each mistake on its own line. Amounts are strings of
yuan, or whole numbers in fields ending `_fen`; floats are refused in both formats (they cannot
say 0.10 exactly), as are booleans where a number is expected.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from wxshop_cli import clock, money
from wxshop_cli.core import catalog
from wxshop_cli.core.promos import (
    PRICE_KEYS,
    Pricing,
    check_code,
    check_limit,
    compute_price,
    parse_percent,
)
from wxshop_cli.core.regions import check_region
from wxshop_cli.errors import InvalidInput, UsageError

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


def mistakes_error(source: str, mistakes: list[str]) -> InvalidInput:
    count = len(mistakes)
    first = mistakes[0].split(":", 1)[0] if mistakes else None
    return InvalidInput(
        f"{source}: {count} mistake{'s' if count != 1 else ''} in the promotion file; "
        "nothing was written",
        slug="invalid_promo_file", details=mistakes, location=first,
        mistakes=[_split(m) for m in mistakes],
        hint="correct each key path listed, then publish the file again")


def _split(mistake: str) -> dict[str, str]:
    where, _, what = mistake.partition(": ")
    return {"location": where, "message": what}


# ------------------------------------------------------------------ reading

#: `promo publish -`: the file comes on stdin (TOML, or JSON when it starts with `{`).
STDIN = "-"


def _unreadable(source: str, reason: str) -> UsageError:
    return UsageError(f"{source}: {reason}", slug="invalid_file",
                      hint="give a readable TOML or JSON promotion file, or - to read it "
                           "from stdin")


def read_bytes(path: Path) -> bytes:
    """The file's bytes; a directory or a file that cannot be read is a usage error (2,
    `invalid_file`)."""
    from wxshop_cli.core.inputlimits import read_bounded

    source = str(path)
    try:
        if path.is_dir():
            raise _unreadable(source, "is a directory, not a promotion file")
        return read_bounded(path, lambda reason: _unreadable(source, reason))
    except IsADirectoryError:
        raise _unreadable(source, "is a directory, not a promotion file") from None
    except OSError as exc:
        raise _unreadable(source, f"cannot read the file: {exc.strerror or exc}") from None


def read_stdin() -> bytes:
    """The promotion file from stdin, which must not be a terminal (nothing prompts for a
    file: pipe it in)."""
    import sys

    if sys.stdin.isatty():
        raise UsageError("`promo publish -` reads the promotion file from stdin, which is a "
                         "terminal", slug="missing_value",
                         hint="pipe the file in: wxshop promo publish - < double11.toml")
    from wxshop_cli.core.inputlimits import MAX_FILE_BYTES, read_stream_bounded

    stream = getattr(sys.stdin, "buffer", None)
    if stream is not None:
        data = read_stream_bounded(stream, lambda reason: _unreadable("<stdin>", reason))
    else:
        data = sys.stdin.read(MAX_FILE_BYTES + 1).encode("utf-8")
        if len(data) > MAX_FILE_BYTES:
            raise _unreadable("<stdin>", "larger than the limit")
    if not data.strip():
        raise UsageError("`promo publish -` got nothing on stdin", slug="missing_value",
                         hint="pipe the file in: wxshop promo publish - < double11.toml")
    return data


def read_document(path: Path) -> dict[str, Any]:
    """Parse a TOML or JSON file (by suffix, else by its first character) into a mapping."""
    return parse_document(read_bytes(path), source=str(path), suffix=path.suffix.lower())


def parse_document(data: bytes, *, source: str, suffix: str = "") -> dict[str, Any]:
    """Parse TOML or JSON text: JSON for a `.json` suffix, TOML for `.toml`, else JSON when
    the text starts with `{` and TOML otherwise (how stdin is read)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise mistakes_error(source, ["file: not UTF-8 text"]) from None
    is_json = suffix == ".json" or (suffix != ".toml" and text.lstrip().startswith("{"))
    from wxshop_cli.core.inputlimits import MAX_DEPTH, too_deep

    where = too_deep(text, toml=not is_json)
    if where is not None:
        raise mistakes_error(source, [f"{where}: nested more than {MAX_DEPTH} levels deep"])
    duplicates: list[str] = []
    if is_json:
        def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
            seen: dict[str, Any] = {}
            for key, value in items:
                if key in seen:
                    duplicates.append(f"{key}: the key appears twice in one object")
                seen[key] = value
            return seen

        def constant(name: str) -> Any:
            return FloatText(name)

        try:
            document = json.loads(text, parse_float=FloatText, parse_constant=constant,
                                  object_pairs_hook=pairs)
        except json.JSONDecodeError as exc:
            raise mistakes_error(source, [f"line {exc.lineno}, column {exc.colno}: "
                                          f"not JSON: {exc.msg}"]) from None
        except (ValueError, RecursionError):  # an integer of thousands of digits
            raise mistakes_error(source, ["file: a number too long to be one"]) from None
    else:
        import tomllib

        try:
            document = tomllib.loads(text, parse_float=FloatText)
        except (ValueError, RecursionError) as exc:
            if not isinstance(exc, tomllib.TOMLDecodeError):
                raise mistakes_error(source, ["file: a number too long to be one"]) from None
            message = str(exc)
            where = re.search(r"\(at line (\d+), column (\d+)\)", message)
            reason = re.sub(r"\s*\(at .*\)$", "", message)
            location = f"line {where[1]}, column {where[2]}" if where else "file"
            raise mistakes_error(source, [f"{location}: not TOML: {reason}"]) from None
    if duplicates:
        raise mistakes_error(source, duplicates)
    if not isinstance(document, dict):
        raise mistakes_error(source, ["file: expected an object of promotion keys"])
    return document


def load(path: Path, tz: ZoneInfo) -> PromoSpec:
    return parse_spec(read_document(path), tz, source=str(path))


def load_stdin(tz: ZoneInfo) -> PromoSpec:
    """`promo publish -`: the same checks, the file read from stdin (named `<stdin>`)."""
    return parse_spec(parse_document(read_stdin(), source="<stdin>"), tz, source="<stdin>")


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

    code = None
    if "code" not in document:
        c.add("code", "required")
    else:
        code = c.check(check_code, document["code"], field="code")
    title = None
    if "title" not in document:
        c.add("title", "required")
    else:
        title = c.check(catalog.check_title, document["title"], field="title")
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

    regions: list[str] = []
    raw_regions = document.get("regions", [])
    if not isinstance(raw_regions, list):
        c.add("regions", f"expected a list of region codes, got {_kind(raw_regions)}")
    else:
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

    notify = document.get("notify", True)
    if not isinstance(notify, bool):
        c.add("notify", f"expected true or false, got {_kind(notify)}")
        notify = True

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

    if c.mistakes:
        raise mistakes_error(source, c.mistakes)
    assert code is not None and title is not None and starts is not None and ends is not None
    return PromoSpec(code=code, title=title, starts_at=starts, ends_at=ends, regions=regions,
                     notify=notify, items=items, source=source)


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

    given = [key for key in PRICE_KEYS if key in raw]
    pricing: Pricing | None = None
    price_key = given[0] if given else "price"
    if not given:
        c.add(path, "no price: give one of price, percent_off, amount_off")
    elif len(given) > 1:
        c.add(f"{path}.{given[1]}", f"two price fields ({', '.join(given)}): give one of "
                                    "price, percent_off, amount_off")
    else:
        key = given[0]
        value = raw[key]
        where = f"{path}.{key}"
        if key == "percent_off":
            if _is_float(value):
                c.add(where, f"floats are refused; write the percentage as a string such as "
                             f"\"{value}\" or a whole number")
            elif isinstance(value, bool) or not isinstance(value, int | str):
                c.add(where, f"expected a percentage such as 20 or \"12.5\", got {_kind(value)}")
            else:
                pricing = c.check(parse_percent, str(value), field=where)
        else:
            rule = key.removesuffix("_fen")
            fen = _fen(c, value, where) if key.endswith("_fen") else _yuan(c, value, where)
            if fen is not None:
                pricing = Pricing(rule, money.yuan(fen))

    stock = None
    if "stock" not in raw:
        c.add(f"{path}.stock", "required: the units allocated to this promotion")
    else:
        stock = _whole(c, raw["stock"], f"{path}.stock", minimum=0)
    limit = None
    if "per_buyer_limit" in raw:
        value = raw["per_buyer_limit"]
        if _is_float(value) or isinstance(value, bool) or not isinstance(value, int):
            c.add(f"{path}.per_buyer_limit", f"expected a whole number, got {_kind(value)}")
        else:
            limit = c.check(check_limit, value, field=f"{path}.per_buyer_limit")

    # With the list price in the file, the price rule is checked here (else against the
    # catalog when the file is applied).
    if pricing is not None and list_price is not None:
        c.check(compute_price, list_price, pricing, field=f"{path}.{price_key}")
    if len(c.mistakes) > before or sku is None or pricing is None or stock is None:
        return None
    return ItemSpec(path=path, sku=sku, pricing=pricing, price_key=price_key, stock=stock,
                    per_buyer_limit=limit, title=title, list_price_fen=list_price,
                    image_url=image_url, description=description, product_stock=product_stock)
