"""Write a WeChat Pay trade bill (docs/bills-wechat.md) that `BillReader` reads back."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO

from wxshop_cli.core.billformat.fields import (
    BILL_TYPES,
    COLUMNS_BY_TYPE,
    SUMMARY_COLUMNS,
    TRADE_STATES,
    BillRow,
    BillSummary,
    fee_text,
    time_text,
    yuan_text,
)
from wxshop_cli.core.text import invisible_char
from wxshop_cli.money import MAX_FEN, format_rate, yuan

_CLEAN = str.maketrans({",": " ", "`": " ", "\r": " ", "\n": " ", "\x00": " "})
_AMOUNTS = ("settlement_fen", "coupon_fen", "order_fen", "refund_fen", "coupon_refund_fen",
            "requested_refund_fen")


def _text(value: str | None) -> str:
    """A text field as written: commas, backticks and line breaks become spaces."""
    if not value:
        return ""
    value = value.translate(_CLEAN)
    if value.isprintable():
        return value
    # The reader refuses control and invisible characters: write a space instead.
    return "".join(" " if invisible_char(c) else c for c in value)


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
        if bill_type not in COLUMNS_BY_TYPE:
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
        columns = COLUMNS_BY_TYPE[bill_type]
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
        self._check(row)
        self._write("`" + ",`".join(self._fields(row)) + "\r\n")
        self.rows_written += 1
        if row.kind == "payment":
            self._settlement += row.settlement_fen
        if self.bill_type != "SUCCESS":
            self._refund += row.refund_fen
            self._coupon_refund += row.coupon_refund_fen
            self._requested += row.requested_refund_fen
        self._fee += row.fee_fen
        self._order += row.order_fen

    def _check(self, row: BillRow) -> None:
        """ValueError unless the row fits this bill: its kind, trade state and amounts."""
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
        if row.trade_state not in TRADE_STATES:
            raise ValueError(f"trade state must be SUCCESS, REFUND or REVOKED, "
                             f"not {row.trade_state!r}")
        for name in _AMOUNTS:
            if not 0 <= getattr(row, name) <= MAX_FEN:
                raise ValueError(f"{name} must be 0..{MAX_FEN} fen, not {getattr(row, name)}")
        if not -MAX_FEN <= row.fee_fen <= MAX_FEN:
            raise ValueError(f"fee_fen must be within ±{MAX_FEN} fen, not {row.fee_fen}")
        if self.bill_type == "REFUND" and row.refund_requested_at is None:
            raise ValueError("a REFUND bill row needs refund_requested_at")

    def _fields(self, row: BillRow) -> list[str]:
        """The row's fields as text, in this bill type's column order."""
        head = [
            time_text(row.trade_time), _text(row.app_id), _text(row.mch_id),
            _text(row.sub_mch_id), _text(row.device_info), _text(row.transaction_id),
            _text(row.out_trade_no), _text(row.openid), _text(row.trade_type),
            _text(row.trade_state), _text(row.bank_code), _text(row.currency),
            yuan(row.settlement_fen), yuan(row.coupon_fen),
        ]
        tail = [_text(row.product), _text(row.attach), fee_text(row.fee_fen),
                self._rate_text(row.rate_ppm), yuan(row.order_fen)]
        if self.bill_type == "SUCCESS":
            return head + tail + [_text(row.rate_note)]
        if self.bill_type == "REFUND":
            assert row.refund_requested_at is not None  # _check
            head += [time_text(row.refund_requested_at),
                     time_text(row.refund_succeeded_at)
                     if row.refund_succeeded_at is not None else ""]
        empty = "0" if row.kind == "payment" else ""
        return head + [
            _text(row.refund_id) or empty, _text(row.refund_no) or empty,
            yuan(row.refund_fen), yuan(row.coupon_refund_fen), _text(row.refund_type),
            _text(row.refund_status),
        ] + tail + [yuan(row.requested_refund_fen), _text(row.rate_note)]

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
        values = [str(s.count), yuan_text(s.settlement_total_fen),
                  yuan_text(s.refund_total_fen), yuan_text(s.coupon_refund_total_fen),
                  fee_text(s.fee_total_fen), yuan_text(s.order_total_fen or 0),
                  yuan_text(s.requested_refund_total_fen or 0)]
        self._write("`" + ",`".join(values) + "\r\n")
        return s
