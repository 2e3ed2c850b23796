"""Money is integer fen (分) everywhere. This module is the only place that turns yuan text
into fen and fen into text; no float ever touches an amount."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from wxshop_cli.errors import InvalidInput, UsageError

#: Any single amount is at most ¥99,999,999.99 (SPEC section 2).
MAX_FEN = 9_999_999_999

# ASCII digits only: `str.isdigit` and `\d` accept full-width and other Unicode digits.
_YUAN = re.compile(r"(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]{1,2}))?", re.ASCII)
_TOO_PRECISE = re.compile(r"[0-9]+\.[0-9]{3,}", re.ASCII)


def check_option_type(text: str, field: str, what: str) -> None:
    """On a command-line option (`field` starts with `--`), a value that is not a number at
    all is a usage error (exit 2); a number that breaks a rule stays invalid input (exit 3).
    "A number" is whatever Decimal can read (so 1e3, NaN, １２ are numbers that break rules)."""
    if not field.startswith("--"):
        return
    try:
        Decimal(text.strip().rstrip("%"))
    except (ArithmeticError, ValueError):
        raise UsageError(f"{field}: not a number: {text!r}", slug="usage",
                         hint=what) from None


def parse_yuan(text: str, *, field: str = "amount", allow_zero: bool = False) -> int:
    """Parse `3999`, `3999.5` or `3999.50` into fen. Raises InvalidInput otherwise (and
    UsageError for a non-number given to an option, see `_check_type`)."""
    if not isinstance(text, str):
        raise InvalidInput(f"{field}: expected a yuan amount as text, got {type(text).__name__}",
                           slug="invalid_amount", hint="yuan as text, e.g. \"3999.00\"")
    check_option_type(text, field, "yuan with at most two decimals, e.g. 3999.00")
    raw = text
    match = _YUAN.fullmatch(raw)
    if match is None:
        if _TOO_PRECISE.fullmatch(raw):
            reason = "more than two decimals"
        elif raw.startswith("-"):
            reason = "must not be negative"
        else:
            reason = f"not an amount of yuan: {text!r}"
        raise InvalidInput(f"{field}: {reason}", slug="invalid_amount",
                           hint="yuan with at most two decimals, e.g. 3999.00")
    frac = (match["frac"] or "").ljust(2, "0")
    if len(match["int"]) > 40:  # length first: int() of thousands of digits is refused
        check_fen(MAX_FEN + 1, field=field)
    fen = int(match["int"]) * 100 + int(frac or "0")
    check_fen(fen, field=field, allow_zero=allow_zero)
    return fen


def check_fen(fen: int, *, field: str = "amount", allow_zero: bool = False) -> int:
    """Check an amount already in fen (JSON fields ending `_fen`)."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise InvalidInput(f"{field}: expected a whole number of fen", slug="invalid_amount",
                           hint="fields ending _fen hold integers: 399900 is 3999.00")
    if fen < 0:
        raise InvalidInput(f"{field}: must not be negative", slug="invalid_amount",
                           hint="amounts are 0.01 to 99999999.99")
    if fen == 0 and not allow_zero:
        raise InvalidInput(f"{field}: must be at least 0.01", slug="invalid_amount",
                           hint="amounts are 0.01 to 99999999.99")
    if fen > MAX_FEN:
        raise InvalidInput(f"{field}: more than 99,999,999.99", slug="invalid_amount",
                           hint="any single amount is at most 99999999.99")
    return fen


def yuan(fen: int) -> str:
    """Plain yuan text with two decimals, as in pipes and bills: `3999.00`, `-6.00`."""
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}{whole}.{part:02d}"


def display(fen: int) -> str:
    """Human display: `¥3,999.00`."""
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{part:02d}"


def percent_of(fen: int, percent: Decimal) -> int:
    """`fen × percent / 100`, rounded half-up to the fen (fees, percent-off prices)."""
    exact = Decimal(fen) * percent / Decimal(100)
    return int(exact.to_integral_value(rounding=ROUND_HALF_UP))


def fee_fen(amount_fen: int, rate_ppm: int) -> int:
    """Fee of one transaction at a rate in parts per million (0.60% = 6000 ppm), half-up.

    Refund fees are the negative of the fee of the refunded amount."""
    sign = -1 if amount_fen < 0 else 1
    q, r = divmod(abs(amount_fen) * rate_ppm, 1_000_000)
    return sign * (q + (1 if 2 * r >= 1_000_000 else 0))


_PERCENT = re.compile(r"(?P<num>[0-9]+(?:\.[0-9]{1,4})?)%?", re.ASCII)


def parse_rate_ppm(text: str, *, field: str = "fee rate") -> int:
    """`0.60%`, `0.6` or `0.38%` → parts per million (6000, 6000, 3800). 0–100%, ≤4 decimals."""
    check_option_type(text, field, "a percentage, e.g. 0.60%")
    match = _PERCENT.fullmatch(text.strip())
    if match is None:
        raise InvalidInput(f"{field}: not a percentage: {text!r}", slug="invalid_rate",
                           hint="e.g. 0.60 or 0.60%")
    ppm = int(Decimal(match["num"]) * 10_000)
    if ppm > 1_000_000:
        raise InvalidInput(f"{field}: more than 100%", slug="invalid_rate",
                           hint="a rate from 0 to 100%, e.g. 0.60%")
    return ppm


def format_rate(ppm: int) -> str:
    """6000 → `0.60%` (the bill's 费率 column)."""
    text = f"{Decimal(ppm) / Decimal(10_000):.4f}".rstrip("0")
    if "." in text:
        whole, frac = text.split(".")
        text = f"{whole}.{frac.ljust(2, '0')}"
    return f"{text}%"
