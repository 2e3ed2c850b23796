"""The header lines of a WeChat Pay trade bill: which column carries which field, in the
current layout and the older one, and what the summary header must name. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from wxshop_cli.core.billformat.faults import invalid
from wxshop_cli.core.billformat.fields import MONEY_FIELDS, REFUND_ONLY

# Canonical field → header names that may carry it (first present wins).
CURRENT_NAMES: dict[str, tuple[str, ...]] = {
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
LEGACY_NAMES = dict(CURRENT_NAMES)
LEGACY_NAMES.update({
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
_REFUND_MARKERS = frozenset(REFUND_ONLY) | {"代金券或立减优惠退款金额"}
_BILL_MARKERS = ("交易时间", "微信订单号", "商户订单号", "交易状态", "商户号")

SUMMARY_NAMES: dict[str, tuple[str, ...]] = {
    "count": ("总交易单数",),
    "settlement": ("应结订单总金额", "总交易额"),
    "refund": ("退款总金额", "总退款金额"),
    "coupon_refund": ("充值券退款总金额", "总代金券或立减优惠退款总金额",
                      "总代金券或立减优惠退款金额"),
    "fee": ("手续费总金额",),
    "order": ("订单总金额",),
    "requested_refund": ("申请退款总金额",),
}
SUMMARY_LABEL = {
    "count": "总交易单数", "settlement": "应结订单总金额", "refund": "退款总金额",
    "coupon_refund": "充值券退款总金额", "fee": "手续费总金额", "order": "订单总金额",
    "requested_refund": "申请退款总金额",
}
SUMMARY_FIRST = "总交易单数"


@dataclass(frozen=True, slots=True)
class Header:
    """A detail header, understood. ``positions`` maps every field to its column; an absent
    column points past the real fields at padding: ``len(columns)`` (None, for text) or
    ``len(columns) + 1`` (``0.00``, for money)."""

    bill_type: str  # ALL, SUCCESS or REFUND
    layout: str  # current or legacy
    columns: tuple[str, ...]
    sub_merchant_column: str | None
    labels: dict[str, str]  # field → its canonical header name
    positions: dict[str, int]


def read_header(header: str) -> Header:
    """Understand the first line of a bill (BOM already removed); InvalidInput if it is not
    a trade bill's header or lacks a column its bill type requires."""
    if header.startswith("#"):
        raise invalid(
            "not a WeChat Pay trade bill: it starts with a '#' comment line "
            "(an Alipay account statement such as #支付宝账务明细查询?)", line=1)
    if header.startswith("`"):
        raise invalid("the header line is missing: the file starts with a detail line", line=1)
    names = [name.strip() for name in header.split(",")]
    index = _index(names)
    legacy = "总金额" in index and "应结订单金额" not in index
    bill_type = _bill_type(index)
    table = LEGACY_NAMES if legacy else CURRENT_NAMES
    found = {field: next((index[c] for c in candidates if c in index), None)
             for field, candidates in table.items()}
    missing = [table[field][0] for field in _required(bill_type, legacy)
               if found[field] is None]
    if missing:
        raise invalid(
            f"the {bill_type} bill header lacks required column(s): {', '.join(missing)}",
            slug="bill_missing_columns", line=1)
    pad_none, pad_zero = len(names), len(names) + 1
    positions = {field: (pos if pos is not None else
                         pad_zero if field in MONEY_FIELDS else pad_none)
                 for field, pos in found.items()}
    return Header(
        bill_type=bill_type, layout="legacy" if legacy else "current", columns=tuple(names),
        sub_merchant_column=next((c for c in ("特约商户号", "子商户号") if c in index), None),
        labels={field: table[field][0] for field in table if table[field]},
        positions=positions)


def _index(names: list[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for position, name in enumerate(names):
        if name in index and name:
            raise invalid(f"column {name} appears twice in the header", line=1)
        index[name] = position
    if sum(marker in index for marker in _BILL_MARKERS) < 2:
        shown = ",".join(names[:6]) + (",…" if len(names) > 6 else "")
        raise invalid(f"not a WeChat Pay trade bill: unexpected header {shown!r}",
                      line=1, hint="expected a header starting 交易时间,公众账号ID,商户号")
    return index


def _bill_type(index: dict[str, int]) -> str:
    if "退款申请时间" in index or "退款成功时间" in index:
        return "REFUND"
    if any(name in _REFUND_MARKERS for name in index):
        return "ALL"
    return "SUCCESS"


def _required(bill_type: str, legacy: bool) -> list[str]:
    required = list(_REQUIRED_BASE)
    if not legacy:
        required += _REQUIRED_CURRENT
    if bill_type != "SUCCESS":
        required += _REQUIRED_REFUND
        if not legacy:
            required += _REQUIRED_REFUND_CURRENT
    if bill_type == "REFUND":
        required += _REQUIRED_REFUND_TIMES
    return required


def summary_positions(names: list[str], bill_type: str, layout: str,
                      line: int) -> dict[str, int | None]:
    """Field → column of a summary header; InvalidInput ``bill_missing_columns`` when it
    lacks a total the bill's type and layout have."""
    index = {name: position for position, name in enumerate(names)}
    positions = {field: next((index[c] for c in candidates if c in index), None)
                 for field, candidates in SUMMARY_NAMES.items()}
    needed = ["count", "settlement", "fee"]
    if bill_type != "SUCCESS":
        needed += ["refund", "coupon_refund"]
    if layout == "current":
        needed.append("order")
        if bill_type != "SUCCESS":
            needed.append("requested_refund")
    missing = [SUMMARY_LABEL[field] for field in needed if positions[field] is None]
    if missing:
        raise invalid(f"the summary header lacks {', '.join(missing)}",
                      slug="bill_missing_columns", line=line)
    return positions
