"""One reconciliation run, created: read, check and stage the bill, match it with the book,
record the run and its findings (the locks and transactions: see the package docstring)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    and_,
    exists,
    func,
    insert,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    update,
)
from sqlalchemy import text as sql

from wxshop_cli.core.billformat import BillSource
from wxshop_cli.core.reconcile.match import match, text, totals
from wxshop_cli.core.reconcile.stage import (
    FOUND,
    STAGE,
    STAGE_INDEXES,
    BillFacts,
    Progress,
    bill_day,
    create_temp_tables,
    date_mismatch_warning,
    drop_temp_tables,
    stage_rows,
)
from wxshop_cli.db.models import Discrepancy, MerchantSettings, ReconcileRun
from wxshop_cli.db.types import UTCDateTime, new_id

if TYPE_CHECKING:
    from wxshop_cli.db.engine import Database

#: Notes with which the next day's run decides a deferred payment (found, or still missing).
_FOUND_NOTE = "found in the bill of"
_MISSING_NOTE = "not in the bill of"


@dataclass
class Reconciled:
    run_id: str
    replayed: bool  # the stored run of the same bill and date


@dataclass
class _Matched:
    """What the read-only phase hands to the recording one."""

    facts: BillFacts
    day: dt.date
    totals: dict[str, int]
    flagged_rows: int


def reconcile(db: Database, source: BillSource, *, bill_date: dt.date | None = None,
              rerun: bool = False, now: dt.datetime,
              progress: Progress | None = None,
              warn: Callable[[str], None] | None = None) -> Reconciled:
    """Read, check and stage the bill in one pass, then match and record; returns the run
    (or the stored one of the same bill and day, unless `rerun`)."""
    with db.transaction(read_only=True) as session:
        settings = session.get_one(MerchantSettings, 1)
        mch_id, rate_ppm = settings.mch_id, settings.fee_rate_ppm
    postgres = db.dialect == "postgresql"
    conn = db.engine.connect()
    clean = False
    try:
        _snapshot_mode(conn, postgres)
        with conn.begin():
            create_temp_tables(conn)
            facts = stage_rows(conn, source, mch_id, rate_ppm, postgres, progress)
            day = bill_day(facts, bill_date)
            if warn is not None and bill_date is not None:
                message = date_mismatch_warning(facts, day)
                if message:
                    warn(message)
            stored = None if rerun else _stored_run(conn, source.sha256, day)
            if stored is None:
                matched = _match(conn, facts, day, postgres, progress)
        if stored is not None:
            result = Reconciled(stored, True)
        else:
            result = _record_run(conn, source, matched, rerun=rerun, now=now,
                                 postgres=postgres, progress=progress)
        with conn.begin():
            drop_temp_tables(conn)
        clean = True
        return result
    finally:
        if not clean:
            # A rejected bill or an error: the transaction may be aborted; closing the
            # connection (not returning it to the pool) drops its temporary tables with it.
            conn.invalidate()
        conn.close()


def _snapshot_mode(conn: Any, postgres: bool) -> None:
    """Stage and match in one snapshot of the book, taking no write lock on it."""
    if postgres:
        conn.execution_options(isolation_level="REPEATABLE READ")
    else:
        # Deferred BEGIN (see the package docstring): no write lock on the main database.
        conn.execution_options(wx_read_only=True)
        conn.connection.driver_connection.execute("PRAGMA temp_store=FILE")


def _match(conn: Any, facts: BillFacts, day: dt.date, postgres: bool,
           progress: Progress | None) -> _Matched:
    """Index the staged rows, match them with the book and count what was compared."""
    if progress is not None:
        progress("match", 0, None)
    for ddl in STAGE_INDEXES:
        conn.exec_driver_sql(ddl)
    if postgres:
        conn.exec_driver_sql(f"ANALYZE {STAGE.name}")
    match(conn, facts.bill_type, day, facts.layout)
    compared = totals(conn, facts.bill_type, day)
    flagged_rows = conn.execute(select(func.count()).select_from(FOUND).where(
        FOUND.c.line_no.is_not(None))).scalar_one()
    return _Matched(facts, day, compared, flagged_rows)


def _record_run(conn: Any, source: BillSource, matched: _Matched, *, rerun: bool,
                now: dt.datetime, postgres: bool, progress: Progress | None) -> Reconciled:
    """The one short write transaction (BEGIN IMMEDIATE on SQLite; on PostgreSQL under an
    advisory lock on the bill's key, so that two identical runs at once record one)."""
    if progress is not None:
        progress("record", 0, None)
    if postgres:
        conn.execution_options(isolation_level="READ COMMITTED")
    else:
        conn.execution_options(wx_read_only=False)  # BEGIN IMMEDIATE: short, at the end
    with conn.begin():
        if postgres:
            conn.execute(sql("SELECT pg_advisory_xact_lock(:k)"),
                         {"k": int(source.sha256[:15], 16)})
        stored = None if rerun else _stored_run(conn, source.sha256, matched.day)
        if stored is not None:
            result = Reconciled(stored, True)
        else:
            run_id = new_id("run")
            _record(conn, run_id, source, matched, now=now, postgres=postgres)
            result = Reconciled(run_id, False)
    if not postgres:
        conn.execution_options(wx_read_only=True)
    return result


def _stored_run(session_or_conn: Any, sha256: str, day: dt.date) -> str | None:
    r = ReconcileRun.__table__.c
    return session_or_conn.execute(
        select(r.id).where(r.content_sha256 == sha256, r.bill_date == day)
        .order_by(r.created_at.desc(), r.id.desc()).limit(1)).scalar()


def _new_discrepancy_id(postgres: bool) -> Any:
    """A `dsc_` + 16 hex id made by the database, for INSERT … SELECT."""
    if postgres:
        return literal_column("'dsc_' || substr(md5(CAST(gen_random_uuid() AS TEXT)), 1, 16)")
    return literal_column("'dsc_' || lower(hex(randomblob(8)))")


_DISCREPANCY_COLUMNS = ["id", "run_id", "kind", "out_trade_no", "transaction_id", "refund_no",
                        "bill_amount_fen", "book_amount_fen", "status", "detail", "note",
                        "line_no", "created_at"]


def _record(conn: Any, run_id: str, source: BillSource, matched: _Matched, *,
            now: dt.datetime, postgres: bool) -> None:
    """The run, its findings, the carried-over deferrals."""
    facts, totals_ = matched.facts, matched.totals
    conn.execute(insert(ReconcileRun.__table__).values(
        id=run_id, content_sha256=source.sha256, bill_date=matched.day,
        bill_type=facts.bill_type, source=source.name[:500], rows=facts.rows,
        matched=facts.rows - matched.flagged_rows, created_at=now,
        bill_total_fen=totals_["bill_payment_fen"] - totals_["bill_refund_fen"],
        book_total_fen=totals_["book_payment_fen"] - totals_["book_refund_fen"], **totals_))
    f = FOUND.c
    conn.execute(insert(Discrepancy.__table__).from_select(_DISCREPANCY_COLUMNS, select(
        _new_discrepancy_id(postgres), text(run_id), f.kind, f.out_trade_no, f.transaction_id,
        f.refund_no, f.bill_amount_fen, f.book_amount_fen, f.status, f.detail, text(""),
        f.line_no, literal(now, UTCDateTime()))))
    if facts.bill_type != "REFUND":
        _decide_deferred(conn, run_id, matched.day, now=now, postgres=postgres)


def _decide_deferred(conn: Any, run_id: str, day: dt.date, *, now: dt.datetime,
                     postgres: bool) -> None:
    """The deferred payments of the day before: this bill decides them."""
    dsc = Discrepancy.__table__
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
    conn.execute(insert(dsc).from_select(_DISCREPANCY_COLUMNS, select(
        _new_discrepancy_id(postgres), text(run_id), text("missing_in_bill"),
        dsc.c.out_trade_no, func.max(dsc.c.transaction_id), null(), null(),
        func.max(dsc.c.book_amount_fen), text("open"),
        text(f"paid just before midnight on {previous}; in neither that bill nor this one"),
        text(""), null(), literal(now, UTCDateTime())).where(carried, not_(in_bill))
        .group_by(dsc.c.out_trade_no)))
    conn.execute(update(dsc).where(carried, in_bill).values(
        status="resolved", resolved_at=now,
        note=f"{_FOUND_NOTE} {day} ({run_id})"))
    conn.execute(update(dsc).where(carried, not_(in_bill), dsc.c.run_id != run_id).values(
        status="resolved", resolved_at=now,
        note=f"{_MISSING_NOTE} {day} either: open as missing_in_bill in {run_id}"))
