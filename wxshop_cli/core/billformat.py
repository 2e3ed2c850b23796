"""Streaming reader and writer of WeChat Pay trade bills (交易账单), as described in BILLS.md.

Pure: no database, no clock. Money is integer fen; no float or Decimal on the per-row path.

Reading::

    source = open_bill(path_or_dash)          # path, gzip file or "-" (stdin, spooled)
    with source:
        reader = BillReader(source.open())    # pass 1: validate every row and the totals
        for row in reader:
            ...
        reader.summary                        # the bill's own summary, checked
        for row in BillReader(source.open()): # pass 2: the same bytes again
            ...
        source.sha256                         # of the decompressed content

Writing::

    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = BillWriter(out, "ALL")
        for row in rows:
            writer.write(row)
        summary = writer.finish()             # summary header and values; totals add up

Error slugs (all InvalidInput, exit 3, with ``location="line N"`` when a line is known):
``invalid_bill`` (empty, not a bill, Alipay export, not UTF-8, truncated, bad gzip, bad
summary line), ``bill_missing_columns`` (required columns absent from the header),
``invalid_bill_row`` (a malformed detail line), ``bill_does_not_add_up`` (summary differs from
the running sums). A bill file that cannot be opened is ``bill_unreadable`` (UsageError,
exit 2).

The older layout (``总金额,代金券或立减优惠金额,…`` with summary ``总交易单数,总交易额,…``) is
read: ``总金额`` becomes both ``settlement_fen`` and ``order_fen``, ``代金券或立减优惠金额`` the
coupon, ``代金券或立减优惠退款金额`` the coupon refund; ``requested_refund_fen`` is 0 and the
summary's ``order_total_fen`` / ``requested_refund_total_fen`` are None (that layout has no
such totals). ``BillReader.layout`` says ``"legacy"`` for it, ``"current"`` otherwise.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import re
import stat
import sys
import tempfile
import weakref
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import BinaryIO, TextIO

from wxshop_cli.core.text import describe, invisible_char
from wxshop_cli.errors import InvalidInput, UsageError
from wxshop_cli.money import MAX_FEN, format_rate, parse_rate_ppm, yuan

__all__ = [
    "ALL_COLUMNS",
    "BILL_TYPES",
    "REFUND_COLUMNS",
    "SUCCESS_COLUMNS",
    "SUMMARY_COLUMNS",
    "BillReader",
    "BillRow",
    "BillSource",
    "BillSummary",
    "BillWriter",
    "open_bill",
]

BILL_TYPES = ("ALL", "SUCCESS", "REFUND")

ALL_COLUMNS: tuple[str, ...] = (
    "交易时间", "公众账号ID", "商户号", "特约商户号", "设备号", "微信订单号", "商户订单号",
    "用户标识", "交易类型", "交易状态", "付款银行", "货币种类", "应结订单金额", "代金券金额",
    "微信退款单号", "商户退款单号", "退款金额", "充值券退款金额", "退款类型", "退款状态",
    "商品名称", "商户数据包", "手续费", "费率", "订单金额", "申请退款金额", "费率备注",
)
_REFUND_ONLY = ("微信退款单号", "商户退款单号", "退款金额", "充值券退款金额", "退款类型",
                "退款状态", "申请退款金额")
SUCCESS_COLUMNS: tuple[str, ...] = tuple(c for c in ALL_COLUMNS if c not in _REFUND_ONLY)
_AFTER_COUPON = ALL_COLUMNS.index("代金券金额") + 1
REFUND_COLUMNS: tuple[str, ...] = (
    ALL_COLUMNS[:_AFTER_COUPON] + ("退款申请时间", "退款成功时间") + ALL_COLUMNS[_AFTER_COUPON:]
)
SUMMARY_COLUMNS: tuple[str, ...] = (
    "总交易单数", "应结订单总金额", "退款总金额", "充值券退款总金额", "手续费总金额",
    "订单总金额", "申请退款总金额",
)
_COLUMNS_BY_TYPE = {"ALL": ALL_COLUMNS, "SUCCESS": SUCCESS_COLUMNS, "REFUND": REFUND_COLUMNS}

#: The longest line the reader accepts (a real detail line is a few hundred bytes).
MAX_LINE_BYTES = 64 * 1024
#: One row's amount is at most ¥99,999,999.99 (money.MAX_FEN): 8 digits, a dot, 2 decimals.
_MAX_YUAN_CHARS = 11
_MAX_FEE_CHARS = 14  # 8 digits, a dot, 5 decimals
_MAX_TOTAL_CHARS = 20
_TRADE_STATES = frozenset({"SUCCESS", "REFUND", "REVOKED"})
_NO_REFUND_ID = frozenset({"", "0"})


@dataclass(slots=True)
class BillRow:
    """One detail line of a bill. Times are naive Beijing time, as printed.

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


# --------------------------------------------------------------------------- field parsers


class _BadField(Exception):
    """Raised by the per-field parsers; the reader turns it into InvalidInput with the line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_TIME_SHAPE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}", re.ASCII).fullmatch
_fromisoformat = datetime.fromisoformat


def _parse_time(text: str) -> datetime:
    if _TIME_SHAPE(text) is None:
        raise _BadField("expected a time YYYY-MM-DD HH:MM:SS")
    try:
        return _fromisoformat(text)
    except ValueError:
        raise _BadField("not a real date and time") from None


def _amount_reason(text: str, decimals: int, negative_ok: bool) -> str:
    example = "23.99000" if decimals == 5 else "3999.00"
    if text.startswith("-") and not negative_ok:
        return "must not be negative"
    if not text:
        return "empty amount"
    count = "five" if decimals == 5 else "two"
    return f"expected yuan with exactly {count} decimals, e.g. {example}"


def _parse_yuan(text: str, max_chars: int = _MAX_YUAN_CHARS) -> int:
    """`3999.00` → 399900: ASCII digits, no sign, no leading zeros, exactly two decimals."""
    if 3 < len(text) <= max_chars and text[-3] == "." and text.isascii():
        digits = text[:-3] + text[-2:]
        if digits.isdigit() and (text[0] != "0" or len(text) == 4):
            return int(digits)
    if len(text) > max_chars and text[-3:-2] == "." and text[:-3].isdigit():
        raise _BadField("more than 99999999.99" if max_chars == _MAX_YUAN_CHARS
                        else "implausibly large")
    raise _BadField(_amount_reason(text, 2, False))


def _parse_fee(text: str, max_chars: int = _MAX_FEE_CHARS) -> int:
    """`23.99000` → 2399, `-6.00000` → -600; five decimals that must be whole fen."""
    body = text[1:] if text[:1] == "-" else text
    if 6 < len(body) <= max_chars and body[-6] == "." and body.isascii():
        digits = body[:-6] + body[-5:]
        if digits.isdigit() and (body[0] != "0" or len(body) == 7):
            if not digits.endswith("000"):
                raise _BadField("a fee must be whole fen (the last three decimals 000)")
            fen = int(digits[:-3])
            return -fen if body is not text else fen
    raise _BadField(_amount_reason(text, 5, True))


def _parse_total_yuan(text: str) -> int:
    """A summary total: like an amount, but may exceed one transaction's maximum."""
    return _parse_yuan(text, _MAX_TOTAL_CHARS)


def _parse_total_fee(text: str) -> int:
    return _parse_fee(text, _MAX_TOTAL_CHARS)


def _parse_count(text: str) -> int:
    if 0 < len(text) <= _MAX_TOTAL_CHARS and text.isascii() and text.isdigit():
        return int(text)
    raise _BadField("expected a whole number of lines")


def _parse_rate(text: str) -> int:
    if not text.endswith("%"):
        raise _BadField("expected a percentage such as 0.60%")
    try:
        return parse_rate_ppm(text)
    except InvalidInput as exc:
        raise _BadField(exc.message) from None


class _Memo(dict):
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


class _FenMemo(dict):
    """Yuan text whose shape is already checked (``3999.00``, fee ``-6.00``) → fen.

    Amounts repeat heavily (``0.00`` fills several columns of most rows), so a hit is one C
    dict lookup; at most 65,536 entries are kept, so memory stays flat."""

    __slots__ = ()

    def __missing__(self, key: str) -> int:
        value = int(key.replace(".", ""))
        if len(self) < 65536:
            self[key] = value
        return value


def _check_transaction_id(text: str) -> None:
    if not (len(text) == 28 and text.startswith("42") and text.isascii() and text.isdigit()):
        raise _BadField("expected 28 digits starting 42")


def _check_out_trade_no(text: str) -> None:
    if not 0 < len(text) <= 32:
        raise _BadField("expected 1 to 32 characters")


def _check_trade_state(text: str) -> None:
    if text not in _TRADE_STATES:
        raise _BadField("expected SUCCESS, REFUND or REVOKED")


def _check_currency(text: str) -> None:
    if text not in ("CNY", ""):
        raise _BadField("expected CNY (wxshop's book is in fen of yuan)")


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise _BadField("contains a NUL byte")


# Shapes of the fields the line pattern judges (BillReader._line_pattern), each one capture
# group so that group N is field N. A fee's group drops its three trailing zeros (whole fen),
# so every money group reads as "<yuan>.<fen>".
_TIME_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}"
_YUAN_RE = r"(?:0|[1-9][0-9]{0,7})\.[0-9]{2}"
_ANY_TEXT = r"([^,\x00]*)"
_FIELD_PATTERNS = {
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


def _shown(text: str | None) -> str:
    if text is None:
        return "(missing)"
    return repr(text if len(text) <= 40 else text[:37] + "...")


# --------------------------------------------------------------------------- header layouts

# Canonical field → header names that may carry it (first present wins).
_CURRENT_NAMES: dict[str, tuple[str, ...]] = {
    "trade_time": ("交易时间",),
    "app_id": ("公众账号ID",),
    "mch_id": ("商户号",),
    "sub_mch_id": ("特约商户号", "子商户号"),
    "device_info": ("设备号",),
    "transaction_id": ("微信订单号",),
    "out_trade_no": ("商户订单号",),
    "openid": ("用户标识",),
    "trade_type": ("交易类型",),
    "trade_state": ("交易状态",),
    "bank_code": ("付款银行",),
    "currency": ("货币种类",),
    "settlement": ("应结订单金额",),
    "coupon": ("代金券金额",),
    "refund_requested_at": ("退款申请时间",),
    "refund_succeeded_at": ("退款成功时间",),
    "refund_id": ("微信退款单号",),
    "refund_no": ("商户退款单号",),
    "refund": ("退款金额",),
    "coupon_refund": ("充值券退款金额",),
    "refund_type": ("退款类型",),
    "refund_status": ("退款状态",),
    "product": ("商品名称",),
    "attach": ("商户数据包",),
    "fee": ("手续费",),
    "rate": ("费率",),
    "order": ("订单金额",),
    "requested_refund": ("申请退款金额",),
    "rate_note": ("费率备注",),
}
_LEGACY_NAMES = dict(_CURRENT_NAMES)
_LEGACY_NAMES.update({
    "settlement": ("总金额",),
    "order": ("总金额",),
    "coupon": ("代金券或立减优惠金额",),
    "coupon_refund": ("代金券或立减优惠退款金额",),
    "requested_refund": (),
})

# Columns a bill must have. The rest (app id, device, openid, bank, product, rate, ...) are
# read when present and None when absent.
_REQUIRED_BASE = ("trade_time", "mch_id", "transaction_id", "out_trade_no", "trade_state",
                  "settlement", "coupon", "fee")
_REQUIRED_CURRENT = ("order",)
_REQUIRED_REFUND = ("refund_id", "refund_no", "refund", "coupon_refund", "refund_status")
_REQUIRED_REFUND_CURRENT = ("requested_refund",)
_REQUIRED_REFUND_TIMES = ("refund_requested_at", "refund_succeeded_at")

# Header names whose presence says "this is an ALL (or REFUND) bill".
_REFUND_MARKERS = frozenset(_REFUND_ONLY) | {"代金券或立减优惠退款金额"}
_BILL_MARKERS = ("交易时间", "微信订单号", "商户订单号", "交易状态", "商户号")

_SUMMARY_NAMES: dict[str, tuple[str, ...]] = {
    "count": ("总交易单数",),
    "settlement": ("应结订单总金额", "总交易额"),
    "refund": ("退款总金额", "总退款金额"),
    "coupon_refund": ("充值券退款总金额", "总代金券或立减优惠退款总金额",
                      "总代金券或立减优惠退款金额"),
    "fee": ("手续费总金额",),
    "order": ("订单总金额",),
    "requested_refund": ("申请退款总金额",),
}
_SUMMARY_LABEL = {
    "count": "总交易单数", "settlement": "应结订单总金额", "refund": "退款总金额",
    "coupon_refund": "充值券退款总金额", "fee": "手续费总金额", "order": "订单总金额",
    "requested_refund": "申请退款总金额",
}
_SUMMARY_FIRST = "总交易单数"


#: What to do about each kind of refused bill (SPEC: every error carries a hint).
_HINTS = {
    "invalid_bill": "reconcile takes a WeChat Pay trade bill as downloaded (see "
                    "docs/bills-wechat.md)",
    "invalid_bill_row": "the bill is damaged at that line; download it again",
    "bill_does_not_add_up": "the summary must equal the detail lines; download the bill again",
    "bill_missing_columns": "a trade bill of type ALL, SUCCESS or REFUND has these columns",
}


def _invalid(message: str, *, slug: str = "invalid_bill", line: int | None = None,
             hint: str | None = None, details: list[str] | None = None) -> InvalidInput:
    hint = hint or _HINTS.get(slug)
    if line is None:
        return InvalidInput(message, slug=slug, hint=hint, details=details)
    return InvalidInput(f"line {line}: {message}", slug=slug, hint=hint, details=details,
                        location=f"line {line}")


# --------------------------------------------------------------------------- reader


class BillReader:
    """Stream a bill from a binary stream, one line at a time, validating as it goes.

    The header is read by the constructor: ``bill_type`` (``ALL``, ``SUCCESS``, ``REFUND``),
    ``layout`` (``current``/``legacy``), ``columns`` and ``sub_merchant_column`` are known
    before iteration. Iterating yields ``BillRow``; at the end the summary line is parsed
    into ``summary``, the running sums are in ``computed`` and ``check_totals()`` has been
    run, so a completed iteration means the whole bill is valid. Any defect raises
    InvalidInput naming its line. A reader is iterated once; it does not close the stream.

    ``line_no`` (last line read), ``rows_read`` and ``bytes_read`` (decompressed bytes
    consumed) can drive a progress bar.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._readline = partial(stream.readline, MAX_LINE_BYTES)
        self.line_no = 0
        self.rows_read = 0
        self.bytes_read = 0
        self.summary: BillSummary | None = None
        self.computed: BillSummary | None = None
        self._summary_line = 0
        self._iterated = False
        header = self._next_line()
        if header is None:
            raise _invalid("the bill is empty (no header line)")
        if header.startswith("\ufeff"):
            header = header[1:]
        if not header.strip():
            raise _invalid("the bill is empty: its first line is blank, not the header",
                           line=1)
        self._read_header(header)

    # -- lines

    def _next_line(self) -> str | None:
        raw = self._readline()
        if not raw:
            return None
        self.line_no += 1
        self.bytes_read += len(raw)
        return self._decode(raw)

    def _decode(self, raw: bytes) -> str:
        if len(raw) >= MAX_LINE_BYTES and not raw.endswith(b"\n"):
            raise _invalid(f"line longer than {MAX_LINE_BYTES} bytes", line=self.line_no)
        try:
            return raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            hint = None
            if self.line_no == 1:
                hint = "WeChat Pay bills are UTF-8; a GBK file is probably another export"
            raise _invalid("not UTF-8 text", line=self.line_no, hint=hint) from None

    # -- header

    def _read_header(self, header: str) -> None:
        if header.startswith("#"):
            raise _invalid(
                "not a WeChat Pay trade bill: it starts with a '#' comment line "
                "(an Alipay account statement such as #支付宝账务明细查询?)", line=1)
        if header.startswith("`"):
            raise _invalid("the header line is missing: the file starts with a detail line",
                           line=1)
        names = [name.strip() for name in header.split(",")]
        index: dict[str, int] = {}
        for position, name in enumerate(names):
            if name in index and name:
                raise _invalid(f"column {name} appears twice in the header", line=1)
            index[name] = position
        if sum(marker in index for marker in _BILL_MARKERS) < 2:
            shown = ",".join(names[:6]) + (",…" if len(names) > 6 else "")
            raise _invalid(f"not a WeChat Pay trade bill: unexpected header {shown!r}",
                           line=1, hint="expected a header starting 交易时间,公众账号ID,商户号")
        legacy = "总金额" in index and "应结订单金额" not in index
        if "退款申请时间" in index or "退款成功时间" in index:
            bill_type = "REFUND"
        elif any(name in _REFUND_MARKERS for name in index):
            bill_type = "ALL"
        else:
            bill_type = "SUCCESS"
        table = _LEGACY_NAMES if legacy else _CURRENT_NAMES
        required = list(_REQUIRED_BASE)
        if not legacy:
            required += _REQUIRED_CURRENT
        if bill_type != "SUCCESS":
            required += _REQUIRED_REFUND
            if not legacy:
                required += _REQUIRED_REFUND_CURRENT
        if bill_type == "REFUND":
            required += _REQUIRED_REFUND_TIMES

        positions: dict[str, int | None] = {}
        for field, candidates in table.items():
            positions[field] = next((index[c] for c in candidates if c in index), None)
        missing = [table[field][0] for field in required if positions[field] is None]
        if missing:
            raise _invalid(
                f"the {bill_type} bill header lacks required column(s): {', '.join(missing)}",
                slug="bill_missing_columns", line=1)

        self.bill_type = bill_type
        self.layout = "legacy" if legacy else "current"
        self.columns: tuple[str, ...] = tuple(names)
        self.sub_merchant_column = next(
            (c for c in ("特约商户号", "子商户号") if c in index), None)
        self._ncols = len(names)
        self._labels = {field: table[field][0] for field in table if table[field]}
        # Absent columns point past the real fields at padding: None for text, 0.00 for money.
        pad_none, pad_zero = self._ncols, self._ncols + 1
        money = {"settlement", "coupon", "refund", "coupon_refund", "order", "requested_refund"}
        self._pos = {field: (pos if pos is not None else (pad_zero if field in money
                                                           else pad_none))
                     for field, pos in positions.items()}

    # -- rows

    def __iter__(self) -> Iterator[BillRow]:
        if self._iterated:
            raise RuntimeError("a BillReader is iterated once; open the bill again")
        self._iterated = True
        return self._rows()

    def _line_pattern(self) -> re.Pattern[str]:
        """One regex for a whole detail line of this header: it checks the shape of every
        field (backticks, field count, amounts, fees, times, ids, state) in C. Values it
        cannot judge by shape (real dates, rates up to 100%) are checked after."""
        by_position = {pos: field for field, pos in self._pos.items() if pos < self._ncols}
        parts = []
        for position in range(self._ncols):
            pattern = _FIELD_PATTERNS.get(by_position.get(position, ""), _ANY_TEXT)
            parts.append("`" + pattern)
        return re.compile(",".join(parts))

    def _rows(self) -> Iterator[BillRow]:
        p = self._pos
        i_time, i_app, i_mch, i_sub = p["trade_time"], p["app_id"], p["mch_id"], p["sub_mch_id"]
        i_dev, i_tx, i_otn, i_openid = (p["device_info"], p["transaction_id"],
                                        p["out_trade_no"], p["openid"])
        i_ttype, i_state, i_bank, i_cur = (p["trade_type"], p["trade_state"], p["bank_code"],
                                           p["currency"])
        i_settle, i_coupon, i_rid, i_rno = (p["settlement"], p["coupon"], p["refund_id"],
                                            p["refund_no"])
        i_refund, i_crefund, i_rtype, i_rstatus = (p["refund"], p["coupon_refund"],
                                                   p["refund_type"], p["refund_status"])
        i_product, i_attach, i_fee, i_rate = p["product"], p["attach"], p["fee"], p["rate"]
        i_order, i_req, i_note = p["order"], p["requested_refund"], p["rate_note"]
        i_req_at, i_ok_at = p["refund_requested_at"], p["refund_succeeded_at"]
        refund_bill = self.bill_type == "REFUND"
        success_bill = self.bill_type == "SUCCESS"
        match = self._line_pattern().fullmatch
        pad = (None, "0.00")
        readline = self._readline
        fromiso = _fromisoformat
        fen = _FenMemo()  # shape already checked by the pattern: "3999.00" → 399900
        rates = _Memo(_parse_rate, 1 << 8)
        rates[""] = rates[None] = None  # empty or absent 费率
        no_refund_id = _NO_REFUND_ID
        row_cls = BillRow

        count = settlement = refund_sum = coupon_refund_sum = fee_sum = order_sum = req_sum = 0
        line_no = self.line_no
        nbytes = 0
        line: str | None = None
        try:
            for raw in iter(readline, b""):
                line_no += 1
                nbytes += len(raw)
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    line = None
                if line is None or raw[-1:] != b"\n" and len(raw) >= MAX_LINE_BYTES:
                    self.line_no = line_no
                    self._decode(raw)  # raises with the reason
                line = line.rstrip("\r\n")
                if line[:1] != "`":
                    break
                if not line.isprintable() and (bad := self._invisible(line, line_no)):
                    raise bad
                m = match(line)
                if m is None:
                    raise self._row_error(line, line_no)
                g = m.groups() + pad
                try:
                    trade_time = fromiso(g[i_time])
                    rate = rates[g[i_rate]]
                    if refund_bill:
                        req_at = fromiso(g[i_req_at])
                        ok_text = g[i_ok_at]
                        ok_at = fromiso(ok_text) if ok_text else None
                    else:
                        req_at = ok_at = None
                except (ValueError, _BadField):
                    raise self._row_error(line, line_no) from None
                state = g[i_state]
                rid, rno = g[i_rid], g[i_rno]
                rtype, rstatus = g[i_rtype], g[i_rstatus]
                if state == "SUCCESS" or (state == "REVOKED" and not refund_bill
                                          and (rid is None or rid in no_refund_id)):
                    if refund_bill:
                        raise self._row_error(line, line_no, "trade_state",
                                              "a REFUND bill lists refunds only")
                    kind = "payment"
                    if rid in no_refund_id:
                        rid = None
                    if rno in no_refund_id:
                        rno = None
                    rtype = rtype or None
                    rstatus = rstatus or None
                else:
                    if success_bill:
                        raise self._row_error(line, line_no, "trade_state",
                                              "a SUCCESS bill lists payments only")
                    kind = "refund"
                    if rid in no_refund_id:
                        raise self._row_error(line, line_no, "refund_id",
                                              "a refund row needs its refund id")
                    if rno in no_refund_id:
                        raise self._row_error(line, line_no, "refund_no",
                                              "a refund row needs its refund number")
                settle = fen[g[i_settle]]
                refund = fen[g[i_refund]]
                crefund = fen[g[i_crefund]]
                fee = fen[g[i_fee]]
                order = fen[g[i_order]]
                req = fen[g[i_req]]
                count += 1
                if kind == "payment":
                    settlement += settle
                refund_sum += refund
                coupon_refund_sum += crefund
                fee_sum += fee
                order_sum += order
                req_sum += req
                yield row_cls(
                    line_no, kind, trade_time, g[i_app], g[i_mch], g[i_sub], g[i_tx],
                    g[i_otn], g[i_openid], g[i_ttype], state, g[i_bank], g[i_cur], settle,
                    fen[g[i_coupon]], rid, rno, refund, rtype, rstatus, g[i_product],
                    g[i_attach], fee, rate, order, req, req_at, ok_at, crefund, g[i_dev],
                    g[i_note])
            else:
                line = None
        finally:
            self.line_no = line_no
            self.rows_read = count
            self.bytes_read += nbytes
        legacy = self.layout == "legacy"
        self.computed = BillSummary(count, settlement, refund_sum, coupon_refund_sum, fee_sum,
                                    None if legacy else order_sum,
                                    None if legacy else req_sum)
        self._read_summary(line)
        self.check_totals()

    # The slow path: only for a line already known to be bad, to say exactly what is wrong.
    # Columns in the order they are judged; the first bad one is reported.
    _CHECKS = (("trade_time", _parse_time), ("transaction_id", _check_transaction_id),
               ("out_trade_no", _check_out_trade_no), ("trade_state", _check_trade_state),
               ("currency", _check_currency), ("trade_type", _check_text),
               ("product", _check_text), ("attach", _check_text), ("openid", _check_text),
               ("settlement", _parse_yuan), ("coupon", _parse_yuan), ("refund", _parse_yuan),
               ("coupon_refund", _parse_yuan), ("fee", _parse_fee), ("rate", _parse_rate),
               ("order", _parse_yuan), ("requested_refund", _parse_yuan),
               ("refund_requested_at", _parse_time), ("refund_succeeded_at", _parse_time))
    _MAY_BE_EMPTY = frozenset({"rate", "refund_succeeded_at"})

    def _invisible(self, line: str, line_no: int) -> InvalidInput | None:
        """The error for a detail line with a control or invisible character (core.text's
        one check: such a value would reach a terminal or the book), naming the line and the
        column; None when the line only has spaces such as U+3000 (printable text)."""
        for number, field in enumerate(line.split(","), start=1):
            bad = invisible_char(field)
            if bad is not None:
                column = self.columns[number - 1] if number <= self._ncols else "?"
                return _invalid(f"column {number}: bad {column} {_shown(field[1:])}: "
                                f"contains {describe(bad)}",
                                slug="invalid_bill_row", line=line_no,
                                hint="a bill field never holds control or invisible "
                                     "characters; download the bill again")
        return None

    def _row_error(self, line: str, line_no: int, field: str | None = None,
                   reason: str = "") -> InvalidInput:
        """The InvalidInput naming what is wrong with a bad detail line."""
        ncols = self._ncols
        if line.count(",") != ncols - 1:
            return _invalid(f"{line.count(',') + 1} fields, the header has {ncols}",
                            slug="invalid_bill_row", line=line_no)
        fields: list[str | None] = list(line[1:].split(",`"))
        if len(fields) != ncols:
            bad = next(n for n, f in enumerate(line.split(",")) if f[:1] != "`")
            return _invalid(f"field {bad + 1} ({self.columns[bad]}) does not start with a "
                            "backtick", slug="invalid_bill_row", line=line_no)
        fields += [None, "0.00"]
        if field is None:
            for name, check in self._CHECKS:
                text = fields[self._pos[name]]
                if text is None or (text == "" and name in self._MAY_BE_EMPTY):
                    continue
                try:
                    check(text)
                except _BadField as exc:
                    field, reason = name, exc.reason
                    break
            else:
                return _invalid("malformed detail line", slug="invalid_bill_row", line=line_no)
        position = self._pos[field]
        return _invalid(f"bad {self.columns[position]} {_shown(fields[position])}: {reason}",
                        slug="invalid_bill_row", line=line_no)

    # -- summary

    def _read_summary(self, header: str | None) -> None:
        if header is None:
            raise _invalid(
                "the bill ends after its detail lines without the summary "
                f"({_SUMMARY_FIRST},…): truncated download?", line=self.line_no + 1)
        if not header.strip():
            raise _invalid("empty line where a detail line or the summary header was expected",
                           line=self.line_no)
        names = [name.strip() for name in header.split(",")]
        if names[0] != _SUMMARY_FIRST:
            raise _invalid(
                f"expected a detail line (fields start with a backtick) or the summary header "
                f"{_SUMMARY_FIRST},…; got {_shown(header)}", line=self.line_no)
        header_line = self.line_no
        index = {name: position for position, name in enumerate(names)}
        positions = {field: next((index[c] for c in candidates if c in index), None)
                     for field, candidates in _SUMMARY_NAMES.items()}
        needed = ["count", "settlement", "fee"]
        if self.bill_type != "SUCCESS":
            needed += ["refund", "coupon_refund"]
        if self.layout == "current":
            needed.append("order")
            if self.bill_type != "SUCCESS":
                needed.append("requested_refund")
        missing = [_SUMMARY_LABEL[field] for field in needed if positions[field] is None]
        if missing:
            raise _invalid(f"the summary header lacks {', '.join(missing)}",
                           slug="bill_missing_columns", line=header_line)

        values_line = self._next_line()
        if values_line is None:
            raise _invalid("the summary values line is missing: truncated download?",
                           line=header_line + 1)
        self._summary_line = self.line_no
        if values_line[:1] != "`":
            raise _invalid("the summary values must start with a backtick",
                           line=self.line_no)
        if values_line.count(",") != len(names) - 1:
            raise _invalid(f"{values_line.count(',') + 1} summary values, the summary header "
                           f"has {len(names)}", line=self.line_no)
        values = values_line[1:].split(",`")
        if len(values) != len(names):
            raise _invalid("every summary value must start with a backtick", line=self.line_no)

        totals: dict[str, int | None] = {}
        for field, position in positions.items():
            if position is None:
                totals[field] = None
                continue
            parse = (_parse_count if field == "count" else
                     _parse_total_fee if field == "fee" else _parse_total_yuan)
            try:
                totals[field] = parse(values[position])
            except _BadField as exc:
                raise _invalid(f"bad {names[position]} {_shown(values[position])}: "
                               f"{exc.reason}", line=self.line_no) from None
        # No refund columns (SUCCESS bill): no refunds, whatever the summary leaves out.
        for field in ("refund", "coupon_refund"):
            if totals[field] is None:
                totals[field] = 0
        legacy = self.layout == "legacy"
        self.summary = BillSummary(
            count=totals["count"], settlement_total_fen=totals["settlement"],
            refund_total_fen=totals["refund"], coupon_refund_total_fen=totals["coupon_refund"],
            fee_total_fen=totals["fee"],
            order_total_fen=None if legacy else totals["order"],
            requested_refund_total_fen=None if legacy else (
                totals["requested_refund"] if totals["requested_refund"] is not None else 0))
        self._summary_names = {field: names[pos] for field, pos in positions.items()
                               if pos is not None}

        while (rest := self._next_line()) is not None:
            if rest.strip():
                raise _invalid("unexpected text after the summary", line=self.line_no)

    def check_totals(self) -> None:
        """Raise InvalidInput ``bill_does_not_add_up`` unless the summary equals the running
        sums of the rows (BILLS.md). Run automatically when iteration completes."""
        if self.summary is None or self.computed is None:
            raise RuntimeError("read the whole bill before checking its totals")
        problems = []
        for field, attr in (("count", "count"), ("settlement", "settlement_total_fen"),
                            ("refund", "refund_total_fen"),
                            ("coupon_refund", "coupon_refund_total_fen"),
                            ("fee", "fee_total_fen"), ("order", "order_total_fen"),
                            ("requested_refund", "requested_refund_total_fen")):
            stated, summed = getattr(self.summary, attr), getattr(self.computed, attr)
            if stated is None or summed is None or stated == summed:
                continue
            name = self._summary_names.get(field, _SUMMARY_LABEL[field])
            if field == "count":
                problems.append(f"{name} is {stated} but the bill has {summed} detail lines")
            else:
                show = _fee_text if field == "fee" else _yuan_text
                what = {"settlement": f"{self._labels['settlement']} of the payment rows",
                        "refund": self._labels["refund"],
                        "coupon_refund": self._labels["coupon_refund"],
                        "fee": self._labels["fee"], "order": self._labels["order"],
                        "requested_refund": "申请退款金额"}[field]
                problems.append(f"{name} is {show(stated)} but {what} sums to {show(summed)}")
        if problems:
            raise _invalid(f"bill does not add up: {problems[0]}", slug="bill_does_not_add_up",
                           line=self._summary_line,
                           details=problems if len(problems) > 1 else None)

    def validate(self) -> BillSummary:
        """Read (the rest of) the bill, checking every row and the totals; return the
        summary."""
        for _ in self:
            pass
        assert self.summary is not None
        return self.summary


# --------------------------------------------------------------------------- writer


_yuan_text = yuan  # "3999.00", "-6.00"


def _fee_text(fen: int) -> str:
    """Fees print five decimals: `23.99000`, `-6.00000`."""
    return yuan(fen) + "000"


_CLEAN = str.maketrans({",": " ", "`": " ", "\r": " ", "\n": " ", "\x00": " "})
_SHANGHAI = None


def _time_text(value: datetime) -> str:
    global _SHANGHAI
    if value.tzinfo is not None:
        if _SHANGHAI is None:
            from zoneinfo import ZoneInfo

            _SHANGHAI = ZoneInfo("Asia/Shanghai")
        value = value.astimezone(_SHANGHAI).replace(tzinfo=None)
    return value.isoformat(" ", "seconds")


class BillWriter:
    """Write a bill of ``bill_type`` (``ALL``, ``SUCCESS`` or ``REFUND``) to a text stream.

    Open the stream with ``encoding="utf-8", newline=""``: the writer emits CRLF itself and
    no BOM. The header is written at once; ``write(row)`` adds a detail line (every field
    backticked; commas, backticks and line breaks in text replaced by spaces; amounts
    ``3999.00``; fees ``23.99000``; rate ``0.60%``; times naive Beijing, aware ones converted);
    ``finish()`` writes the summary, accumulated from the rows actually written, and returns
    it. As a context manager, a clean exit calls ``finish()``.

    None is written as the bill's empty value: ``0`` for a payment row's refund numbers,
    otherwise an empty field. Rows are not re-validated beyond their kind and trade state;
    ``BillReader`` reads back whatever valid rows were written.
    """

    def __init__(self, stream: TextIO, bill_type: str = "ALL", *,
                 sub_merchant_column: str = "特约商户号") -> None:
        if bill_type not in _COLUMNS_BY_TYPE:
            raise ValueError(f"bill type must be one of {', '.join(BILL_TYPES)}")
        if sub_merchant_column not in ("特约商户号", "子商户号"):
            raise ValueError("sub_merchant_column must be 特约商户号 or 子商户号")
        self._write = stream.write
        self.bill_type = bill_type
        self._finished = False
        self.rows_written = 0
        self._settlement = self._refund = self._coupon_refund = 0
        self._fee = self._order = self._requested = 0
        self._rates: dict[int, str] = {}
        columns = _COLUMNS_BY_TYPE[bill_type]
        if sub_merchant_column != "特约商户号":
            columns = tuple(sub_merchant_column if c == "特约商户号" else c for c in columns)
        self.columns = columns
        self._write(",".join(columns) + "\r\n")

    def __enter__(self) -> BillWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None and not self._finished:
            self.finish()

    def _rate_text(self, ppm: int | None) -> str:
        if ppm is None:
            return ""
        text = self._rates.get(ppm)
        if text is None:
            text = format_rate(ppm)
            if len(self._rates) < 256:
                self._rates[ppm] = text
        return text

    def write(self, row: BillRow) -> None:
        """Append one detail line."""
        if self._finished:
            raise RuntimeError("the bill's summary is already written")
        kind = row.kind
        if kind == "payment":
            if self.bill_type == "REFUND":
                raise ValueError("a REFUND bill lists refunds only")
        elif kind == "refund":
            if self.bill_type == "SUCCESS":
                raise ValueError("a SUCCESS bill lists payments only")
        else:
            raise ValueError(f"row kind must be payment or refund, not {kind!r}")
        if row.trade_state not in _TRADE_STATES:
            raise ValueError(f"trade state must be SUCCESS, REFUND or REVOKED, "
                             f"not {row.trade_state!r}")
        for name in ("settlement_fen", "coupon_fen", "order_fen", "refund_fen",
                     "coupon_refund_fen", "requested_refund_fen"):
            if not 0 <= getattr(row, name) <= MAX_FEN:
                raise ValueError(f"{name} must be 0..{MAX_FEN} fen, not {getattr(row, name)}")
        if not -MAX_FEN <= row.fee_fen <= MAX_FEN:
            raise ValueError(f"fee_fen must be within ±{MAX_FEN} fen, not {row.fee_fen}")
        clean = _CLEAN

        def text(value: str | None) -> str:
            if not value:
                return ""
            value = value.translate(clean)
            if value.isprintable():
                return value
            # The reader refuses control and invisible characters: write a space instead.
            return "".join(" " if invisible_char(c) else c for c in value)

        refund_id = text(row.refund_id) or ("0" if kind == "payment" else "")
        refund_no = text(row.refund_no) or ("0" if kind == "payment" else "")
        head = [
            _time_text(row.trade_time), text(row.app_id), text(row.mch_id),
            text(row.sub_mch_id), text(row.device_info), text(row.transaction_id),
            text(row.out_trade_no), text(row.openid), text(row.trade_type),
            text(row.trade_state), text(row.bank_code), text(row.currency),
            yuan(row.settlement_fen), yuan(row.coupon_fen),
        ]
        tail = [text(row.product), text(row.attach), _fee_text(row.fee_fen),
                self._rate_text(row.rate_ppm), yuan(row.order_fen)]
        if self.bill_type == "SUCCESS":
            fields = head + tail + [text(row.rate_note)]
        else:
            if self.bill_type == "REFUND":
                if row.refund_requested_at is None:
                    raise ValueError("a REFUND bill row needs refund_requested_at")
                head += [_time_text(row.refund_requested_at),
                         _time_text(row.refund_succeeded_at)
                         if row.refund_succeeded_at is not None else ""]
            fields = head + [
                refund_id, refund_no, yuan(row.refund_fen), yuan(row.coupon_refund_fen),
                text(row.refund_type), text(row.refund_status),
            ] + tail + [yuan(row.requested_refund_fen), text(row.rate_note)]
            self._refund += row.refund_fen
            self._coupon_refund += row.coupon_refund_fen
            self._requested += row.requested_refund_fen
        self._write("`" + ",`".join(fields) + "\r\n")
        self.rows_written += 1
        if kind == "payment":
            self._settlement += row.settlement_fen
        self._fee += row.fee_fen
        self._order += row.order_fen

    def write_rows(self, rows: Iterable[BillRow]) -> None:
        for row in rows:
            self.write(row)

    @property
    def summary(self) -> BillSummary:
        """The totals of the rows written so far."""
        return BillSummary(self.rows_written, self._settlement, self._refund,
                           self._coupon_refund, self._fee, self._order, self._requested)

    def finish(self) -> BillSummary:
        """Write the summary header and values; return the summary. Once only."""
        if self._finished:
            raise RuntimeError("the bill's summary is already written")
        self._finished = True
        s = self.summary
        self._write(",".join(SUMMARY_COLUMNS) + "\r\n")
        values = [str(s.count), _yuan_text(s.settlement_total_fen),
                  _yuan_text(s.refund_total_fen), _yuan_text(s.coupon_refund_total_fen),
                  _fee_text(s.fee_total_fen), _yuan_text(s.order_total_fen or 0),
                  _yuan_text(s.requested_refund_total_fen or 0)]
        self._write("`" + ",`".join(values) + "\r\n")
        return s


# --------------------------------------------------------------------------- sources

_GZIP_MAGIC = b"\x1f\x8b"
_SPOOL_IN_MEMORY = 8 * 1024 * 1024
_CHUNK = 1024 * 1024


class BillSource:
    """A bill's content that can be opened any number of times, each time from the start.

    Made by ``open_bill``. ``open()`` returns a fresh binary stream of the DECOMPRESSED
    content (gzip is detected by its magic bytes and undone transparently); streams are
    independent, so two passes (or two readers at once) are cheap. ``sha256`` (hex) and
    ``size`` are of the decompressed content. ``close()`` (or leaving the ``with`` block)
    removes the temporary spool file of a bill read from stdin; streams already opened
    should be closed by their users.
    """

    def __init__(self, name: str, *, path: Path | None = None, data: bytes | None = None,
                 temp: Path | None = None) -> None:
        self.name = name
        self._path = path
        self._data = data
        self._temp = temp
        self._finalizer = (weakref.finalize(self, _unlink_quietly, temp)
                           if temp is not None else None)
        with self._raw_open() as head:
            self.compressed = head.read(2) == _GZIP_MAGIC
        self.sha256, self.size = self._digest()

    def _raw_open(self) -> BinaryIO:
        if self._data is not None:
            return io.BytesIO(self._data)
        assert self._path is not None
        try:
            return open(self._path, "rb")
        except OSError as exc:
            raise UsageError(f"cannot read bill {self.name}: {exc.strerror or exc}",
                             slug="bill_unreadable") from None

    def open(self) -> BinaryIO:
        """A new binary stream at the start of the decompressed bill; the caller closes it."""
        if not self.compressed:
            return self._raw_open()
        if self._data is not None:
            return gzip.GzipFile(fileobj=io.BytesIO(self._data), mode="rb")  # type: ignore[return-value]
        try:
            # Given a file name, GzipFile owns the file and closes it with itself.
            return gzip.GzipFile(filename=self._path, mode="rb")  # type: ignore[return-value]
        except OSError as exc:
            raise UsageError(f"cannot read bill {self.name}: {exc.strerror or exc}",
                             slug="bill_unreadable") from None

    def _digest(self) -> tuple[str, int]:
        digest = hashlib.sha256()
        size = 0
        stream = self.open()
        try:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
        except (OSError, EOFError, zlib.error) as exc:
            if self.compressed:
                raise InvalidInput(f"bill {self.name}: corrupt or truncated gzip data ({exc})",
                                   slug="invalid_bill") from None
            raise UsageError(f"cannot read bill {self.name}: {exc}",
                             slug="bill_unreadable") from None
        finally:
            stream.close()
        return digest.hexdigest(), size

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> BillSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def open_bill(path_or_dash: str | os.PathLike[str], *,
              stdin: BinaryIO | None = None) -> BillSource:
    """Open a bill given as a path (plain or gzip, detected by magic bytes) or ``-``.

    ``-`` reads standard input (``stdin`` overrides ``sys.stdin.buffer``) to its end and
    spools it — in memory up to 8 MiB, then to a temporary file deleted by ``close()`` — so
    the bill can be read in two passes. Returns a ``BillSource``: ``source.open()`` gives a
    binary stream for ``BillReader``, ``source.sha256`` the SHA-256 of the decompressed
    content. A bill that cannot be opened raises UsageError ``bill_unreadable``.
    """
    if str(path_or_dash) == "-":
        return _spool("<stdin>", stdin if stdin is not None else sys.stdin.buffer)
    path = Path(path_or_dash)
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise UsageError(f"cannot read bill {path}: {exc.strerror or exc}",
                         slug="bill_unreadable") from None
    if stat.S_ISDIR(mode):
        raise UsageError(f"cannot read bill {path}: it is a directory", slug="bill_unreadable")
    if not stat.S_ISREG(mode):
        # A pipe (`<(zcat ...)`, /dev/stdin) can be read once only: spool it like stdin.
        try:
            with open(path, "rb") as pipe:
                return _spool(str(path), pipe)
        except OSError as exc:
            raise UsageError(f"cannot read bill {path}: {exc.strerror or exc}",
                             slug="bill_unreadable") from None
    return BillSource(str(path), path=path)


#: A spool file is named `wxshop-bill-<pid>-<random>.spool`; one whose process is gone and
#: that is older than this is the leftover of a killed run and is removed by the next one.
STALE_SPOOL_SECONDS = 60


def clean_stale_spools(directory: str | None = None) -> int:
    """Remove the spool files of killed runs (see STALE_SPOOL_SECONDS); returns how many."""
    import time

    removed = 0
    folder = Path(directory or tempfile.gettempdir())
    cutoff = time.time() - STALE_SPOOL_SECONDS
    for path in folder.glob("wxshop-bill-*.spool"):
        pid_text = path.name[len("wxshop-bill-"):].split("-", 1)[0]
        try:
            if not pid_text.isdigit() or path.stat().st_mtime > cutoff or _alive(int(pid_text)):
                continue
            path.unlink()
            removed += 1
        except OSError:  # gone meanwhile, or another user's
            continue
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _spool(name: str, stream: BinaryIO) -> BillSource:
    clean_stale_spools()
    buffer = bytearray()
    temp: Path | None = None
    spool = None
    try:
        while chunk := stream.read(_CHUNK):
            if spool is not None:
                spool.write(chunk)
                continue
            buffer += chunk
            if len(buffer) > _SPOOL_IN_MEMORY:
                spool = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below
                    prefix=f"wxshop-bill-{os.getpid()}-", suffix=".spool", delete=False)
                temp = Path(spool.name)
                spool.write(buffer)
                buffer = bytearray()
    except BaseException:
        if spool is not None:
            spool.close()
        if temp is not None:
            _unlink_quietly(temp)
        raise
    if spool is not None:
        spool.close()
        return BillSource(name, path=temp, temp=temp)
    return BillSource(name, data=bytes(buffer))
