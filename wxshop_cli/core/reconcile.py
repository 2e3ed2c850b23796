"""Reconcile a WeChat Pay trade bill against the merchant's book (SPEC section 9).

One pass over the bill, which is never held in memory:

**Read, check and stage** (`_stage_rows`): `BillReader` checks every row and, at the end,
the summary against running sums; every row's 商户号 (or, in a service provider's bill,
特约商户号/子商户号) must be this shop's merchant number; the same loop writes each row into a
TEMPORARY table in batches (SQLite `executemany`, PostgreSQL `COPY`) and finds the bill's day.
Any defect is InvalidInput (exit 3) naming the line: the transaction is rolled back and the
connection closed, which drops the private temporary table with everything staged, so a
rejected bill leaves nothing. Then **match**: every comparison is SQL — joins of the staged
rows with `orders` / `refund`, anti-joins for what the book has and the bill lacks — whose
findings land in a second temporary table. Python only ever holds one batch of rows.

Then one short write transaction records the run and copies the findings into `discrepancy`.

Locks. Buyers must keep buying while a million-row bill is matched:
- SQLite: temporary tables live in the connection's own `temp` database, so writing them
  takes no lock on the main database file. Reading, staging and matching therefore run in a
  *deferred* transaction (`BEGIN`, the engine's read-only mode, never `BEGIN IMMEDIATE`): it
  holds a WAL read snapshot of the book — one consistent view for every query — and no write
  lock, so buyers' `BEGIN IMMEDIATE` transactions go on meanwhile. Only the final insert of the run
  takes the write lock (`BEGIN IMMEDIATE`), for milliseconds. `temp_store=FILE` keeps the
  staged rows on disk (in SQLite's temp directory), not in RAM.
- PostgreSQL: temporary tables are private to the session; writing them locks nothing that
  another session uses. Stage and match run in one REPEATABLE READ transaction (one snapshot
  of the book for every query, no row locks taken), then the run is written in a separate
  READ COMMITTED transaction, under an advisory lock on the bill's key so that two identical
  reconciliations at once record one run.
The temporary tables are dropped at the end (the connection goes back to the pool).

Classification, per bill row, first kind that applies:
`duplicate` (a later copy of the same transaction id among payment rows, or refund id among
refund rows), `missing_in_book` (payment row, no such order), `status_mismatch` (payment row,
the order has no recorded payment — pending, paying, closed — or one with another transaction
id; or a REVOKED row for a paid order), `amount_mismatch` (订单金额 ≠ the order amount),
`refund_mismatch` (refund row with no book refund of that number, or of another order, amount,
or state: SUCCESS↔success, PROCESSING↔processing, CLOSED↔closed; ABNORMAL matches nothing),
`fee_mismatch` (手续费 ≠ ± amount × 费率, else the merchant's rate, half-up). Book side, for the
bill day (Beijing): payments (orders with a success time that day) absent from an ALL/SUCCESS
bill are `missing_in_bill` — `deferred` within 5 minutes before midnight — and refunds
(`success`/`processing`, requested that day) absent from an ALL/REFUND bill are
`refund_mismatch`. Reconciling day D+1 settles the deferred items of D: found in the bill of
D+1 → resolved; not found → an open `missing_in_bill` in the D+1 run (the D item is closed
with a note pointing there).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    text,
    update,
)

from wxshop_cli.clock import beijing_day_bounds, iso
from wxshop_cli.core.billformat import BillReader, BillSource, BillSummary
from wxshop_cli.db.models import (
    Discrepancy,
    MerchantSettings,
    Order,
    ReconcileRun,
    Refund,
)
from wxshop_cli.db.types import UTCDateTime, new_id
from wxshop_cli.errors import InvalidInput, NotFound, UsageError
from wxshop_cli.money import fee_fen

#: Notes with which the next day's run decides a deferred payment (found, or still missing).
_FOUND_NOTE = "found in the bill of"
_MISSING_NOTE = "not in the bill of"

#: A book payment this close before midnight that is missing from the bill is deferred.
MIDNIGHT_TOLERANCE = dt.timedelta(minutes=5)
#: Staged rows per executemany batch (SQLite); PostgreSQL streams one COPY.
STAGE_BATCH = 5000
#: Progress callbacks every this many rows.
_PROGRESS_EVERY = 8192

KINDS = ("duplicate", "missing_in_book", "status_mismatch", "amount_mismatch",
         "refund_mismatch", "fee_mismatch", "missing_in_bill")
STATUSES = ("open", "resolved", "deferred")

#: progress(phase, done, total): phase "stage" (read, check and stage: the one pass over the
#: bill) counts decompressed bytes of `total`; "match" and "record" have no total.
Progress = Callable[[str, int, int | None], None]

# ------------------------------------------------------------------ temporary tables

_temp = MetaData()
STAGE = Table(
    "wx_bill_stage", _temp,
    Column("line_no", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(1), nullable=False),  # P payment row, R refund row
    Column("trade_state", String()),
    Column("transaction_id", String()),
    Column("out_trade_no", String()),
    Column("refund_id", String()),
    Column("refund_no", String()),
    Column("dup_key", String()),  # P+transaction id / R+refund id
    Column("order_fen", BigInteger),
    Column("refund_fen", BigInteger),
    Column("refund_status", String()),
    Column("fee_fen", BigInteger),
    Column("fee_expected", BigInteger),
    prefixes=["TEMPORARY"],
)
_STAGE_COLUMNS = [c.name for c in STAGE.columns]
# Created after the rows are loaded (faster than maintaining them row by row).
_STAGE_INDEXES = (
    f"CREATE INDEX wx_bill_stage_dup ON {STAGE.name} (dup_key, line_no)",
    f"CREATE INDEX wx_bill_stage_otn ON {STAGE.name} (out_trade_no)",
    f"CREATE INDEX wx_bill_stage_rno ON {STAGE.name} (refund_no)",
)
FOUND = Table(
    "wx_bill_found", _temp,
    Column("line_no", Integer),
    Column("kind", String(), nullable=False),
    Column("out_trade_no", String()),
    Column("transaction_id", String()),
    Column("refund_no", String()),
    Column("bill_amount_fen", BigInteger),
    Column("book_amount_fen", BigInteger),
    Column("status", String(), nullable=False),
    Column("detail", String(), nullable=False),
    prefixes=["TEMPORARY"],
)
_FOUND_COLUMNS = [c.name for c in FOUND.columns]


# ------------------------------------------------------------------ what the pass learns


@dataclass
class BillFacts:
    """What the pass over the bill learned: its type and totals and the span of its times."""

    bill_type: str
    layout: str
    rows: int
    summary: BillSummary
    first_time: dt.datetime | None  # naive Beijing; payment times (refund times in REFUND)
    last_time: dt.datetime | None


def _wrong_merchant(row: Any, mch_id: str) -> InvalidInput:
    return InvalidInput(
        f"line {row.line_no}: the bill is for merchant {row.mch_id}, not this "
        f"shop ({mch_id})", slug="bill_wrong_merchant", location=f"line {row.line_no}",
        hint="check the file, or `wxshop merchant show`")


def bill_day(facts: BillFacts, given: dt.date | None) -> dt.date:
    """`--date`, else the one Beijing day of the bill's times."""
    if given is not None:
        return given
    if facts.first_time is None or facts.last_time is None:
        raise UsageError("the bill has no rows, so its day is unknown",
                         slug="bill_date_required", hint="pass --date YYYY-MM-DD")
    first, last = facts.first_time.date(), facts.last_time.date()
    if first != last:
        raise InvalidInput(f"the bill's times span {first} to {last}; a bill covers one day",
                           slug="bill_spans_days", hint="pass --date to choose the day")
    return first


def date_mismatch_warning(facts: BillFacts, day: dt.date) -> str | None:
    if facts.first_time is None or facts.last_time is None:
        return None
    first, last = facts.first_time.date(), facts.last_time.date()
    if first == last == day:
        return None
    span = str(first) if first == last else f"{first} to {last}"
    return f"the bill's times are on {span}, not on --date {day}"


# ------------------------------------------------------------------ the whole run


@dataclass
class Reconciled:
    run_id: str
    replayed: bool  # the stored run of the same bill and date


def reconcile(db: Any, source: BillSource, *, bill_date: dt.date | None = None,
              rerun: bool = False, now: dt.datetime,
              progress: Progress | None = None,
              warn: Callable[[str], None] | None = None) -> Reconciled:
    """Read, check and stage the bill in one pass, then match and record; returns the run
    (or the stored one of the same bill and day, unless `rerun`)."""
    with db.transaction(read_only=True) as session:
        settings = session.get_one(MerchantSettings, 1)
        mch_id, rate_ppm = settings.mch_id, settings.fee_rate_ppm
    return _stage_and_match(db, source, mch_id, rate_ppm, bill_date, rerun=rerun, now=now,
                            progress=progress, warn=warn)


def _stored_run(session_or_conn: Any, sha256: str, day: dt.date) -> str | None:
    r = ReconcileRun.__table__.c
    return session_or_conn.execute(
        select(r.id).where(r.content_sha256 == sha256, r.bill_date == day)
        .order_by(r.created_at.desc(), r.id.desc()).limit(1)).scalar()


def _drop_temp_tables(conn: Any) -> None:
    for table in (STAGE, FOUND):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table.name}")


def _stage_and_match(db: Any, source: BillSource, mch_id: str, rate_ppm: int,
                     bill_date: dt.date | None, *, rerun: bool, now: dt.datetime,
                     progress: Progress | None,
                     warn: Callable[[str], None] | None) -> Reconciled:
    postgres = db.dialect == "postgresql"
    conn = db.engine.connect()
    clean = False
    try:
        if postgres:
            conn.execution_options(isolation_level="REPEATABLE READ")
        else:
            # Deferred BEGIN (see the module docstring): no write lock on the main database.
            conn.execution_options(wx_read_only=True)
            raw = conn.connection.driver_connection
            raw.execute("PRAGMA temp_store=FILE")
        stored = None
        with conn.begin():
            _drop_temp_tables(conn)
            STAGE.create(conn)
            FOUND.create(conn)
            facts = _stage_rows(conn, source, mch_id, rate_ppm, postgres, progress)
            day = bill_day(facts, bill_date)
            if warn is not None and bill_date is not None:
                message = date_mismatch_warning(facts, day)
                if message:
                    warn(message)
            if not rerun:
                stored = _stored_run(conn, source.sha256, day)
            if stored is None:
                if progress is not None:
                    progress("match", 0, None)
                for ddl in _STAGE_INDEXES:
                    conn.exec_driver_sql(ddl)
                if postgres:
                    conn.exec_driver_sql(f"ANALYZE {STAGE.name}")
                _match(conn, facts.bill_type, day)
                totals = _totals(conn, facts.bill_type, day)
                flagged_rows = conn.execute(select(func.count()).select_from(FOUND).where(
                    FOUND.c.line_no.is_not(None))).scalar_one()
        if stored is not None:
            result = Reconciled(stored, True)
        else:
            if progress is not None:
                progress("record", 0, None)
            if postgres:
                conn.execution_options(isolation_level="READ COMMITTED")
            else:
                conn.execution_options(wx_read_only=False)  # BEGIN IMMEDIATE: short, at the end
            with conn.begin():
                if postgres:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                                 {"k": int(source.sha256[:15], 16)})
                stored = None if rerun else _stored_run(conn, source.sha256, day)
                if stored is not None:
                    result = Reconciled(stored, True)
                else:
                    run_id = new_id("run")
                    _record(conn, run_id, source, facts, day, totals,
                            matched=facts.rows - flagged_rows, now=now, postgres=postgres)
                    result = Reconciled(run_id, False)
            if not postgres:
                conn.execution_options(wx_read_only=True)
        with conn.begin():
            _drop_temp_tables(conn)
        clean = True
        return result
    finally:
        if not clean:
            # A rejected bill or an error: the transaction may be aborted; closing the
            # connection (not returning it to the pool) drops its temporary tables with it.
            conn.invalidate()
        conn.close()


def _stage_rows(conn: Any, source: BillSource, mch_id: str, rate_ppm: int, postgres: bool,
                progress: Progress | None) -> BillFacts:
    """The one pass: every row checked and written into the temporary table, one batch at a
    time. A defect anywhere (the totals are checked at the end) raises InvalidInput."""
    stream = source.open()
    try:
        reader = BillReader(stream)
        span = _Span()
        rows = _stage_tuples(reader, mch_id, rate_ppm, span)
        raw = conn.connection.driver_connection
        columns = ", ".join(_STAGE_COLUMNS)
        total = source.size
        if postgres:
            with raw.cursor() as cursor, cursor.copy(
                    f"COPY {STAGE.name} ({columns}) FROM STDIN") as copy:
                for n, row in enumerate(rows, start=1):
                    copy.write_row(row)
                    if progress is not None and n % _PROGRESS_EVERY == 0:
                        progress("stage", stream.tell(), total)
        else:
            statement = (f"INSERT INTO {STAGE.name} ({columns}) VALUES "
                         f"({', '.join('?' for _ in _STAGE_COLUMNS)})")
            batch: list[tuple] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= STAGE_BATCH:
                    raw.executemany(statement, batch)
                    batch.clear()
                    if progress is not None:
                        progress("stage", stream.tell(), total)
            if batch:
                raw.executemany(statement, batch)
        assert reader.summary is not None  # the iteration ended: the whole bill is valid
        if progress is not None:
            progress("stage", total, total)
        return BillFacts(reader.bill_type, reader.layout, reader.rows_read, reader.summary,
                         span.first, span.last)
    finally:
        stream.close()


class _Span:
    """The earliest and latest time of the bill's rows."""

    first: dt.datetime | None = None
    last: dt.datetime | None = None


def _stage_tuples(reader: BillReader, mch_id: str, rate_ppm: int, span: _Span
                  ) -> Iterator[tuple]:
    default_rate = rate_ppm
    refund_bill = reader.bill_type == "REFUND"
    first = last = None
    try:
        for row in reader:
            if row.mch_id != mch_id and row.sub_mch_id != mch_id:
                raise _wrong_merchant(row, mch_id)
            when = row.refund_requested_at if refund_bill else row.trade_time
            if first is None or when < first:
                first = when
            if last is None or when > last:
                last = when
            rate = row.rate_ppm if row.rate_ppm is not None else default_rate
            if row.kind == "payment":
                yield (row.line_no, "P", row.trade_state, row.transaction_id,
                       row.out_trade_no, None, None, "P" + row.transaction_id, row.order_fen, 0,
                       None, row.fee_fen, fee_fen(row.settlement_fen, rate))
            else:
                yield (row.line_no, "R", row.trade_state, row.transaction_id,
                       row.out_trade_no, row.refund_id, row.refund_no,
                       "R" + (row.refund_id or ""), 0, row.refund_fen, row.refund_status or "",
                       row.fee_fen, -fee_fen(row.refund_fen, rate))
    finally:
        span.first, span.last = first, last


def _text(value: str) -> Any:
    return literal(value, String())


def _num(expression: Any) -> Any:
    return cast(expression, String())


def _match(conn: Any, bill_type: str, day: dt.date) -> None:
    """Every comparison, in SQL; findings go to the FOUND temporary table."""
    start, end = beijing_day_bounds(day)
    s = STAGE.alias("s")
    d = STAGE.alias("d")
    o = Order.__table__.alias("o")
    r = Refund.__table__.alias("r")

    # --- bill rows, each as the first kind that applies
    first_copy = select(func.min(d.c.line_no)).where(
        d.c.dup_key == s.c.dup_key).scalar_subquery()
    is_payment = s.c.kind == "P"
    is_refund = s.c.kind == "R"
    success = s.c.trade_state == "SUCCESS"
    book_paid = and_(o.c.paid_at.is_not(None), o.c.transaction_id.is_not(None))
    state_ok = or_(and_(s.c.refund_status == "SUCCESS", r.c.status == "success"),
                   and_(s.c.refund_status == "PROCESSING", r.c.status == "processing"),
                   and_(s.c.refund_status == "CLOSED", r.c.status == "closed"))
    kind = case(
        (first_copy < s.c.line_no, "duplicate"),
        (and_(is_payment, o.c.order_no.is_(None)), "missing_in_book"),
        (and_(is_payment, success, or_(not_(book_paid),
                                       o.c.transaction_id != s.c.transaction_id)),
         "status_mismatch"),
        (and_(is_payment, not_(success), book_paid), "status_mismatch"),
        (and_(is_payment, success, s.c.order_fen != o.c.amount_fen), "amount_mismatch"),
        (and_(is_refund, or_(r.c.refund_no.is_(None), r.c.order_no != s.c.out_trade_no,
                             r.c.amount_fen != s.c.refund_fen, not_(state_ok),
                             and_(r.c.gateway_refund_id.is_not(None),
                                  r.c.gateway_refund_id != s.c.refund_id))),
         "refund_mismatch"),
        (s.c.fee_fen != s.c.fee_expected, "fee_mismatch"),
        else_=null(),
    )
    rows = (
        select(s.c.line_no, s.c.kind.label("row_kind"), s.c.trade_state, s.c.transaction_id,
               s.c.out_trade_no, s.c.refund_no, s.c.order_fen, s.c.refund_fen,
               s.c.refund_status, s.c.fee_fen, s.c.fee_expected,
               first_copy.label("first_line"),
               o.c.amount_fen.label("book_order_fen"), o.c.status.label("book_status"),
               o.c.transaction_id.label("book_txn"),
               case((book_paid, 1), else_=0).label("book_paid"),
               r.c.amount_fen.label("book_refund_fen"), r.c.status.label("book_refund_status"),
               r.c.order_no.label("book_refund_order"), r.c.refund_no.label("book_refund_no"),
               r.c.gateway_refund_id.label("book_refund_id"), s.c.refund_id,
               kind.label("kind"))
        .select_from(s.outerjoin(o, and_(is_payment, o.c.order_no == s.c.out_trade_no))
                     .outerjoin(r, and_(is_refund, r.c.refund_no == s.c.refund_no)))
        .subquery("rows")
    )
    k = rows.c.kind
    row_amount = case((rows.c.row_kind == "P", rows.c.order_fen), else_=rows.c.refund_fen)
    bill_amount = case((k == "fee_mismatch", rows.c.fee_fen), else_=row_amount)
    book_amount = case(
        (k.in_(("status_mismatch", "amount_mismatch")), rows.c.book_order_fen),
        (k == "refund_mismatch", rows.c.book_refund_fen),
        (k == "fee_mismatch", rows.c.fee_expected),
        else_=null())
    detail = case(
        (k == "duplicate", _text("a copy of line ") + _num(rows.c.first_line)),
        (k == "missing_in_book",
         _text("no order ") + rows.c.out_trade_no + _text(" in the book")),
        (and_(k == "status_mismatch", rows.c.trade_state != "SUCCESS"),
         _text("the bill says ") + rows.c.trade_state + _text(", the book has the payment")),
        (and_(k == "status_mismatch", rows.c.book_paid == 0),
         _text("the book has the order ") + rows.c.book_status
         + _text(", with no successful payment")),
        (k == "status_mismatch",
         _text("the book's payment is transaction ") + rows.c.book_txn),
        (k == "amount_mismatch", _text("订单金额 differs from the order amount")),
        (and_(k == "refund_mismatch", rows.c.book_refund_no.is_(None)),
         _text("no refund ") + rows.c.refund_no + _text(" in the book")),
        (and_(k == "refund_mismatch", rows.c.book_refund_order != rows.c.out_trade_no),
         _text("the book's refund is of order ") + rows.c.book_refund_order),
        (and_(k == "refund_mismatch", rows.c.book_refund_fen != rows.c.refund_fen),
         _text("refund amounts differ")),
        (and_(k == "refund_mismatch", rows.c.book_refund_id.is_not(None),
              rows.c.book_refund_id != rows.c.refund_id),
         _text("the book's refund is 微信退款单号 ") + rows.c.book_refund_id),
        (k == "refund_mismatch",
         _text("the bill says ") + rows.c.refund_status + _text(", the book ")
         + rows.c.book_refund_status),
        else_=_text("手续费 is not the amount × 费率 rounded half-up"),
    )
    conn.execute(insert(FOUND).from_select(_FOUND_COLUMNS, select(
        rows.c.line_no, k, rows.c.out_trade_no, rows.c.transaction_id, rows.c.refund_no,
        bill_amount, book_amount, _text("open"), detail).where(k.is_not(None))))

    # --- the book's payments of the day that the bill lacks
    if bill_type != "REFUND":
        book = Order.__table__
        next_day = (day + dt.timedelta(days=1)).isoformat()
        in_bill = exists().where(STAGE.c.kind == "P", STAGE.c.trade_state == "SUCCESS",
                                 STAGE.c.out_trade_no == book.c.order_no)
        late = book.c.paid_at >= end - MIDNIGHT_TOLERANCE
        conn.execute(insert(FOUND).from_select(_FOUND_COLUMNS, select(
            null(), _text("missing_in_bill"), book.c.order_no, book.c.transaction_id, null(),
            null(), book.c.amount_fen,
            case((late, _text("deferred")), else_=_text("open")),
            case((late, _text("paid within 5 minutes before midnight: the bill of "
                              f"{next_day} decides")),
                 else_=_text("paid that day, not in the bill"))).where(
            book.c.paid_at >= start, book.c.paid_at < end,
            book.c.transaction_id.is_not(None), not_(in_bill))))

    # --- the book's refunds of the day that the bill lacks
    if bill_type != "SUCCESS":
        refund = Refund.__table__
        order = Order.__table__
        in_bill = exists().where(STAGE.c.kind == "R", STAGE.c.refund_no == refund.c.refund_no)
        conn.execute(insert(FOUND).from_select(_FOUND_COLUMNS, select(
            null(), _text("refund_mismatch"), refund.c.order_no, order.c.transaction_id,
            refund.c.refund_no, null(), refund.c.amount_fen, _text("open"),
            _text("refund ") + refund.c.status + _text(" in the book, not in the bill"))
            .select_from(refund.outerjoin(order, order.c.order_no == refund.c.order_no))
            .where(refund.c.created_at >= start, refund.c.created_at < end,
                   refund.c.status.in_(("success", "processing")), not_(in_bill))))


def _totals(conn: Any, bill_type: str, day: dt.date) -> dict[str, int]:
    """What was compared, on both sides."""
    start, end = beijing_day_bounds(day)
    st = STAGE.c
    paid_row = and_(st.kind == "P", st.trade_state == "SUCCESS")
    live_refund = and_(st.kind == "R", st.refund_status.in_(("SUCCESS", "PROCESSING")))

    def total(condition: Any, amount: Any) -> Any:
        return func.coalesce(func.sum(case((condition, amount), else_=0)), 0)

    bill = conn.execute(select(
        total(paid_row, 1), total(paid_row, st.order_fen), total(live_refund, 1),
        total(live_refund, st.refund_fen), func.coalesce(func.sum(st.fee_fen), 0))).one()
    out = {"bill_payments": int(bill[0]), "bill_payment_fen": int(bill[1]),
           "bill_refunds": int(bill[2]), "bill_refund_fen": int(bill[3]),
           "bill_fee_fen": int(bill[4]), "book_payments": 0, "book_payment_fen": 0,
           "book_refunds": 0, "book_refund_fen": 0}
    if bill_type != "REFUND":
        o = Order.__table__.c
        count, amount = conn.execute(select(func.count(), func.coalesce(func.sum(o.amount_fen),
                                                                        0)).where(
            o.paid_at >= start, o.paid_at < end, o.transaction_id.is_not(None))).one()
        out.update(book_payments=int(count), book_payment_fen=int(amount))
    if bill_type != "SUCCESS":
        f = Refund.__table__.c
        count, amount = conn.execute(select(func.count(), func.coalesce(func.sum(f.amount_fen),
                                                                        0)).where(
            f.created_at >= start, f.created_at < end,
            f.status.in_(("success", "processing")))).one()
        out.update(book_refunds=int(count), book_refund_fen=int(amount))
    return out


def _new_discrepancy_id(postgres: bool) -> Any:
    """A `dsc_` + 16 hex id made by the database, for INSERT … SELECT."""
    if postgres:
        return literal_column("'dsc_' || substr(md5(CAST(gen_random_uuid() AS TEXT)), 1, 16)")
    return literal_column("'dsc_' || lower(hex(randomblob(8)))")


def _record(conn: Any, run_id: str, source: BillSource, facts: BillFacts, day: dt.date,
            totals: dict[str, int], *, matched: int, now: dt.datetime,
            postgres: bool) -> None:
    """The one short write transaction: the run, its findings, the carried-over deferrals."""
    conn.execute(insert(ReconcileRun.__table__).values(
        id=run_id, content_sha256=source.sha256, bill_date=day, bill_type=facts.bill_type,
        source=source.name[:500], rows=facts.rows, matched=matched, created_at=now,
        bill_total_fen=totals["bill_payment_fen"] - totals["bill_refund_fen"],
        book_total_fen=totals["book_payment_fen"] - totals["book_refund_fen"], **totals))
    dsc = Discrepancy.__table__
    new_id_sql = _new_discrepancy_id(postgres)
    stamp = literal(now, UTCDateTime())
    columns = ["id", "run_id", "kind", "out_trade_no", "transaction_id", "refund_no",
               "bill_amount_fen", "book_amount_fen", "status", "detail", "note", "line_no",
               "created_at"]
    f = FOUND.c
    conn.execute(insert(dsc).from_select(columns, select(
        new_id_sql, _text(run_id), f.kind, f.out_trade_no, f.transaction_id, f.refund_no,
        f.bill_amount_fen, f.book_amount_fen, f.status, f.detail, _text(""), f.line_no,
        stamp)))
    if facts.bill_type == "REFUND":
        return
    # The deferred payments of the day before: this bill decides them.
    previous = day - dt.timedelta(days=1)
    runs = ReconcileRun.__table__.c
    # Deferred items of that day, including ones an earlier run of this day already decided
    # (so that --rerun decides them again instead of losing them); never ones a person
    # resolved by hand.
    decided_here = or_(dsc.c.note.like(f"{_FOUND_NOTE} %"),
                       dsc.c.note.like(f"{_MISSING_NOTE} %"))
    carried = and_(dsc.c.kind == "missing_in_bill",
                   or_(dsc.c.status == "deferred",
                       and_(dsc.c.status == "resolved", decided_here)),
                   dsc.c.run_id.in_(select(runs.id).where(runs.bill_date == previous)))
    in_bill = exists().where(STAGE.c.kind == "P", STAGE.c.trade_state == "SUCCESS",
                             STAGE.c.out_trade_no == dsc.c.out_trade_no)
    conn.execute(insert(dsc).from_select(columns, select(
        new_id_sql, _text(run_id), _text("missing_in_bill"), dsc.c.out_trade_no,
        func.max(dsc.c.transaction_id), null(), null(), func.max(dsc.c.book_amount_fen),
        _text("open"),
        _text(f"paid just before midnight on {previous}; in neither that bill nor this one"),
        _text(""), null(), stamp).where(carried, not_(in_bill)).group_by(dsc.c.out_trade_no)))
    conn.execute(update(dsc).where(carried, in_bill).values(
        status="resolved", resolved_at=now,
        note=f"{_FOUND_NOTE} {day} ({run_id})"))
    conn.execute(update(dsc).where(carried, not_(in_bill), dsc.c.run_id != run_id).values(
        status="resolved", resolved_at=now,
        note=f"{_MISSING_NOTE} {day} either: open as missing_in_bill in {run_id}"))


# ------------------------------------------------------------------ reading runs back


def _counts(session: Any, run_ids: list[str]) -> dict[str, dict[str, int]]:
    d = Discrepancy.__table__.c
    counts: dict[str, dict[str, int]] = {run: dict.fromkeys(STATUSES, 0) for run in run_ids}
    if run_ids:
        for run, status, n in session.execute(select(d.run_id, d.status, func.count()).where(
                d.run_id.in_(run_ids)).group_by(d.run_id, d.status)):
            counts[run][status] = n
    return counts


def _run_public(run: ReconcileRun, counts: dict[str, int], tz: Any) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "bill_date": run.bill_date.isoformat(),
        "bill_type": run.bill_type,
        "rows": run.rows,
        "matched": run.matched,
        "open": counts["open"],
        "deferred": counts["deferred"],
        "resolved": counts["resolved"],
        "source": run.source,
        "content_sha256": run.content_sha256,
        "created_at": iso(run.created_at, tz),
        "totals": {
            "bill": {"payments": run.bill_payments, "payment_fen": run.bill_payment_fen,
                     "refunds": run.bill_refunds, "refund_fen": run.bill_refund_fen,
                     "net_fen": run.bill_total_fen, "fee_fen": run.bill_fee_fen},
            "book": {"payments": run.book_payments, "payment_fen": run.book_payment_fen,
                     "refunds": run.book_refunds, "refund_fen": run.book_refund_fen,
                     "net_fen": run.book_total_fen},
        },
    }


def discrepancy_public(item: Discrepancy, tz: Any) -> dict[str, Any]:
    return {
        "id": item.id,
        "kind": item.kind,
        "out_trade_no": item.out_trade_no,
        "transaction_id": item.transaction_id,
        "refund_no": item.refund_no,
        "bill_amount_fen": item.bill_amount_fen,
        "book_amount_fen": item.book_amount_fen,
        "status": item.status,
        "note": item.note,
        "detail": item.detail,
        "line_no": item.line_no,
        "created_at": iso(item.created_at, tz),
        "resolved_at": iso(item.resolved_at, tz),
    }


def get_run(session: Any, run_id: str) -> ReconcileRun:
    run = session.get(ReconcileRun, run_id)
    if run is None:
        raise NotFound(f"no reconciliation run {run_id}", slug="run_not_found",
                       hint="see `wxshop reconciliations list`")
    return run


def run_summary(session: Any, run_id: str, tz: Any) -> dict[str, Any]:
    """The run without its discrepancies (they may be many: see `iter_discrepancies`)."""
    run = get_run(session, run_id)
    return _run_public(run, _counts(session, [run_id])[run_id], tz)


def iter_discrepancies(session: Any, run_id: str, tz: Any) -> Iterator[dict[str, Any]]:
    """A run's discrepancies in bill-line order, then the book's, streamed."""
    d = Discrepancy.__table__.c
    query = (select(Discrepancy).where(d.run_id == run_id)
             .order_by(case((d.line_no.is_(None), 1), else_=0), d.line_no, d.kind,
                       d.out_trade_no, d.refund_no, d.id)
             .execution_options(yield_per=1000))
    for item in session.execute(query).scalars():
        yield discrepancy_public(item, tz)


def run_public(session: Any, run_id: str, tz: Any) -> dict[str, Any]:
    """The run as SPEC section 3 shapes it, discrepancies included."""
    return {**run_summary(session, run_id, tz),
            "discrepancies": list(iter_discrepancies(session, run_id, tz))}


def list_runs(session: Any, tz: Any, limit: int = 1000) -> list[dict[str, Any]]:
    """The newest runs, each in the SPEC's run shape (discrepancies included, fetched in one
    query for all the listed runs)."""
    r = ReconcileRun.__table__.c
    runs = list(session.execute(select(ReconcileRun).order_by(
        r.created_at.desc(), r.id.desc()).limit(limit)).scalars())
    ids = [run.id for run in runs]
    counts = _counts(session, ids)
    items: dict[str, list[dict[str, Any]]] = {run_id: [] for run_id in ids}
    if ids:
        d = Discrepancy.__table__.c
        query = (select(Discrepancy).where(d.run_id.in_(ids))
                 .order_by(d.run_id, case((d.line_no.is_(None), 1), else_=0), d.line_no,
                           d.kind, d.out_trade_no, d.refund_no, d.id))
        for item in session.execute(query).scalars():
            items[item.run_id].append(discrepancy_public(item, tz))
    return [{**_run_public(run, counts[run.id], tz), "discrepancies": items[run.id]}
            for run in runs]


def check_note(note: str) -> str:
    from wxshop_cli.core.text import check_text

    return check_text(note, field="--note", limit=500, slug="invalid_note")


def resolve(db: Any, run_id: str, item_id: str, note: str,
            now: dt.datetime) -> tuple[Discrepancy, bool]:
    """Close an open or deferred item with a note. Returns (item, changed). Resolving again
    with the same note changes nothing; with another note it is a conflict."""
    from wxshop_cli.errors import Conflict

    note = check_note(note)
    with db.transaction() as session:
        get_run(session, run_id)
        item = session.get(Discrepancy, item_id)
        if item is None or item.run_id != run_id:
            raise NotFound(f"no discrepancy {item_id} in run {run_id}",
                           slug="discrepancy_not_found",
                           hint=f"see `wxshop reconciliations show {run_id}`")
        if item.status == "resolved":
            if item.note == note:
                return item, False
            raise Conflict(f"discrepancy {item_id} is already resolved",
                           slug="discrepancy_resolved", hint=f"its note: {item.note}")
        changed = session.execute(update(Discrepancy).where(
            Discrepancy.id == item_id, Discrepancy.status.in_(("open", "deferred"))
        ).values(status="resolved", note=note, resolved_at=now)).rowcount
        if changed != 1:
            raise Conflict(f"discrepancy {item_id} changed meanwhile; try again",
                           slug="discrepancy_resolved")
        session.expire(item)
        return session.get_one(Discrepancy, item_id), True
