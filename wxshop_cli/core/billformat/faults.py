"""What is wrong with a bill, said exactly: the InvalidInput of each kind of refused bill,
and the slow path that names the bad column of a detail line already known to be bad."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from wxshop_cli.core.billformat.fields import (
    BadField,
    check_currency,
    check_out_trade_no,
    check_text,
    check_trade_state,
    check_transaction_id,
    parse_fee,
    parse_rate,
    parse_time,
    parse_yuan,
)
from wxshop_cli.core.text import describe, invisible_char
from wxshop_cli.errors import InvalidInput

#: What to do about each kind of refused bill (SPEC: every error carries a hint).
HINTS = {
    "invalid_bill": "reconcile takes a WeChat Pay trade bill as downloaded (see "
                    "docs/bills-wechat.md)",
    "invalid_bill_row": "the bill is damaged at that line; download it again",
    "bill_does_not_add_up": "the summary must equal the detail lines; download the bill again",
    "bill_missing_columns": "a trade bill of type ALL, SUCCESS or REFUND has these columns",
}


def invalid(message: str, *, slug: str = "invalid_bill", line: int | None = None,
            hint: str | None = None, details: list[str] | None = None) -> InvalidInput:
    hint = hint or HINTS.get(slug)
    if line is None:
        return InvalidInput(message, slug=slug, hint=hint, details=details)
    return InvalidInput(f"line {line}: {message}", slug=slug, hint=hint, details=details,
                        location=f"line {line}")


def shown(text: str | None) -> str:
    if text is None:
        return "(missing)"
    return repr(text if len(text) <= 40 else text[:37] + "...")


# Columns in the order they are judged; the first bad one is reported.
_CHECKS: tuple[tuple[str, Callable[[str], object]], ...] = (
    ("trade_time", parse_time), ("transaction_id", check_transaction_id),
    ("out_trade_no", check_out_trade_no), ("trade_state", check_trade_state),
    ("currency", check_currency), ("trade_type", check_text), ("product", check_text),
    ("attach", check_text), ("openid", check_text), ("settlement", parse_yuan),
    ("coupon", parse_yuan), ("refund", parse_yuan), ("coupon_refund", parse_yuan),
    ("fee", parse_fee), ("rate", parse_rate), ("order", parse_yuan),
    ("requested_refund", parse_yuan), ("refund_requested_at", parse_time),
    ("refund_succeeded_at", parse_time))
_MAY_BE_EMPTY = frozenset({"rate", "refund_succeeded_at"})


def invisible_fault(columns: Sequence[str], line: str, line_no: int) -> InvalidInput | None:
    """The error for a detail line with a control or invisible character (core.text's
    one check: such a value would reach a terminal or the book), naming the line and the
    column; None when the line only has spaces such as U+3000 (printable text)."""
    for number, field in enumerate(line.split(","), start=1):
        bad = invisible_char(field)
        if bad is not None:
            column = columns[number - 1] if number <= len(columns) else "?"
            return invalid(f"column {number}: bad {column} {shown(field[1:])}: "
                           f"contains {describe(bad)}",
                           slug="invalid_bill_row", line=line_no,
                           hint="a bill field never holds control or invisible "
                                "characters; download the bill again")
    return None


def row_fault(columns: Sequence[str], positions: Mapping[str, int], line: str, line_no: int,
              field: str | None = None, reason: str = "") -> InvalidInput:
    """The InvalidInput naming what is wrong with a bad detail line: ``field`` and
    ``reason`` when the caller knows them, else the first column that fails its check."""
    ncols = len(columns)
    if line.count(",") != ncols - 1:
        return invalid(f"{line.count(',') + 1} fields, the header has {ncols}",
                       slug="invalid_bill_row", line=line_no)
    fields: list[str | None] = list(line[1:].split(",`"))
    if len(fields) != ncols:
        bad = next(n for n, f in enumerate(line.split(",")) if f[:1] != "`")
        return invalid(f"field {bad + 1} ({columns[bad]}) does not start with a "
                       "backtick", slug="invalid_bill_row", line=line_no)
    fields += [None, "0.00"]  # the padding absent columns point at
    if field is None:
        for name, check in _CHECKS:
            text = fields[positions[name]]
            if text is None or (text == "" and name in _MAY_BE_EMPTY):
                continue
            try:
                check(text)
            except BadField as exc:
                field, reason = name, exc.reason
                break
        else:
            return invalid("malformed detail line", slug="invalid_bill_row", line=line_no)
    position = positions[field]
    return invalid(f"bad {columns[position]} {shown(fields[position])}: {reason}",
                   slug="invalid_bill_row", line=line_no)
