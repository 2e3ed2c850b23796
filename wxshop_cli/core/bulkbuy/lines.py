"""The lines of `buy --from`: one JSON object per line, parsed into a `BatchLine` (a purchase,
or the error the line itself carries), with the same checks as `wxshop buy`'s options."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from wxshop_cli.core import checkout
from wxshop_cli.errors import InvalidInput, UsageError, WxError

#: The fields a line may have.
FIELDS = {"buyer", "item", "qty", "region", "address", "card", "mobile", "idempotency_key",
          "pay_password"}
MAX_LINE_CHARS = 4096


@dataclass
class BatchLine:
    """One input line: a purchase, or the error that the line itself carries."""

    line_no: int
    buyer: str = ""
    request: checkout.BuyRequest | None = None
    key: str | None = None
    password: str | None = None
    error: WxError | None = None


def parse_line(raw: bytes | str, line_no: int, *, default_buyer: str,
               default_password: str | None) -> BatchLine:
    """A JSON object per line (UTF-8; a byte-order mark on line 1 is dropped). A mistyped
    value is a usage error (2) of that line, a value that breaks a rule invalid input (3), as
    on the command line. The line's buyer and key are kept for its result even when it is
    refused."""
    line = BatchLine(line_no=line_no, buyer=default_buyer)
    try:
        data = _decode(raw, line_no)
        buyer, key = data.get("buyer"), data.get("idempotency_key")
        if isinstance(buyer, str) and buyer:
            line.buyer = buyer
        if isinstance(key, str):
            line.key = key
        repeated = getattr(data, "repeated", None)
        if repeated is not None:
            raise InvalidInput(f"field {repeated!r} given twice",
                               slug="invalid_batch_line", hint="each field once per line")
        line.buyer, line.request, line.key, line.password = _parse(
            data, default_buyer, default_password)
    except WxError as exc:
        line.error = exc
    return line


class _Fields(dict):
    """A JSON object that remembers a field given twice (refused: which one was meant?)."""

    repeated: str | None = None


def _fields(pairs: list[tuple[str, Any]]) -> _Fields:
    fields = _Fields()
    for name, value in pairs:
        if name in fields and fields.repeated is None:
            fields.repeated = name
        fields.setdefault(name, value)
    return fields


def _decode(raw: bytes | str, line_no: int) -> dict[str, Any]:
    if len(raw) > MAX_LINE_CHARS * 4:
        raise InvalidInput(f"line longer than {MAX_LINE_CHARS} characters",
                           slug="invalid_batch_line", hint="one purchase per line")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("not UTF-8 text", slug="invalid_batch_line",
                               hint="JSON lines in UTF-8") from None
    text = raw.strip()
    if len(text) > MAX_LINE_CHARS:
        raise InvalidInput(f"line longer than {MAX_LINE_CHARS} characters",
                           slug="invalid_batch_line", hint="one purchase per line")
    try:
        data = json.loads(text, object_pairs_hook=_fields)
    except ValueError as exc:
        msg = getattr(exc, "msg", "malformed")
        raise InvalidInput(f"not JSON: {msg}" + (f" at column {exc.colno}"
                                                 if hasattr(exc, "colno") else ""),
                           slug="invalid_batch_line",
                           hint='one object per line, e.g. {"item": "YX-1001"}') from None
    if not isinstance(data, dict):
        raise InvalidInput("a line must be a JSON object", slug="invalid_batch_line",
                           hint='e.g. {"buyer": "b1", "item": "YX-1001", "qty": 1}')
    return data


def _parse(data: dict[str, Any], default_buyer: str, default_password: str | None) -> tuple:
    from wxshop_cli.config import check_buyer_name

    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}", slug="invalid_batch_line",
                           hint=f"fields: {', '.join(sorted(FIELDS))}")
    strings = {name: data.get(name) for name in FIELDS - {"qty"}}
    for name, value in strings.items():
        if value is not None and not isinstance(value, str):
            raise UsageError(f"{name} must be a string", slug="invalid_batch_line",
                             hint=f'e.g. "{name}": "…"')
    qty = data.get("qty", 1)
    if isinstance(qty, bool) or not isinstance(qty, int):
        raise UsageError("qty must be an integer", slug="invalid_batch_line",
                         hint='e.g. "qty": 2')
    if strings["item"] is None:
        raise UsageError("item is missing", slug="invalid_batch_line",
                         hint='every line names an item: "item": "item_…" or a SKU')
    buyer = strings["buyer"] or default_buyer
    check_buyer_name(buyer)
    mobile = strings["mobile"]
    if mobile is not None:  # a top-up's number: its errors never quote it
        from wxshop_cli.core.identity import check_mobile

        mobile = check_mobile(mobile)
    request = checkout.BuyRequest(item=strings["item"], qty=qty, region=strings["region"],
                                  address=strings["address"], card=strings["card"],
                                  mobile=mobile)
    checkout.check_request(request, strings["idempotency_key"])
    password = strings["pay_password"] or default_password
    if password is None:
        raise UsageError("no payment password", slug="missing_value",
                         hint="set WXSHOP_PAY_PASSWORD or give pay_password on the line")
    return buyer, request, strings["idempotency_key"], password
