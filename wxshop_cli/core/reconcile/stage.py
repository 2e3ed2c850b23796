"""The one pass over the bill: every row read, checked and written into a private TEMPORARY
table in batches (SQLite `executemany`, PostgreSQL `COPY`), and what the pass learns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table

from wxshop_cli.core.billformat import BillRow, BillSource, BillStream, BillSummary, reader_for
from wxshop_cli.errors import InvalidInput, UsageError
from wxshop_cli.money import fee_fen

#: Staged rows per executemany batch (SQLite); PostgreSQL streams one COPY.
STAGE_BATCH = 5000
#: Progress callbacks every this many rows.
_PROGRESS_EVERY = 8192

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
STAGE_COLUMNS = [c.name for c in STAGE.columns]
# Created after the rows are loaded (faster than maintaining them row by row).
STAGE_INDEXES = (
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
FOUND_COLUMNS = [c.name for c in FOUND.columns]


def create_temp_tables(conn: Any) -> None:
    drop_temp_tables(conn)
    STAGE.create(conn)
    FOUND.create(conn)


def drop_temp_tables(conn: Any) -> None:
    for table in (STAGE, FOUND):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table.name}")


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
    covers: dt.date | None = None  # the day the bill's header names (Alipay), if any


def _wrong_merchant(row: BillRow, mch_id: str) -> InvalidInput:
    return InvalidInput(
        f"line {row.line_no}: the bill is for merchant {row.mch_id}, not this "
        f"shop ({mch_id})", slug="bill_wrong_merchant", location=f"line {row.line_no}",
        hint="check the file, or `wxshop merchant show`")


def bill_day(facts: BillFacts, given: dt.date | None) -> dt.date:
    """`--date`, else the one Beijing day of the bill's times (of a bill without rows, the
    day its header names, if it names one)."""
    if given is not None:
        return given
    if (facts.first_time is None or facts.last_time is None) and facts.covers is not None:
        return facts.covers
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


# ------------------------------------------------------------------ the pass


def stage_rows(conn: Any, source: BillSource, mch_id: str, rate_ppm: int, postgres: bool,
               progress: Progress | None) -> BillFacts:
    """The one pass: every row checked and written into the temporary table, one batch at a
    time. A defect anywhere (the totals are checked at the end) raises InvalidInput."""
    stream = source.open()
    try:
        reader = reader_for(source, stream)
        span = _Span()
        rows = _stage_tuples(reader, mch_id, rate_ppm, span)
        load = _copy_rows if postgres else _insert_rows
        load(conn.connection.driver_connection, rows, _progress_of(progress, stream, source))
        assert reader.summary is not None  # the iteration ended: the whole bill is valid
        if progress is not None:
            progress("stage", source.size, source.size)
        return BillFacts(reader.bill_type, reader.layout, reader.rows_read, reader.summary,
                         span.first, span.last, reader.covers)
    finally:
        stream.close()


def _progress_of(progress: Progress | None, stream: Any, source: BillSource
                 ) -> Callable[[], None] | None:
    """A report of how far the pass is into the (decompressed) bill, or None."""
    if progress is None:
        return None
    return lambda: progress("stage", stream.tell(), source.size)


def _copy_rows(raw: Any, rows: Iterator[tuple], report: Callable[[], None] | None) -> None:
    """PostgreSQL: one COPY streams the staged rows."""
    columns = ", ".join(STAGE_COLUMNS)
    with raw.cursor() as cursor, cursor.copy(
            f"COPY {STAGE.name} ({columns}) FROM STDIN") as copy:
        for n, row in enumerate(rows, start=1):
            copy.write_row(row)
            if report is not None and n % _PROGRESS_EVERY == 0:
                report()


def _insert_rows(raw: Any, rows: Iterator[tuple], report: Callable[[], None] | None) -> None:
    """SQLite: `executemany` in batches of STAGE_BATCH rows."""
    statement = (f"INSERT INTO {STAGE.name} ({', '.join(STAGE_COLUMNS)}) VALUES "
                 f"({', '.join('?' for _ in STAGE_COLUMNS)})")
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= STAGE_BATCH:
            raw.executemany(statement, batch)
            batch.clear()
            if report is not None:
                report()
    if batch:
        raw.executemany(statement, batch)


class _Span:
    """The earliest and latest time of the bill's rows."""

    first: dt.datetime | None = None
    last: dt.datetime | None = None


def _stage_tuples(reader: BillStream, mch_id: str, rate_ppm: int, span: _Span
                  ) -> Iterator[tuple]:
    default_rate = rate_ppm
    refund_bill = reader.bill_type == "REFUND"
    check_merchant = reader.checks_mch_id
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    try:
        for row in reader:
            if check_merchant and row.mch_id != mch_id and row.sub_mch_id != mch_id:
                raise _wrong_merchant(row, mch_id)
            when = row.refund_requested_at if refund_bill else row.trade_time
            # (the reader sets the time its bill type has on every row)
            if first is None or when < first:  # type: ignore[operator]
                first = when
            if last is None or when > last:  # type: ignore[operator]
                last = when
            rate = row.rate_ppm if row.rate_ppm is not None else default_rate
            if row.kind == "payment":
                yield (row.line_no, "P", row.trade_state, row.transaction_id,
                       row.out_trade_no, None, None, "P" + row.transaction_id, row.order_fen, 0,
                       None, row.fee_fen, fee_fen(row.settlement_fen, rate))
            else:
                yield (row.line_no, "R", row.trade_state, row.transaction_id,
                       row.out_trade_no, row.refund_id, row.refund_no,
                       # A refund's own number; an Alipay bill has none: its request number.
                       "R" + row.refund_id if row.refund_id else "Q" + (row.refund_no or ""),
                       0, row.refund_fen, row.refund_status or "",
                       row.fee_fen, -fee_fen(row.refund_fen, rate))
    finally:
        span.first, span.last = first, last
