"""Stream a WeChat Pay trade bill, validating as it goes (docs/bills-wechat.md)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from operator import itemgetter
from typing import BinaryIO

from wxshop_cli.core.billformat.faults import invalid, invisible_fault, row_fault, shown
from wxshop_cli.core.billformat.fields import (
    ANY_TEXT,
    FIELD_PATTERNS,
    NO_REFUND_ID,
    BadField,
    BillRow,
    BillSummary,
    FenMemo,
    Memo,
    fee_text,
    fromisoformat,
    parse_count,
    parse_rate,
    parse_total_fee,
    parse_total_yuan,
    yuan_text,
)
from wxshop_cli.core.billformat.layout import (
    SUMMARY_FIRST,
    SUMMARY_LABEL,
    read_header,
    summary_positions,
)
from wxshop_cli.errors import InvalidInput

#: The longest line the reader accepts (a real detail line is a few hundred bytes).
MAX_LINE_BYTES = 64 * 1024

# The fields of a detail line in the order `_row_maker` unpacks them.
_ROW_FIELDS = ("trade_time", "app_id", "mch_id", "sub_mch_id", "device_info",
               "transaction_id", "out_trade_no", "openid", "trade_type", "trade_state",
               "bank_code", "currency", "settlement", "coupon", "refund_id", "refund_no",
               "refund", "coupon_refund", "refund_type", "refund_status", "product", "attach",
               "fee", "rate", "order", "requested_refund", "rate_note", "refund_requested_at",
               "refund_succeeded_at")


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

    checks_mch_id = True  # every row's 商户号 (or 特约商户号) is the shop's
    covers: dt.date | None = None  # a WeChat Pay bill names no day: its rows' times do

    def __init__(self, stream: BinaryIO) -> None:
        self._readline = partial(stream.readline, MAX_LINE_BYTES)
        self.line_no = 0
        self.rows_read = 0
        self.bytes_read = 0
        self.summary: BillSummary | None = None
        self.computed: BillSummary | None = None
        self._summary_line = 0
        self._summary_names: dict[str, str] = {}
        self._iterated = False
        text = self._next_line()
        if text is None:
            raise invalid("the bill is empty (no header line)")
        if text.startswith("\ufeff"):
            text = text[1:]
        if not text.strip():
            raise invalid("the bill is empty: its first line is blank, not the header", line=1)
        header = read_header(text)
        self.bill_type = header.bill_type
        self.layout = header.layout
        self.columns = header.columns
        self.sub_merchant_column = header.sub_merchant_column
        self._labels = header.labels
        self._pos = header.positions

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
            raise invalid(f"line longer than {MAX_LINE_BYTES} bytes", line=self.line_no)
        try:
            return raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            hint = None
            if self.line_no == 1:
                hint = "WeChat Pay bills are UTF-8; a GBK file is probably another export"
            raise invalid("not UTF-8 text", line=self.line_no, hint=hint) from None

    # -- rows

    def __iter__(self) -> Iterator[BillRow]:
        if self._iterated:
            raise RuntimeError("a BillReader is iterated once; open the bill again")
        self._iterated = True
        return self._rows()

    def _rows(self) -> Iterator[BillRow]:
        """Read detail lines up to the summary, keeping the running sums; then the summary."""
        make_row = self._row_maker()
        count = settlement = refund_sum = coupon_refund_sum = fee_sum = order_sum = req_sum = 0
        line_no = self.line_no
        nbytes = 0
        line: str | None = None
        try:
            for raw in iter(self._readline, b""):
                line_no += 1
                nbytes += len(raw)
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    line = None
                if line is None or raw[-1:] != b"\n" and len(raw) >= MAX_LINE_BYTES:
                    self.line_no = line_no
                    line = self._decode(raw)  # raises with the reason
                line = line.rstrip("\r\n")
                if line[:1] != "`":
                    break
                row = make_row(line, line_no)
                count += 1
                if row.kind == "payment":
                    settlement += row.settlement_fen
                refund_sum += row.refund_fen
                coupon_refund_sum += row.coupon_refund_fen
                fee_sum += row.fee_fen
                order_sum += row.order_fen
                req_sum += row.requested_refund_fen
                yield row
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

    def _row_maker(self) -> Callable[[str, int], BillRow]:
        """The parse of one detail line of this header, as a closure (its lookups are
        locals and cells): one regex judges every field's shape in C, one itemgetter puts
        the fields in `_ROW_FIELDS` order; values the regex cannot judge by shape (real
        dates, rates up to 100%, the row's kind against the bill type) are checked after.

        The row is filled by name, field by field, on an instance made without calling
        ``BillRow.__init__`` (which only assigns): a call with 31 keyword arguments costs
        ~4.5 µs in CPython 3.11, 31 positional ones ~1.6 µs, the assignments below ~0.7 µs
        (CONTRIBUTING, "The bill reader"). Every field is assigned; a test checks it."""
        match = line_pattern(self.columns, self._pos).fullmatch
        pick = itemgetter(*(self._pos[field] for field in _ROW_FIELDS))
        pad = (None, "0.00")  # what absent columns point at (see layout.Header)
        fen = FenMemo()  # shape already checked by the pattern: "3999.00" → 399900
        rates = Memo(parse_rate, 1 << 8)
        rates[""] = rates[None] = None  # empty or absent 费率
        fromiso = fromisoformat
        refund_bill, success_bill = self.bill_type == "REFUND", self.bill_type == "SUCCESS"
        row_error, invisible = self._row_error, self._invisible
        new_row = object.__new__

        def make_row(line: str, line_no: int) -> BillRow:
            if not line.isprintable() and (bad := invisible(line, line_no)):
                raise bad
            m = match(line)
            if m is None:
                raise row_error(line, line_no)
            (when, app, mch, sub, dev, txn, otn, openid, ttype, state, bank, cur, settle,
             coupon, rid, rno, refund, crefund, rtype, rstatus, product, attach, fee, rate,
             order, req, note, req_at, ok_at) = pick(m.groups() + pad)
            try:
                trade_time = fromiso(when)
                rate_ppm = rates[rate]
                req_time = fromiso(req_at) if refund_bill else None
                ok_time = fromiso(ok_at) if ok_at else None
                kind, rid, rno, rtype, rstatus = _classify(
                    state, rid, rno, rtype, rstatus, refund_bill, success_bill)
            except (ValueError, BadField):
                raise row_error(line, line_no) from None
            except _Misplaced as wrong:
                raise row_error(line, line_no, wrong.field, wrong.reason) from None
            row = new_row(BillRow)  # by name, without __init__: see the docstring
            row.line_no, row.kind, row.trade_state = line_no, kind, state
            row.trade_time, row.refund_requested_at, row.refund_succeeded_at = (
                trade_time, req_time, ok_time)
            row.app_id, row.mch_id, row.sub_mch_id, row.device_info = app, mch, sub, dev
            row.transaction_id, row.out_trade_no, row.openid = txn, otn, openid
            row.trade_type, row.bank_code, row.currency = ttype, bank, cur
            row.settlement_fen, row.coupon_fen, row.order_fen = (
                fen[settle], fen[coupon], fen[order])
            row.refund_id, row.refund_no, row.refund_type, row.refund_status = (
                rid, rno, rtype, rstatus)
            row.refund_fen, row.coupon_refund_fen, row.requested_refund_fen = (
                fen[refund], fen[crefund], fen[req])
            row.product, row.attach, row.rate_note = product, attach, note
            row.fee_fen, row.rate_ppm = fen[fee], rate_ppm
            return row

        return make_row

    def _invisible(self, line: str, line_no: int) -> InvalidInput | None:
        return invisible_fault(self.columns, line, line_no)

    def _row_error(self, line: str, line_no: int, field: str | None = None,
                   reason: str = "") -> InvalidInput:
        return row_fault(self.columns, self._pos, line, line_no, field, reason)

    # -- summary

    def _read_summary(self, header: str | None) -> None:
        if header is None:
            raise invalid(
                "the bill ends after its detail lines without the summary "
                f"({SUMMARY_FIRST},…): truncated download?", line=self.line_no + 1)
        if not header.strip():
            raise invalid("empty line where a detail line or the summary header was expected",
                          line=self.line_no)
        names = [name.strip() for name in header.split(",")]
        if names[0] != SUMMARY_FIRST:
            raise invalid(
                f"expected a detail line (fields start with a backtick) or the summary header "
                f"{SUMMARY_FIRST},…; got {shown(header)}", line=self.line_no)
        positions = summary_positions(names, self.bill_type, self.layout, self.line_no)
        totals = self._summary_totals(names, positions, self._summary_values(names))
        legacy = self.layout == "legacy"
        count, settlement, fee = totals["count"], totals["settlement"], totals["fee"]
        assert count is not None and settlement is not None and fee is not None  # required
        requested = totals["requested_refund"]
        self.summary = BillSummary(
            count=count, settlement_total_fen=settlement,
            # No refund columns (SUCCESS bill): no refunds, whatever the summary leaves out.
            refund_total_fen=totals["refund"] or 0,
            coupon_refund_total_fen=totals["coupon_refund"] or 0,
            fee_total_fen=fee,
            order_total_fen=None if legacy else totals["order"],
            requested_refund_total_fen=None if legacy else (requested or 0))
        self._summary_names = {field: names[pos] for field, pos in positions.items()
                               if pos is not None}
        while (rest := self._next_line()) is not None:
            if rest.strip():
                raise invalid("unexpected text after the summary", line=self.line_no)

    def _summary_values(self, names: list[str]) -> list[str]:
        """The line after the summary header, split into its backticked values."""
        header_line = self.line_no
        values_line = self._next_line()
        if values_line is None:
            raise invalid("the summary values line is missing: truncated download?",
                          line=header_line + 1)
        self._summary_line = self.line_no
        if values_line[:1] != "`":
            raise invalid("the summary values must start with a backtick", line=self.line_no)
        if values_line.count(",") != len(names) - 1:
            raise invalid(f"{values_line.count(',') + 1} summary values, the summary header "
                          f"has {len(names)}", line=self.line_no)
        values = values_line[1:].split(",`")
        if len(values) != len(names):
            raise invalid("every summary value must start with a backtick", line=self.line_no)
        return values

    def _summary_totals(self, names: list[str], positions: Mapping[str, int | None],
                        values: list[str]) -> dict[str, int | None]:
        totals: dict[str, int | None] = {}
        for field, position in positions.items():
            if position is None:
                totals[field] = None
                continue
            parse = (parse_count if field == "count" else
                     parse_total_fee if field == "fee" else parse_total_yuan)
            try:
                totals[field] = parse(values[position])
            except BadField as exc:
                raise invalid(f"bad {names[position]} {shown(values[position])}: "
                              f"{exc.reason}", line=self.line_no) from None
        return totals

    def check_totals(self) -> None:
        """Raise InvalidInput ``bill_does_not_add_up`` unless the summary equals the running
        sums of the rows (docs/bills-wechat.md). Run automatically when iteration completes."""
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
            name = self._summary_names.get(field, SUMMARY_LABEL[field])
            if field == "count":
                problems.append(f"{name} is {stated} but the bill has {summed} detail lines")
            else:
                show = fee_text if field == "fee" else yuan_text
                what = {"settlement": f"{self._labels['settlement']} of the payment rows",
                        "requested_refund": "申请退款金额"}.get(field) or self._labels[field]
                problems.append(f"{name} is {show(stated)} but {what} sums to {show(summed)}")
        if problems:
            raise invalid(f"bill does not add up: {problems[0]}", slug="bill_does_not_add_up",
                          line=self._summary_line,
                          details=problems if len(problems) > 1 else None)

    def validate(self) -> BillSummary:
        """Read (the rest of) the bill, checking every row and the totals; return the
        summary."""
        for _ in self:
            pass
        assert self.summary is not None
        return self.summary


class _Misplaced(Exception):
    """A row whose kind its bill type does not list, or a refund row without its ids."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


def _classify(state: str, rid: str | None, rno: str | None, rtype: str | None,
              rstatus: str | None, refund_bill: bool, success_bill: bool
              ) -> tuple[str, str | None, str | None, str | None, str | None]:
    """(kind, refund id, refund number, refund type, refund status) of a detail line: a
    payment's empty refund columns (``0`` or empty) become None."""
    if state == "SUCCESS" or (state == "REVOKED" and not refund_bill
                              and (rid is None or rid in NO_REFUND_ID)):
        if refund_bill:
            raise _Misplaced("trade_state", "a REFUND bill lists refunds only")
        return ("payment", None if rid in NO_REFUND_ID else rid,
                None if rno in NO_REFUND_ID else rno, rtype or None, rstatus or None)
    if success_bill:
        raise _Misplaced("trade_state", "a SUCCESS bill lists payments only")
    if rid in NO_REFUND_ID:
        raise _Misplaced("refund_id", "a refund row needs its refund id")
    if rno in NO_REFUND_ID:
        raise _Misplaced("refund_no", "a refund row needs its refund number")
    return "refund", rid, rno, rtype, rstatus


def line_pattern(columns: tuple[str, ...], positions: Mapping[str, int]) -> re.Pattern[str]:
    """One regex for a whole detail line of a header: it checks the shape of every field
    (backticks, field count, amounts, fees, times, ids, state) in C."""
    ncols = len(columns)
    by_position = {pos: field for field, pos in positions.items() if pos < ncols}
    parts = []
    for position in range(ncols):
        pattern = FIELD_PATTERNS.get(by_position.get(position, ""), ANY_TEXT)
        parts.append("`" + pattern)
    return re.compile(",".join(parts))
