"""The field grammar of a WeChat Pay trade bill (docs/bills-wechat.md): columns, the row and summary
records, and every field's text both ways (parse and print). Pure: no I/O.

Money is integer fen; no float or Decimal on the per-row path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from wxshop_cli.errors import InvalidInput
from wxshop_cli.money import parse_rate_ppm, yuan

BILL_TYPES = ("ALL", "SUCCESS", "REFUND")

ALL_COLUMNS: tuple[str, ...] = (
    "交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号",
    "用户标识", "交易类型", "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额",
    "微信退款单号", "商户退款单号", "退款金额", "充值券退款金额", "退款类型", "退款状态",
    "商品名称", "商户数据包", "手续费", "费率", "订单金额", "申请退款金额", "费率备注",
)
REFUND_ONLY = ("微信退款单号", "商户退款单号", "退款金额", "充值券退款金额", "退款类型",
               "退款状态", "申请退款金额")
SUCCESS_COLUMNS: tuple[str, ...] = tuple(c for c in ALL_COLUMNS if c not in REFUND_ONLY)
_AFTER_COUPON = ALL_COLUMNS.index("代金券金额") + 1
REFUND_COLUMNS: tuple[str, ...] = (
    ALL_COLUMNS[:_AFTER_COUPON] + ("退款申请时间", "退款成功时间") + ALL_COLUMNS[_AFTER_COUPON:]
)
SUMMARY_COLUMNS: tuple[str, ...] = (
    "总交易单数", "应结订单总金额", "退款总金额", "充值券退款总金额", "手续费总金额",
    "订单总金额", "申请退款总金额",
)
COLUMNS_BY_TYPE = {"ALL": ALL_COLUMNS, "SUCCESS": SUCCESS_COLUMNS, "REFUND": REFUND_COLUMNS}

#: One row's amount is at most ¥99,999,999.99 (money.MAX_FEN): 8 digits, a dot, 2 decimals.
MAX_YUAN_CHARS = 11
MAX_FEE_CHARS = 14  # 8 digits, a dot, 5 decimals
MAX_TOTAL_CHARS = 20
TRADE_STATES = frozenset({"SUCCESS", "REFUND", "REVOKED"})
NO_REFUND_ID = frozenset({"", "0"})


@dataclass(slots=True, kw_only=True)
class BillRow:
    """One detail line of a bill, built by name. Times are naive Beijing time, as printed.

    ``kind`` is ``payment`` or ``refund``. Columns the bill type lacks are None (text, times,
    rate) or 0 (amounts); on payment rows the refund columns (``0`` / empty in the file) are
    None. ``fee_fen`` is negative on refund rows (the fee returned).
    """

    line_no: int
    kind: str
    trade_time: datetime
    app_id: str | None
    mch_id: str
    sub_mch_id: str | None
    transaction_id: str
    out_trade_no: str
    openid: str | None = None
    trade_type: str | None = None
    trade_state: str = "SUCCESS"
    bank_code: str | None = None
    currency: str | None = None
    settlement_fen: int = 0
    coupon_fen: int = 0
    refund_id: str | None = None
    refund_no: str | None = None
    refund_fen: int = 0
    refund_type: str | None = None
    refund_status: str | None = None
    product: str | None = None
    attach: str | None = None
    fee_fen: int = 0
    rate_ppm: int | None = None
    order_fen: int = 0
    requested_refund_fen: int = 0
    refund_requested_at: datetime | None = None
    refund_succeeded_at: datetime | None = None
    coupon_refund_fen: int = 0
    device_info: str | None = None
    rate_note: str | None = None


@dataclass(slots=True)
class BillSummary:
    """The summary line of a bill (or running sums of its rows). Totals the layout lacks are
    None (the older layout has no 订单总金额 / 申请退款总金额)."""

    count: int
    settlement_total_fen: int
    refund_total_fen: int
    coupon_refund_total_fen: int
    fee_total_fen: int
    order_total_fen: int | None
    requested_refund_total_fen: int | None


# --------------------------------------------------------------------------- parsing


class BadField(Exception):
    """Raised by the per-field parsers; the reader turns it into InvalidInput with the line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_TIME_SHAPE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}", re.ASCII).fullmatch
fromisoformat = datetime.fromisoformat


def parse_time(text: str) -> datetime:
    if _TIME_SHAPE(text) is None:
        raise BadField("expected a time YYYY-MM-DD HH:MM:SS")
    try:
        return fromisoformat(text)
    except ValueError:
        raise BadField("not a real date and time") from None


def _amount_reason(text: str, decimals: int, negative_ok: bool) -> str:
    example = "23.99000" if decimals == 5 else "3999.00"
    if text.startswith("-") and not negative_ok:
        return "must not be negative"
    if not text:
        return "empty amount"
    count = "five" if decimals == 5 else "two"
    return f"expected yuan with exactly {count} decimals, e.g. {example}"


def parse_yuan(text: str, max_chars: int = MAX_YUAN_CHARS) -> int:
    """`3999.00` → 399900: ASCII digits, no sign, no leading zeros, exactly two decimals."""
    if 3 < len(text) <= max_chars and text[-3] == "." and text.isascii():
        digits = text[:-3] + text[-2:]
        if digits.isdigit() and (text[0] != "0" or len(text) == 4):
            return int(digits)
    if len(text) > max_chars and text[-3:-2] == "." and text[:-3].isdigit():
        raise BadField("more than 99999999.99" if max_chars == MAX_YUAN_CHARS
                       else "implausibly large")
    raise BadField(_amount_reason(text, 2, False))


def parse_fee(text: str, max_chars: int = MAX_FEE_CHARS) -> int:
    """`23.99000` → 2399, `-6.00000` → -600; five decimals that must be whole fen."""
    body = text[1:] if text[:1] == "-" else text
    if 6 < len(body) <= max_chars and body[-6] == "." and body.isascii():
        digits = body[:-6] + body[-5:]
        if digits.isdigit() and (body[0] != "0" or len(body) == 7):
            if not digits.endswith("000"):
                raise BadField("a fee must be whole fen (the last three decimals 000)")
            fen = int(digits[:-3])
            return -fen if body is not text else fen
    raise BadField(_amount_reason(text, 5, True))


def parse_total_yuan(text: str) -> int:
    """A summary total: like an amount, but may exceed one transaction's maximum."""
    return parse_yuan(text, MAX_TOTAL_CHARS)


def parse_total_fee(text: str) -> int:
    return parse_fee(text, MAX_TOTAL_CHARS)


def parse_count(text: str) -> int:
    if 0 < len(text) <= MAX_TOTAL_CHARS and text.isascii() and text.isdigit():
        return int(text)
    raise BadField("expected a whole number of lines")


def parse_rate(text: str) -> int:
    if not text.endswith("%"):
        raise BadField("expected a percentage such as 0.60%")
    try:
        return parse_rate_ppm(text)
    except InvalidInput as exc:
        raise BadField(exc.message) from None


def check_transaction_id(text: str) -> None:
    if not (len(text) == 28 and text.startswith("42") and text.isascii() and text.isdigit()):
        raise BadField("expected 28 digits starting 42")


def check_out_trade_no(text: str) -> None:
    if not 0 < len(text) <= 32:
        raise BadField("expected 1 to 32 characters")


def check_trade_state(text: str) -> None:
    if text not in TRADE_STATES:
        raise BadField("expected SUCCESS, REFUND or REVOKED")


def check_currency(text: str) -> None:
    if text not in ("CNY", ""):
        raise BadField("expected CNY (wxshop's book is in fen of yuan)")


def check_text(text: str) -> None:
    if "\x00" in text:
        raise BadField("contains a NUL byte")


class Memo(dict):
    """text → ``parse(text)``, filled on first sight; a hit is one C dict lookup. At most
    ``limit`` entries are kept, so memory stays flat however many rows follow."""

    __slots__ = ("_limit", "_parse")

    def __init__(self, parse: Callable[[str], object], limit: int) -> None:
        super().__init__()
        self._parse = parse
        self._limit = limit

    def __missing__(self, key: str) -> object:
        value = self._parse(key)
        if len(self) < self._limit:
            self[key] = value
        return value


class FenMemo(dict):
    """Yuan text whose shape is already checked (``3999.00``, fee ``-6.00``) → fen.

    Amounts repeat heavily (``0.00`` fills several columns of most rows), so a hit is one C
    dict lookup; at most 65,536 entries are kept, so memory stays flat."""

    __slots__ = ()

    def __missing__(self, key: str) -> int:
        value = int(key.replace(".", ""))
        if len(self) < 65536:
            self[key] = value
        return value


# Shapes of the fields the line pattern judges (reader.line_pattern), each one capture group
# so that group N is field N. A fee's group drops its three trailing zeros (whole fen), so
# every money group reads as "<yuan>.<fen>".
_TIME_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}"
_YUAN_RE = r"(?:0|[1-9][0-9]{0,7})\.[0-9]{2}"
ANY_TEXT = r"([^,\x00]*)"
FIELD_PATTERNS = {
    "trade_time": f"({_TIME_RE})",
    "refund_requested_at": f"({_TIME_RE})",
    "refund_succeeded_at": f"((?:{_TIME_RE})?)",
    "transaction_id": r"(42[0-9]{26})",
    "out_trade_no": r"([^,]{1,32})",
    "trade_state": r"(SUCCESS|REFUND|REVOKED)",
    "currency": r"((?:CNY)?)",  # empty in some bills; any other currency is refused
    "settlement": f"({_YUAN_RE})",
    "coupon": f"({_YUAN_RE})",
    "refund": f"({_YUAN_RE})",
    "coupon_refund": f"({_YUAN_RE})",
    "order": f"({_YUAN_RE})",
    "requested_refund": f"({_YUAN_RE})",
    "fee": f"(-?{_YUAN_RE})000",
}
#: Fields whose absent column reads as 0.00 (the others as None).
MONEY_FIELDS = frozenset({"settlement", "coupon", "refund", "coupon_refund", "order",
                          "requested_refund"})


# --------------------------------------------------------------------------- printing

yuan_text = yuan  # "3999.00", "-6.00"


def fee_text(fen: int) -> str:
    """Fees print five decimals: `23.99000`, `-6.00000`."""
    return yuan(fen) + "000"


_SHANGHAI = None


def time_text(value: datetime) -> str:
    """Naive Beijing time as printed; an aware time is converted first."""
    global _SHANGHAI
    if value.tzinfo is not None:
        if _SHANGHAI is None:
            from zoneinfo import ZoneInfo

            _SHANGHAI = ZoneInfo("Asia/Shanghai")
        value = value.astimezone(_SHANGHAI).replace(tzinfo=None)
    return value.isoformat(" ", "seconds")
