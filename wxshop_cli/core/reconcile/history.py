"""Reconciliation runs read back, in the shapes of SPEC section 3."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, select

from wxshop_cli.clock import iso
from wxshop_cli.db.models import Discrepancy, ReconcileRun
from wxshop_cli.errors import NotFound

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from sqlmodel import Session

STATUSES = ("open", "resolved", "deferred")


def _counts(session: Session, run_ids: list[str]) -> dict[str, dict[str, int]]:
    d = Discrepancy.__table__.c
    counts: dict[str, dict[str, int]] = {run: dict.fromkeys(STATUSES, 0) for run in run_ids}
    if run_ids:
        for run, status, n in session.execute(select(d.run_id, d.status, func.count()).where(
                d.run_id.in_(run_ids)).group_by(d.run_id, d.status)):
            counts[run][status] = n
    return counts


def _run_public(run: ReconcileRun, counts: dict[str, int], tz: ZoneInfo) -> dict[str, Any]:
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


def discrepancy_public(item: Discrepancy, tz: ZoneInfo) -> dict[str, Any]:
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


def get_run(session: Session, run_id: str) -> ReconcileRun:
    run = session.get(ReconcileRun, run_id)
    if run is None:
        raise NotFound(f"no reconciliation run {run_id}", slug="run_not_found",
                       hint="see `wxshop reconciliations list`")
    return run


def run_summary(session: Session, run_id: str, tz: ZoneInfo) -> dict[str, Any]:
    """The run without its discrepancies (they may be many: see `iter_discrepancies`)."""
    run = get_run(session, run_id)
    return _run_public(run, _counts(session, [run_id])[run_id], tz)


def iter_discrepancies(session: Session, run_id: str, tz: ZoneInfo) -> Iterator[dict[str, Any]]:
    """A run's discrepancies in bill-line order, then the book's, streamed."""
    d = Discrepancy.__table__.c
    query = (select(Discrepancy).where(d.run_id == run_id)
             .order_by(case((d.line_no.is_(None), 1), else_=0), d.line_no, d.kind,
                       d.out_trade_no, d.refund_no, d.id)
             .execution_options(yield_per=1000))
    for item in session.execute(query).scalars():
        yield discrepancy_public(item, tz)


def run_public(session: Session, run_id: str, tz: ZoneInfo) -> dict[str, Any]:
    """The run as SPEC section 3 shapes it, discrepancies included."""
    return {**run_summary(session, run_id, tz),
            "discrepancies": list(iter_discrepancies(session, run_id, tz))}


def list_runs(session: Session, tz: ZoneInfo, limit: int = 1000) -> list[dict[str, Any]]:
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
