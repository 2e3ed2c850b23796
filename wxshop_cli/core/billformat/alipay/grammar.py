"""The grammar of Alipay's 业务明细 (docs/bills-alipay.md): its fixed lines and columns, how
it is recognised, and every field's text. Pure: no I/O."""

from __future__ import annotations

import datetime as dt
import re

from wxshop_cli.core.billformat.faults import invalid
from wxshop_cli.core.billformat.fields import BadField, parse_yuan, time_text
from wxshop_cli.errors import InvalidInput

#: The encoding Alipay writes (GB 18030 decodes every GBK byte sequence the same way).
ENCODING = "gb18030"
TITLE = "#支付宝业务明细查询"
LIST_START = "业务明细列表"
LIST_END = "业务明细列表结束"
EXPORTED = "#导出时间"
COLUMNS: tuple[str, ...] = (
    "支付宝交易号", "商户订单号", "业务类型", "商品名称", "创建时间", "完成时间", "门店编号",
    "门店名称", "操作员", "终端号", "对方账户", "订单金额（元）", "商家实收（元）",
    "支付宝红包（元）", "集分宝（元）", "支付宝优惠（元）", "商家优惠（元）", "券核销金额（元）",
    "券名称", "商家红包消费金额（元）", "卡消费金额（元）", "退款批次号/请求号", "服务费（元）",
    "分润（元）", "备注",
)
REQUIRED = ("支付宝交易号", "商户订单号", "业务类型", "完成时间", "订单金额（元）",
            "商家实收（元）", "商家优惠（元）", "退款批次号/请求号", "服务费（元）")
#: Columns whose values Alipay pads with a tab (so that a spreadsheet keeps them as text).
TAB_PADDED = frozenset({"支付宝交易号", "商户订单号", "业务类型", "门店编号", "门店名称",
                        "操作员", "终端号", "对方账户", "商家红包消费金额（元）",
                        "退款批次号/请求号"})
KINDS = {"交易": "payment", "退款": "refund"}

#: The GBK / UTF-8 spellings of the first line, for recognising the format by content.
TITLE_GBK = TITLE.encode(ENCODING)
TITLE_UTF8 = TITLE.encode("utf-8")
HEADER_GBK = "支付宝交易号,".encode(ENCODING)
HEADER_UTF8 = "支付宝交易号,".encode()
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip with entries / an empty zip
BOM = b"\xef\xbb\xbf"

#: The longest line read (a real detail line is a few hundred bytes).
MAX_LINE_BYTES = 64 * 1024

HINTS = {
    "invalid_bill": "reconcile takes Alipay's 业务明细 as downloaded: the zip, or the GBK CSV in "
                    "it (docs/bills-alipay.md)",
    "invalid_bill_row": "the bill is damaged at that line; download it again",
    "bill_does_not_add_up": "the footer's 合计 lines must equal the detail lines; download the "
                            "bill again",
    "bill_missing_columns": "Alipay's 业务明细 has these columns (docs/bills-alipay.md)",
}
REENCODED = ("Alipay bills are GBK; this one was re-encoded as UTF-8 (opened and saved by "
              "another program?): use the file as downloaded")


def fault(message: str, *, slug: str = "invalid_bill", line: int | None = None,
             hint: str | None = None) -> InvalidInput:
    return invalid(message, slug=slug, line=line, hint=hint or HINTS[slug])


def recognises(head: bytes) -> bool:
    """A zip (what Alipay serves), or the 业务明细 CSV itself in GBK or, to be refused with
    its reason, in UTF-8."""
    if head[:4] in ZIP_MAGIC:
        return True
    if head.startswith(BOM):
        head = head[3:]
    return head.startswith((TITLE_GBK, TITLE_UTF8, HEADER_GBK, HEADER_UTF8))





AMOUNT = re.compile(r"-?(?:0|[1-9][0-9]{0,7})\.[0-9]{2}", re.ASCII).fullmatch
TRADE_NO = re.compile(r"[0-9]{16,64}", re.ASCII).fullmatch
ACCOUNT = re.compile(r"#账号[：:]\[([0-9]{16,20})\]\s*")
CN_TIME = r"([0-9]{4})年([0-9]{2})月([0-9]{2})日 ([0-9]{2}):([0-9]{2}):([0-9]{2})"
PERIOD = re.compile(rf"#起始日期[：:]\[{CN_TIME}\]\s*终止日期[：:]\[{CN_TIME}\]\s*")
TOTAL = re.compile(r"#(交易|退款)合计[：:]([0-9]+)笔((?:[，,][^，,]*)*)\s*")
TOTAL_PART = re.compile(r"(.+)共(-?[0-9]+\.[0-9]{2})元")
#: Labels of the totals after the count: 商家实收 and 商家优惠 (refund lines say 退款).
TOTAL_LABELS = {"商家实收": "received", "商家实收退款": "received", "商家优惠": "discount",
                 "商家优惠退款": "discount"}


def signed_yuan(text: str) -> int:
    """``-0.01`` → -1; empty → 0 (columns Alipay leaves blank)."""
    if text == "":
        return 0
    if AMOUNT(text) is None:
        raise BadField("expected yuan with two decimals, e.g. 35.80 or -35.80")
    return -parse_yuan(text[1:]) if text[0] == "-" else parse_yuan(text)


def column_name(name: str) -> str:
    """Header names as published (full-width parentheses); ASCII ones are read the same."""
    return name.strip().replace("(", "（").replace(")", "）")


def cn_time(groups: tuple[str, ...]) -> dt.datetime:
    year, month, day, hour, minute, second = (int(g) for g in groups)
    return dt.datetime(year, month, day, hour, minute, second)


def cn_text(value: dt.datetime) -> str:
    """``2013年11月11日 00:00:00`` (naive Beijing; aware times converted)."""
    text = time_text(value)
    return f"{text[:4]}年{text[5:7]}月{text[8:10]}日 {text[11:]}"
