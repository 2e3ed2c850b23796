"""`AlipayWriter`: an Alipay 业务明细 CSV (GBK text, CRLF) as `bill export --format alipay`
writes it (docs/bills-alipay.md, "What wxshop's own bills fill in")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import BinaryIO

from wxshop_cli.core.billformat.alipay.grammar import (
    COLUMNS,
    ENCODING,
    LIST_END,
    LIST_START,
    TAB_PADDED,
    TITLE,
    cn_text,
)
from wxshop_cli.core.billformat.fields import BillRow, BillSummary, time_text, yuan_text
from wxshop_cli.core.text import invisible_char


def _clean(value: str | None) -> str:
    if not value:
        return ""
    value = value.replace(",", " ").replace("\r", " ").replace("\n", " ").replace('"', " ")
    if value.isprintable():
        return value
    return "".join(" " if invisible_char(c) else c for c in value)


class AlipayWriter:
    """Write an Alipay 业务明细 CSV (GBK text, CRLF) to a binary stream: the header lines at
    once, ``write(row)`` a detail line, ``finish(exported_at)`` the footer with totals of the
    rows written. Rows are ``BillRow`` as the reader yields them; ``created`` is the 创建时间
    of each (the payment's creation, also on its refunds)."""

    def __init__(self, stream: BinaryIO, account: str, start: dt.datetime) -> None:
        self._stream = stream
        self.rows_written = 0
        self._sums = {"payment": [0, 0, 0], "refund": [0, 0, 0]}
        self.fee_fen = self.order_fen = 0
        end = start + dt.timedelta(days=1)
        rule = "-" * 41
        self._lines([TITLE, f"#账号：[{account}]",
                     f"#起始日期：[{cn_text(start)}]   终止日期：[{cn_text(end)}]",
                     f"#{rule}{LIST_START}{rule[:-1]}", ",".join(COLUMNS)])

    def _lines(self, lines: Iterable[str]) -> None:
        self._stream.write("".join(line + "\r\n" for line in lines).encode(ENCODING))

    def write(self, row: BillRow, created: dt.datetime | None = None) -> None:
        payment = row.kind == "payment"
        sign = 1 if payment else -1
        order = row.order_fen if payment else -row.refund_fen
        received = row.settlement_fen if payment else -row.refund_fen
        discount = row.coupon_fen * sign
        values = {
            "支付宝交易号": row.transaction_id, "商户订单号": _clean(row.out_trade_no),
            "业务类型": "交易" if payment else "退款", "商品名称": _clean(row.product),
            "创建时间": time_text(created or row.trade_time),
            "完成时间": time_text(row.trade_time), "终端号": _clean(row.device_info),
            "订单金额（元）": yuan_text(order), "商家实收（元）": yuan_text(received),
            "商家优惠（元）": yuan_text(discount), "退款批次号/请求号": _clean(row.refund_no),
            "服务费（元）": yuan_text(-row.fee_fen), "备注": _clean(row.attach),
        }
        fields = []
        for name in COLUMNS:
            value = values.get(name, "0.00" if name.endswith("（元）") else "")
            fields.append(value + "\t" if name in TAB_PADDED else value)
        self._lines([",".join(fields)])
        sums = self._sums[row.kind]
        sums[0] += 1
        sums[1] += received
        sums[2] += discount
        self.fee_fen += row.fee_fen
        self.order_fen += row.order_fen if payment else 0
        self.rows_written += 1

    def finish(self, exported_at: dt.datetime) -> BillSummary:
        trades, refunds = self._sums["payment"], self._sums["refund"]
        rule = "-" * 41
        self._lines([
            f"#{rule}{LIST_END}{rule[:-5]}",
            f"#交易合计：{trades[0]}笔，商家实收共{yuan_text(trades[1])}元，"
            f"商家优惠共{yuan_text(trades[2])}元",
            f"#退款合计：{refunds[0]}笔，商家实收退款共{yuan_text(refunds[1])}元，"
            f"商家优惠退款共{yuan_text(refunds[2])}元",
            f"#导出时间：[{cn_text(exported_at)}]"])
        return BillSummary(count=trades[0] + refunds[0], settlement_total_fen=trades[1],
                           refund_total_fen=-refunds[1], coupon_refund_total_fen=0,
                           fee_total_fen=self.fee_fen, order_total_fen=self.order_fen,
                           requested_refund_total_fen=None)
