"""Alipay's merchant trade bill (业务明细, docs/bills-alipay.md): read and written.

What Alipay serves for a day (bill_type ``trade``) is a zip holding the 业务明细 CSV, GBK
text with ``#`` header and footer lines; real downloads also hold a 业务明细(汇总) summary
CSV, which is ignored. The reader takes the zip as downloaded or the detail CSV taken out of
it, and yields the same ``BillRow`` the WeChat reader does, so `reconcile` matches it with the
same SQL and the same kinds of discrepancy:

- 交易 → a payment row (``trade_state`` SUCCESS), 退款 → a refund row (``refund_status``
  SUCCESS: the 业务明细 lists completed business only);
- 商户订单号 → ``out_trade_no``, 支付宝交易号 → ``transaction_id`` (a refund row carries its
  payment's), 退款批次号/请求号 → ``refund_no`` (``refund_id`` is None: Alipay has no refund
  number of its own in this bill);
- 订单金额 → ``order_fen`` (payment) or, negated, ``refund_fen`` (refund: the bill prints it
  negative); 商家实收 → ``settlement_fen``; 商家优惠 → ``coupon_fen``;
- 服务费 → ``fee_fen`` negated (the bill prints the fee taken as negative, the fee returned
  by a refund as positive; ``fee_fen`` is positive on payments as in WeChat bills);
- 完成时间 → ``trade_time`` (and ``refund_succeeded_at`` on refunds): the bill's day is the
  Beijing day of 完成时间. ``mch_id`` is the account of the ``#账号：[…]`` line (the shop keeps
  no Alipay account, so `reconcile` does not compare it). The buyer's masked account
  (对方账户) is not carried.

The bill type is ``ALL`` (payments and refunds). Pure: no database, no clock.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from typing import IO, BinaryIO

from wxshop_cli.core.billformat.faults import invalid, shown
from wxshop_cli.core.billformat.fields import (
    BadField,
    BillRow,
    BillSummary,
    Memo,
    parse_count,
    parse_time,
    parse_yuan,
    time_text,
    yuan_text,
)
from wxshop_cli.core.text import describe, invisible_char
from wxshop_cli.errors import InvalidInput

#: The encoding Alipay writes (GB 18030 decodes every GBK byte sequence the same way).
ENCODING = "gb18030"
TITLE = "#支付宝业务明细查询"
ACCOUNT_LABEL = "#账号"
PERIOD_LABEL = "#起始日期"
LIST_START = "业务明细列表"
LIST_END = "业务明细列表结束"
TRADE_TOTAL = "#交易合计"
REFUND_TOTAL = "#退款合计"
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
_BOM = b"\xef\xbb\xbf"

#: Zip bombs: the detail CSV is at most this many bytes once decompressed...
MAX_CSV_BYTES = 2 * 1024 * 1024 * 1024
#: ...and at most this many times its compressed size (a bill compresses 5-20 times; a run
#: of identical rows ~50).
MAX_RATIO = 200
#: Below this size the ratio is not judged (a tiny bill compresses erratically).
RATIO_FLOOR = 1024 * 1024
MAX_ENTRIES = 16
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
_REENCODED = ("Alipay bills are GBK; this one was re-encoded as UTF-8 (opened and saved by "
              "another program?): use the file as downloaded")


def _invalid(message: str, *, slug: str = "invalid_bill", line: int | None = None,
             hint: str | None = None) -> InvalidInput:
    return invalid(message, slug=slug, line=line, hint=hint or HINTS[slug])


def recognises(head: bytes) -> bool:
    """A zip (what Alipay serves), or the 业务明细 CSV itself in GBK or, to be refused with
    its reason, in UTF-8."""
    if head[:4] in ZIP_MAGIC:
        return True
    if head.startswith(_BOM):
        head = head[3:]
    return head.startswith((TITLE_GBK, TITLE_UTF8, HEADER_GBK, HEADER_UTF8))


# ------------------------------------------------------------------ the zip


class _Bounded:
    """The detail CSV's decompressed bytes, read line by line, refused past the zip-bomb
    bounds (MAX_CSV_BYTES, MAX_RATIO × the compressed size): checked on every line read,
    whatever the zip's headers declare."""

    def __init__(self, inner: IO[bytes], compressed: int, name: str) -> None:
        self._inner = inner
        self._limit = min(MAX_CSV_BYTES, max(RATIO_FLOOR, compressed * MAX_RATIO))
        self._name = name
        self.read_bytes = 0

    def readline(self, limit: int = -1) -> bytes:
        try:
            raw = self._inner.readline(limit)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
            raise _invalid(f"corrupt or truncated zip data in {self._name} ({exc})") from None
        self.read_bytes += len(raw)
        if self.read_bytes > self._limit:
            raise _invalid(
                f"{self._name} expands past {_size(self._limit)} (a zip bomb?)",
                hint="a day's 业务明细 is far smaller; download the bill again")
        return raw


def _size(nbytes: int) -> str:
    return (f"{nbytes // (1024 * 1024)} MiB" if nbytes < 1 << 30
            else f"{nbytes / (1 << 30):.0f} GiB")


def _first_line(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        with archive.open(info) as entry:
            return entry.readline(4096)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, ValueError,
            NotImplementedError) as exc:
        raise _invalid(f"corrupt, truncated or encrypted zip entry {info.filename} ({exc})"
                       ) from None


def open_detail(stream: BinaryIO) -> tuple[IO[bytes] | _Bounded, str]:
    """The detail CSV of an Alipay bill as a binary stream, and what to call it: the zip's
    one 业务明细 entry (other entries, such as 业务明细(汇总), are ignored), or the stream
    itself when it is the CSV."""
    head = stream.read(4)
    stream.seek(0)
    if head not in ZIP_MAGIC:
        return stream, "the bill"
    try:
        archive = zipfile.ZipFile(stream)
        entries = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise _invalid(f"corrupt or truncated zip ({exc})") from None
    if len(entries) > MAX_ENTRIES:
        raise _invalid(f"the zip holds {len(entries)} files; an Alipay bill holds two")
    details, reencoded = [], []
    for info in entries:
        first = _first_line(archive, info)
        if first.startswith(_BOM):
            first = first[3:]
        if first.startswith(TITLE_GBK):
            details.append(info)
        elif first.startswith((TITLE_UTF8, HEADER_UTF8)):
            reencoded.append(info)
    names = ", ".join(info.filename for info in entries) or "nothing"
    if not details:
        if reencoded:
            raise _invalid(f"{reencoded[0].filename} in the zip is UTF-8 text. {_REENCODED}",
                           hint="download the bill again")
        raise _invalid(f"the zip holds no Alipay 业务明细 CSV (#支付宝业务明细查询); it holds "
                       f"{names}")
    if len(details) > 1:
        raise _invalid(f"the zip holds {len(details)} 业务明细 CSVs "
                       f"({', '.join(info.filename for info in details)}); a bill is one "
                       "day's one CSV", hint="reconcile each day's bill on its own")
    info = details[0]
    if info.file_size > MAX_CSV_BYTES or (
            info.file_size > RATIO_FLOOR and info.file_size > info.compress_size * MAX_RATIO):
        raise _invalid(f"{info.filename} would expand to {info.file_size} bytes from "
                       f"{info.compress_size} (a zip bomb?)",
                       hint="a day's 业务明细 is far smaller; download the bill again")
    try:
        entry = archive.open(info)
    except (zipfile.BadZipFile, zlib.error, OSError, RuntimeError, ValueError,
            NotImplementedError) as exc:
        raise _invalid(f"cannot open {info.filename} in the zip ({exc})") from None
    return _Bounded(entry, info.compress_size, info.filename), info.filename


# ------------------------------------------------------------------ fields

_AMOUNT = re.compile(r"-?(?:0|[1-9][0-9]{0,7})\.[0-9]{2}", re.ASCII).fullmatch
_TRADE_NO = re.compile(r"[0-9]{16,64}", re.ASCII).fullmatch
_ACCOUNT = re.compile(r"#账号[：:]\[([0-9]{16,20})\]\s*")
_CN_TIME = r"([0-9]{4})年([0-9]{2})月([0-9]{2})日 ([0-9]{2}):([0-9]{2}):([0-9]{2})"
_PERIOD = re.compile(rf"#起始日期[：:]\[{_CN_TIME}\]\s*终止日期[：:]\[{_CN_TIME}\]\s*")
_TOTAL = re.compile(r"#(交易|退款)合计[：:]([0-9]+)笔((?:[，,][^，,]*)*)\s*")
_TOTAL_PART = re.compile(r"(.+)共(-?[0-9]+\.[0-9]{2})元")
#: Labels of the totals after the count: 商家实收 and 商家优惠 (refund lines say 退款).
_TOTAL_LABELS = {"商家实收": "received", "商家实收退款": "received", "商家优惠": "discount",
                 "商家优惠退款": "discount"}


def signed_yuan(text: str) -> int:
    """``-0.01`` → -1; empty → 0 (columns Alipay leaves blank)."""
    if text == "":
        return 0
    if _AMOUNT(text) is None:
        raise BadField("expected yuan with two decimals, e.g. 35.80 or -35.80")
    return -parse_yuan(text[1:]) if text[0] == "-" else parse_yuan(text)


def _column_name(name: str) -> str:
    """Header names as published (full-width parentheses); ASCII ones are read the same."""
    return name.strip().replace("(", "（").replace(")", "）")


def _cn_time(groups: tuple[str, ...]) -> dt.datetime:
    year, month, day, hour, minute, second = (int(g) for g in groups)
    return dt.datetime(year, month, day, hour, minute, second)


# ------------------------------------------------------------------ the reader


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
        match = _ACCOUNT.fullmatch(account or "")
        if match is None:
            raise _invalid(f"expected the account line #账号：[2088…], got {shown(account)}",
                           line=self.line_no)
        self.account = match.group(1)
        period = self._line()
        match = _PERIOD.fullmatch(period or "")
        try:
            if match is None:
                raise ValueError
            self.period = (_cn_time(match.groups()[:6]), _cn_time(match.groups()[6:]))
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
        self.columns = tuple(_column_name(name) for name in header.split(","))
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
        if first and raw.startswith(_BOM):
            raw = raw[3:]
        if first and raw.startswith((TITLE_UTF8, HEADER_UTF8)):
            raise _invalid(f"this Alipay bill is UTF-8 text. {_REENCODED}", line=1,
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
        column = ""

        def get(name: str) -> str:
            nonlocal column
            column = name
            at = pos.get(name)
            return "" if at is None else fields[at]

        try:
            txn = get("支付宝交易号")
            if _TRADE_NO(txn) is None:
                raise BadField("expected 16 to 64 digits")
            out_trade_no = get("商户订单号")
            if not 0 < len(out_trade_no) <= 64:
                raise BadField("expected 1 to 64 characters")
            kind = KINDS.get(get("业务类型"))
            if kind is None:
                raise BadField("expected 交易 or 退款")
            created = get("创建时间")
            if created:
                parse_time(created)
            done = parse_time(get("完成时间"))
            fen = self._fen
            amounts = {}
            for name in ("订单金额（元）", "商家实收（元）", "商家优惠（元）", "服务费（元）"):
                amounts[name] = fen[get(name)]
            for name in ("支付宝红包（元）", "集分宝（元）", "支付宝优惠（元）", "券核销金额（元）",
                         "商家红包消费金额（元）", "卡消费金额（元）", "分润（元）"):
                fen[get(name)]  # checked, not kept
            refund_no = get("退款批次号/请求号")
            sign = 1 if kind == "payment" else -1
            for name in ("订单金额（元）", "商家实收（元）"):
                column = name
                if amounts[name] * sign < 0:
                    raise BadField("negative on a 交易 row" if sign > 0
                                   else "positive on a 退款 row (refunds print negative)")
            column = "服务费（元）"
            if amounts[column] * sign > 0:
                raise BadField("positive on a 交易 row (the fee taken prints negative)"
                               if sign > 0 else "negative on a 退款 row")
            column = "退款批次号/请求号"
            if kind == "refund" and not 0 < len(refund_no) <= 64:
                raise BadField("a 退款 row needs its refund request number (1 to 64 characters)")
            if kind == "payment" and refund_no:
                raise BadField("a 交易 row has no refund request number")
        except BadField as exc:
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
            match = _TOTAL.fullmatch(line)
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
            total = _TOTAL_PART.fullmatch(part.strip())
            if total is None:
                raise _invalid(f"bad #{kind}合计 part {shown(part)}: expected …共12.34元",
                               line=self.line_no)
            label = total.group(1)
            field = _TOTAL_LABELS.get(label)
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


# ------------------------------------------------------------------ the writer


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
                     f"#起始日期：[{_cn(start)}]   终止日期：[{_cn(end)}]",
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
            f"#导出时间：[{_cn(exported_at)}]"])
        return BillSummary(count=trades[0] + refunds[0], settlement_total_fen=trades[1],
                           refund_total_fen=-refunds[1], coupon_refund_total_fen=0,
                           fee_total_fen=self.fee_fen, order_total_fen=self.order_fen,
                           requested_refund_total_fen=None)


def _cn(value: dt.datetime) -> str:
    """``2013年11月11日 00:00:00`` (naive Beijing; aware times converted)."""
    text = time_text(value)
    return f"{text[:4]}年{text[5:7]}月{text[8:10]}日 {text[11:]}"
