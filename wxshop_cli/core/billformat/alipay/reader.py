"""`AlipayReader`: Alipay's 业务明细 streamed into ``BillRow``, checked as it goes
(docs/bills-alipay.md)."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import BinaryIO

from wxshop_cli.core.billformat.alipay.archive import open_detail
from wxshop_cli.core.billformat.alipay.grammar import (
    ACCOUNT,
    BOM,
    ENCODING,
    EXPORTED,
    HEADER_GBK,
    HEADER_UTF8,
    KINDS,
    LIST_END,
    LIST_START,
    MAX_LINE_BYTES,
    PERIOD,
    REENCODED,
    REQUIRED,
    TITLE,
    TITLE_UTF8,
    TOTAL,
    TOTAL_LABELS,
    TOTAL_PART,
    TRADE_NO,
    cn_time,
    column_name,
    signed_yuan,
)
from wxshop_cli.core.billformat.alipay.grammar import fault as _invalid
from wxshop_cli.core.billformat.faults import shown
from wxshop_cli.core.billformat.fields import (
    BadField,
    BillRow,
    BillSummary,
    Memo,
    parse_count,
    parse_time,
    yuan_text,
)
from wxshop_cli.core.text import describe, invisible_char


class AlipayReader:
    """Stream an Alipay 业务明细 (zip or CSV), validating as it goes: the ``BillStream`` of
    billformat.formats. The header lines are read by the constructor; iterating yields
    ``BillRow``; at the end the footer's 合计 lines are checked against the rows, so a
    completed iteration means the whole bill is valid. Any defect raises InvalidInput naming
    its line (of the CSV)."""

    bill_type = "ALL"
    layout = "alipay"
    checks_mch_id = False  # rows carry the Alipay account, which the shop does not keep

    def __init__(self, stream: BinaryIO) -> None:
        self._stream, self.name = open_detail(stream)
        self.line_no = 0
        self.rows_read = 0
        self.summary: BillSummary | None = None
        self._iterated = False
        #: Amount text → fen (amounts repeat heavily: ``0.00`` fills most columns).
        self._fen = Memo(signed_yuan, 1 << 16)
        title = self._line(first=True)
        if title is None:
            raise _invalid("the bill is empty")
        if title != TITLE:
            raise _invalid(f"expected the title line {TITLE}, got {shown(title)}", line=1)
        account = self._line()
        match = ACCOUNT.fullmatch(account or "")
        if match is None:
            raise _invalid(f"expected the account line #账号：[2088…], got {shown(account)}",
                           line=self.line_no)
        self.account = match.group(1)
        period = self._line()
        match = PERIOD.fullmatch(period or "")
        try:
            if match is None:
                raise ValueError
            self.period = (cn_time(match.groups()[:6]), cn_time(match.groups()[6:]))
        except ValueError:
            raise _invalid("expected the period line #起始日期：[YYYY年MM月DD日 HH:MM:SS]   "
                           f"终止日期：[…], got {shown(period)}", line=self.line_no) from None
        start, end = self.period
        #: The day the bill says it covers (Beijing), when its period is one day.
        self.covers = start.date() if end - start == dt.timedelta(days=1) else None
        rule = self._line()
        if rule is None or not rule.startswith("#-") or LIST_START not in rule:
            raise _invalid(f"expected the line #----{LIST_START}----, got {shown(rule)}",
                           line=self.line_no)
        header = self._line()
        if header is None:
            raise _invalid("the column header is missing: truncated download?",
                           line=self.line_no + 1)
        self.columns = tuple(column_name(name) for name in header.split(","))
        self._pos = self._positions(self.columns)

    # -- lines

    def _line(self, *, first: bool = False) -> str | None:
        raw = self._stream.readline(MAX_LINE_BYTES)
        if not raw:
            return None
        self.line_no += 1
        return self._decode(raw, first=first)

    def _decode(self, raw: bytes, *, first: bool = False) -> str:
        if len(raw) >= MAX_LINE_BYTES and not raw.endswith(b"\n"):
            raise _invalid(f"line longer than {MAX_LINE_BYTES} bytes", line=self.line_no)
        if first and raw.startswith(BOM):
            raw = raw[3:]
        if first and raw.startswith((TITLE_UTF8, HEADER_UTF8)):
            raise _invalid(f"this Alipay bill is UTF-8 text. {REENCODED}", line=1,
                           hint="download the bill again")
        if first and raw.startswith(HEADER_GBK):
            raise _invalid(f"the header lines ({TITLE}, #账号, #起始日期) are missing: the "
                           "bill starts with its column names", line=1)
        try:
            return raw.decode(ENCODING).rstrip("\r\n")
        except UnicodeDecodeError:
            raise _invalid("not GBK text", line=self.line_no) from None

    def _positions(self, columns: tuple[str, ...]) -> dict[str, int]:
        positions: dict[str, int] = {}
        for number, name in enumerate(columns):
            if name in positions and name:
                raise _invalid(f"column {name} appears twice in the header", line=self.line_no)
            positions[name] = number
        missing = [name for name in REQUIRED if name not in positions]
        if missing:
            raise _invalid(f"the 业务明细 header lacks required column(s): {', '.join(missing)}",
                           slug="bill_missing_columns", line=self.line_no)
        return positions

    # -- rows

    def __iter__(self) -> Iterator[BillRow]:
        if self._iterated:
            raise RuntimeError("an AlipayReader is iterated once; open the bill again")
        self._iterated = True
        return self._rows()

    def _rows(self) -> Iterator[BillRow]:
        sums = {"交易": [0, 0, 0], "退款": [0, 0, 0]}  # rows, 商家实收, 商家优惠
        fee = order = 0
        line: str | None = None
        while (line := self._line()) is not None:
            if line.startswith("#"):
                break
            if not line.strip():
                raise _invalid("empty line among the detail lines", line=self.line_no)
            row, received, discount = self._row(line)
            kind_sums = sums["交易" if row.kind == "payment" else "退款"]
            kind_sums[0] += 1
            kind_sums[1] += received
            kind_sums[2] += discount
            fee += row.fee_fen
            order += row.order_fen
            self.rows_read += 1
            yield row
        self._footer(line, sums)
        trades, refunds = sums["交易"], sums["退款"]
        self.summary = BillSummary(
            count=trades[0] + refunds[0], settlement_total_fen=trades[1],
            refund_total_fen=-refunds[1] if refunds[0] else 0, coupon_refund_total_fen=0,
            fee_total_fen=fee, order_total_fen=order, requested_refund_total_fen=None)

    def _fields(self, line: str) -> list[str]:
        fields = next(csv.reader([line])) if '"' in line else line.split(",")
        if len(fields) != len(self.columns):
            raise _invalid(f"{len(fields)} fields, the header has {len(self.columns)}",
                           slug="invalid_bill_row", line=self.line_no)
        fields = [field.strip() for field in fields]
        if "".join(fields).isprintable():  # one C pass for the common case
            return fields
        for number, field in enumerate(fields):
            if not field.isprintable() and (bad := invisible_char(field)) is not None:
                raise _invalid(f"column {number + 1}: bad {self.columns[number]} "
                               f"{shown(field)}: contains {describe(bad)}",
                               slug="invalid_bill_row", line=self.line_no,
                               hint="a bill field never holds control or invisible "
                                    "characters; download the bill again")
        return fields

    def _row(self, line: str) -> tuple[BillRow, int, int]:
        """The BillRow of a detail line, and its 商家实收 and 商家优惠 as printed (signed)."""
        fields = self._fields(line)
        pos = self._pos
        judged = [""]  # the column being judged, named by the error

        def get(name: str) -> str:
            judged[0] = name
            at = pos.get(name)
            return "" if at is None else fields[at]

        try:
            txn, out_trade_no, kind, done, amounts, refund_no = self._values(get, judged)
        except BadField as exc:
            column = judged[0]
            raise _invalid(f"bad {column} {shown(get(column))}: {exc.reason}",
                           slug="invalid_bill_row", line=self.line_no) from None
        order, received = amounts["订单金额（元）"], amounts["商家实收（元）"]
        discount = amounts["商家优惠（元）"]
        payment = kind == "payment"
        row = BillRow(
            line_no=self.line_no, kind=kind, trade_time=done, app_id=None,
            mch_id=self.account, sub_mch_id=None, transaction_id=txn,
            out_trade_no=out_trade_no, trade_state="SUCCESS" if payment else "REFUND",
            settlement_fen=received if payment else 0,
            coupon_fen=abs(discount),
            refund_no=refund_no or None, refund_fen=0 if payment else -order,
            refund_status=None if payment else "SUCCESS", product=get("商品名称") or None,
            attach=get("备注") or None, fee_fen=-amounts["服务费（元）"],
            order_fen=order if payment else 0,
            refund_succeeded_at=None if payment else done,
            device_info=get("终端号") or None)
        return row, received, discount

    def _values(self, get: Callable[[str], str], judged: list[str]
                ) -> tuple[str, str, str, dt.datetime, dict[str, int], str]:
        """A detail line's values, each checked (BadField names what is wrong; `judged[0]`
        is then the column): trade number, order number, kind, completion time, the four
        amounts used (fen, signed as printed) and the refund request number."""
        txn = get("支付宝交易号")
        if TRADE_NO(txn) is None:
            raise BadField("expected 16 to 64 digits")
        out_trade_no = get("商户订单号")
        if not 0 < len(out_trade_no) <= 64:
            raise BadField("expected 1 to 64 characters")
        kind = KINDS.get(get("业务类型"))
        if kind is None:
            raise BadField("expected 交易 or 退款")
        if created := get("创建时间"):
            parse_time(created)
        done = parse_time(get("完成时间"))
        fen = self._fen
        amounts = {name: fen[get(name)] for name in (
            "订单金额（元）", "商家实收（元）", "商家优惠（元）", "服务费（元）")}
        for name in ("支付宝红包（元）", "集分宝（元）", "支付宝优惠（元）", "券核销金额（元）",
                     "商家红包消费金额（元）", "卡消费金额（元）", "分润（元）"):
            fen[get(name)]  # checked, not kept
        sign = 1 if kind == "payment" else -1
        for name in ("订单金额（元）", "商家实收（元）"):
            judged[0] = name
            if amounts[name] * sign < 0:
                raise BadField("negative on a 交易 row" if sign > 0
                               else "positive on a 退款 row (refunds print negative)")
        judged[0] = "服务费（元）"
        if amounts["服务费（元）"] * sign > 0:
            raise BadField("positive on a 交易 row (the fee taken prints negative)"
                           if sign > 0 else "negative on a 退款 row")
        refund_no = get("退款批次号/请求号")
        if kind == "refund" and not 0 < len(refund_no) <= 64:
            raise BadField("a 退款 row needs its refund request number (1 to 64 characters)")
        if kind == "payment" and refund_no:
            raise BadField("a 交易 row has no refund request number")
        return txn, out_trade_no, kind, done, amounts, refund_no

    # -- footer

    def _footer(self, rule: str | None, sums: dict[str, list[int]]) -> None:
        if rule is None:
            raise _invalid(f"the bill ends without its footer (#----{LIST_END}----): "
                           "truncated download?", line=self.line_no + 1)
        if not rule.startswith("#-") or LIST_END not in rule:
            raise _invalid(f"expected a detail line or #----{LIST_END}----, got {shown(rule)}",
                           line=self.line_no)
        seen: dict[str, int] = {}
        while (line := self._line()) is not None:
            if not line.strip():
                continue
            if not line.startswith("#"):
                raise _invalid("unexpected text after the footer", line=self.line_no)
            match = TOTAL.fullmatch(line)
            if match is not None:
                self._check_total(match, sums[match.group(1)])
                seen[match.group(1)] = self.line_no
            elif not line.startswith(EXPORTED):
                raise _invalid(f"unexpected footer line {shown(line)}", line=self.line_no)
        missing = [f"#{kind}合计" for kind in ("交易", "退款") if kind not in seen]
        if missing:
            raise _invalid(f"the footer lacks {' and '.join(missing)}: truncated download?",
                           line=self.line_no + 1)

    def _check_total(self, match: re.Match[str], sums: list[int]) -> None:
        kind, count_text, rest = match.groups()
        try:
            count = parse_count(count_text)
        except BadField as exc:
            raise _invalid(f"bad #{kind}合计 count: {exc.reason}", line=self.line_no) from None
        problems = []
        if count != sums[0]:
            problems.append(f"#{kind}合计 says {count}笔 but the bill has {sums[0]} {kind} rows")
        for part in filter(None, re.split(r"[，,]", rest)):
            total = TOTAL_PART.fullmatch(part.strip())
            if total is None:
                raise _invalid(f"bad #{kind}合计 part {shown(part)}: expected …共12.34元",
                               line=self.line_no)
            label = total.group(1)
            field = TOTAL_LABELS.get(label)
            try:
                stated = signed_yuan(total.group(2))
            except BadField as exc:
                raise _invalid(f"bad {label}: {exc.reason}", line=self.line_no) from None
            if field is None:
                continue  # a total wxshop does not track
            summed = sums[1] if field == "received" else sums[2]
            if stated != summed:
                problems.append(f"{label}共 {yuan_text(stated)}元 but the rows sum to "
                                f"{yuan_text(summed)}")
        if problems:
            raise _invalid("; ".join(problems), slug="bill_does_not_add_up", line=self.line_no)
