"""`bill export`: the sandbox gateway's ledger for one Beijing day as a WeChat Pay trade bill
(docs/bills-wechat.md, SPEC section 9).

The rows come from the gateway's own tables (`gw_payment`, `gw_refund`), never from the
merchant's orders: the bill is the platform's word, which reconciliation then checks against
the book. They are streamed from the database (`yield_per`: a server-side cursor on
PostgreSQL, SQLite's lazy cursor) and written one at a time by `BillWriter`, so a day of a
million payments never sits in memory.

- A payment is billed on the Beijing day of its success time (`paid_at`). A payment the bank
  timed out on (`PENDING`) did take the money, so it is billed as `SUCCESS`.
- A refund is billed on the Beijing day it was requested at the gateway (`created_at`), in
  every state the gateway has for it (`SUCCESS`, `PROCESSING`, `CLOSED`, `ABNORMAL`). In `ALL`
  bills its 交易时间 is that refund time; in `REFUND` bills 交易时间 is the payment's time and
  the refund's times are in 退款申请时间 / 退款成功时间.
- Payments and refunds are merged in time order (real bills are not sorted; ours are).

`--format alipay` writes the same ledger as Alipay's 业务明细 (docs/bills-alipay.md): a zip
holding one GBK CSV (`write_alipay_bill`). It lists payments on the Beijing day of their
success time and the refunds that succeeded that day (Alipay's 业务明细 lists completed
business only: a refund still PROCESSING, CLOSED or ABNORMAL is not in it). The sandbox's
Alipay account is ``2088`` + the 商户号 on twelve digits + ``0156``; the export time printed
(and the zip's file time) is 06:00 the next morning, so the same ledger gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import heapq
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from sqlalchemy import select

from wxshop_cli.clock import beijing_day_bounds
from wxshop_cli.core.billformat import BILL_TYPES, BillRow, BillSummary, BillWriter
from wxshop_cli.core.billformat.alipay import AlipayWriter
from wxshop_cli.db.models import GatewayPayment, GatewayRefund, MerchantSettings

if TYPE_CHECKING:
    from sqlmodel import Session

#: Rows fetched per round trip while streaming a day out of the database.
FETCH_ROWS = 2000
_FLUSH_BYTES = 1 << 16
_BILLED_PAYMENTS = ("SUCCESS", "PENDING")  # PENDING: the bank took the money, unanswered


@dataclass
class ExportResult:
    bill_date: dt.date
    bill_type: str
    payments: int
    refunds: int
    summary: BillSummary
    sha256: str  # of the bill's (decompressed) text, as `reconcile` keys its runs
    size: int  # bytes of that text
    format: str = "wechat"

    def public(self) -> dict[str, Any]:
        s = self.summary
        return {
            "format": self.format,
            "bill_date": self.bill_date.isoformat(),
            "bill_type": self.bill_type,
            "rows": s.count,
            "payments": self.payments,
            "refunds": self.refunds,
            "totals": {
                "settlement_fen": s.settlement_total_fen,
                "refund_fen": s.refund_total_fen,
                "coupon_refund_fen": s.coupon_refund_total_fen,
                "fee_fen": s.fee_total_fen,
                "order_fen": s.order_total_fen or 0,
                "requested_refund_fen": s.requested_refund_total_fen or 0,
            },
            "sha256": self.sha256,
            "bytes": self.size,
        }


class HashingSink:
    """A text stream for BillWriter: encodes UTF-8, hashes the text (the SHA-256 that
    `reconcile` computes of a decompressed bill) and writes it to a binary stream in 64 KiB
    pieces."""

    def __init__(self, binary: BinaryIO) -> None:
        self._binary = binary
        self._hash = hashlib.sha256()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self.size = 0

    def write(self, text: str) -> int:
        data = text.encode("utf-8")
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes >= _FLUSH_BYTES:
            self.flush()
        return len(text)

    def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._hash.update(data)
            self._binary.write(data)
            self.size += len(data)
            self._pending.clear()
            self._pending_bytes = 0

    @property
    def sha256(self) -> str:
        self.flush()
        return self._hash.hexdigest()


def check_bill_type(bill_type: str) -> str:
    upper = bill_type.upper()
    if upper not in BILL_TYPES:
        from wxshop_cli.errors import UsageError

        raise UsageError(f"bill type must be one of {', '.join(BILL_TYPES)}, not {bill_type!r}",
                         slug="usage")
    return upper


def _payment_rows(conn, settings: MerchantSettings, start: dt.datetime,
                  end: dt.datetime) -> Iterator[tuple[dt.datetime, int, BillRow]]:
    p = GatewayPayment.__table__.c
    query = (select(p.paid_at, p.transaction_id, p.out_trade_no, p.openid, p.bank_code,
                    p.product, p.amount_fen, p.fee_fen, p.rate_ppm)
             .where(p.status.in_(_BILLED_PAYMENTS), p.paid_at >= start, p.paid_at < end,
                    p.transaction_id.is_not(None))
             .order_by(p.paid_at, p.out_trade_no)
             .execution_options(yield_per=FETCH_ROWS))
    app_id, mch_id = settings.app_id, settings.mch_id
    for (paid_at, txn, out_trade_no, openid, bank, product, amount, fee,
         rate) in conn.execute(query):
        yield paid_at, 0, BillRow(
            line_no=0, kind="payment", trade_time=paid_at, app_id=app_id, mch_id=mch_id,
            sub_mch_id="0", transaction_id=txn, out_trade_no=out_trade_no, openid=openid,
            trade_type="JSAPI", trade_state="SUCCESS", bank_code=bank, currency="CNY",
            settlement_fen=amount, product=product, fee_fen=fee, rate_ppm=rate,
            order_fen=amount)


def _refund_rows(conn, settings: MerchantSettings, start: dt.datetime, end: dt.datetime,
                 bill_type: str) -> Iterator[tuple[dt.datetime, int, BillRow]]:
    r = GatewayRefund.__table__.c
    p = GatewayPayment.__table__.c
    query = (select(r.created_at, r.succeeded_at, r.refund_id, r.out_refund_no, r.amount_fen,
                    r.fee_fen, r.status, p.paid_at, p.created_at.label("charged_at"),
                    p.transaction_id, p.out_trade_no, p.openid, p.bank_code, p.product,
                    p.rate_ppm)
             .join_from(GatewayRefund.__table__, GatewayPayment.__table__,
                        p.out_trade_no == r.out_trade_no)
             .where(r.created_at >= start, r.created_at < end, p.transaction_id.is_not(None))
             .order_by(r.created_at, r.refund_id)
             .execution_options(yield_per=FETCH_ROWS))
    app_id, mch_id = settings.app_id, settings.mch_id
    refund_bill = bill_type == "REFUND"
    for (created_at, succeeded_at, refund_id, refund_no, amount, fee, status, paid_at,
         charged_at, txn, out_trade_no, openid, bank, product, rate) in conn.execute(query):
        paid = paid_at or charged_at
        yield created_at, 1, BillRow(
            line_no=0, kind="refund", trade_time=paid if refund_bill else created_at,
            app_id=app_id, mch_id=mch_id, sub_mch_id="0", transaction_id=txn,
            out_trade_no=out_trade_no, openid=openid, trade_type="JSAPI",
            trade_state="REFUND", bank_code=bank, currency="CNY", settlement_fen=0,
            refund_id=refund_id, refund_no=refund_no, refund_fen=amount, refund_type="ORIGINAL",
            refund_status=status, product=product, fee_fen=fee, rate_ppm=rate, order_fen=0,
            requested_refund_fen=amount, refund_requested_at=created_at,
            refund_succeeded_at=succeeded_at)


def write_bill(session: Session, day: dt.date, bill_type: str, binary: BinaryIO, *,
               compress: bool = False) -> ExportResult:
    """Write the bill of `day` (Beijing) to a binary stream, gzip-compressed if asked, streaming
    the rows out of the caller's (read-only) transaction."""
    start, end = beijing_day_bounds(day)
    target: BinaryIO = binary
    zipper = None
    if compress:
        zipper = gzip.GzipFile(fileobj=binary, mode="wb", mtime=0, filename="")
        target = zipper  # type: ignore[assignment]
    sink = HashingSink(target)
    payments = refunds = 0
    settings = session.get_one(MerchantSettings, 1)
    conn = session.connection()
    writer = BillWriter(sink, bill_type)  # type: ignore[arg-type]
    streams = []
    if bill_type != "REFUND":
        streams.append(_payment_rows(conn, settings, start, end))
    if bill_type != "SUCCESS":
        streams.append(_refund_rows(conn, settings, start, end, bill_type))
    for _, kind, row in heapq.merge(*streams, key=lambda item: (item[0], item[1])):
        writer.write(row)
        if kind == 0:
            payments += 1
        else:
            refunds += 1
    summary = writer.finish()
    digest = sink.sha256  # flushes
    if zipper is not None:
        zipper.close()
    binary.flush()
    return ExportResult(day, bill_type, payments, refunds, summary, digest, sink.size)


# ------------------------------------------------------------------ Alipay


def alipay_account(mch_id: str) -> str:
    """The sandbox's Alipay account of the merchant (see the module docstring)."""
    digits = "".join(c for c in mch_id if c.isdigit())
    return "2088" + digits.zfill(12)[-12:] + "0156"


class _HashingBinary:
    """A binary sink for the zip: hashes and counts what passes (`reconcile` keys its runs by
    the SHA-256 of the file as given, and a zip is not decompressed for that). Offers `tell`
    but not `seek`, so the zip is written as a stream (data descriptors), stdout included."""

    def __init__(self, binary: BinaryIO) -> None:
        self._binary = binary
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self._binary.write(data)
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._binary.flush()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


def _alipay_rows(conn, start: dt.datetime, end: dt.datetime
                 ) -> Iterator[tuple[dt.datetime, int, BillRow, dt.datetime]]:
    """(time, order, row, 创建时间): payments by success time, SUCCESS refunds by theirs."""
    p = GatewayPayment.__table__.c
    r = GatewayRefund.__table__.c
    payments = (select(p.paid_at, p.created_at, p.transaction_id, p.out_trade_no, p.product,
                       p.amount_fen, p.fee_fen)
                .where(p.status.in_(_BILLED_PAYMENTS), p.paid_at >= start, p.paid_at < end,
                       p.transaction_id.is_not(None))
                .order_by(p.paid_at, p.out_trade_no)
                .execution_options(yield_per=FETCH_ROWS))
    refunds = (select(r.succeeded_at, p.created_at, p.transaction_id, p.out_trade_no,
                      p.product, r.out_refund_no, r.amount_fen, r.fee_fen)
               .join_from(GatewayRefund.__table__, GatewayPayment.__table__,
                          p.out_trade_no == r.out_trade_no)
               .where(r.status == "SUCCESS", r.succeeded_at >= start, r.succeeded_at < end,
                      p.transaction_id.is_not(None))
               .order_by(r.succeeded_at, r.refund_id)
               .execution_options(yield_per=FETCH_ROWS))

    def paid() -> Iterator[tuple[dt.datetime, int, BillRow, dt.datetime]]:
        for paid_at, created, txn, otn, product, amount, fee in conn.execute(payments):
            yield paid_at, 0, BillRow(
                line_no=0, kind="payment", trade_time=paid_at, app_id=None, mch_id="",
                sub_mch_id=None, transaction_id=txn, out_trade_no=otn, product=product,
                settlement_fen=amount, order_fen=amount, fee_fen=fee), created

    def refunded() -> Iterator[tuple[dt.datetime, int, BillRow, dt.datetime]]:
        for done, created, txn, otn, product, refund_no, amount, fee in conn.execute(refunds):
            yield done, 1, BillRow(
                line_no=0, kind="refund", trade_time=done, app_id=None, mch_id="",
                sub_mch_id=None, transaction_id=txn, out_trade_no=otn, trade_state="REFUND",
                product=product, refund_no=refund_no, refund_fen=amount,
                refund_status="SUCCESS", fee_fen=fee, refund_succeeded_at=done), created

    return heapq.merge(paid(), refunded(), key=lambda item: (item[0], item[1]))


def write_alipay_bill(session: Session, day: dt.date, binary: BinaryIO) -> ExportResult:
    """Write the ledger of `day` (Beijing) as Alipay's 业务明细: a zip of one GBK CSV, streaming
    the rows out of the caller's (read-only) transaction."""
    start, end = beijing_day_bounds(day)
    midnight = dt.datetime.combine(day, dt.time())
    exported = midnight + dt.timedelta(days=1, hours=6)
    sink: Any = _HashingBinary(binary)  # file-like enough for a zip written as a stream
    payments = refunds = 0
    settings = session.get_one(MerchantSettings, 1)
    account = alipay_account(settings.mch_id)
    name = f"{account}_{day:%Y%m%d}_业务明细.csv"
    info = zipfile.ZipInfo(name, date_time=exported.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(sink, "w") as archive, \
            archive.open(info, "w", force_zip64=True) as entry:
        writer = AlipayWriter(entry, account, midnight)  # type: ignore[arg-type]
        for _, kind, row, created in _alipay_rows(session.connection(), start, end):
            writer.write(row, created)
            if kind == 0:
                payments += 1
            else:
                refunds += 1
        summary = writer.finish(exported)
    sink.flush()
    return ExportResult(day, "ALL", payments, refunds, summary, sink.sha256, sink.size,
                        format="alipay")
