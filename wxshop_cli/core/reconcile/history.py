"""Reconciliation runs read back, in the shapes of SPEC section 3."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, select

from wxshop_cli.clock import iso
from wxshop_cli.core.paging import DEFAULT_LIMIT, Key, Ordering, Page, read_page
from wxshop_cli.db.models import Discrepancy, ReconcileRun
from wxshop_cli.errors import NotFound

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from sqlmodel import Session

STATUSES = ("open", "resolved", "deferred")

_D = Discrepancy.__table__.c
#: A run's discrepancies: in bill-line order, then the book's (no line), by kind and trade,
#: the id last (unique); the nullable columns compare through coalesce so that a cursor can
#: carry them and both engines agree on the order.
DISCREPANCIES = Ordering("discrepancies", (
    Key(case((_D.line_no.is_(None), 1), else_=0), "int"),
    Key(func.coalesce(_D.line_no, 0), "int"), Key(_D.kind, "str"),
    Key(func.coalesce(_D.out_trade_no, ""), "str"), Key(func.coalesce(_D.refund_no, ""), "str"),
    Key(_D.id, "str")))
#: `reconciliations list`: newest first, by `ix_reconcile_run_created` (created_at, id).
RUNS = Ordering("runs", (Key(ReconcileRun.created_at, "time", descending=True),
                         Key(ReconcileRun.id, "str", descending=True)))


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
    query = (select(Discrepancy).where(_D.run_id == run_id)
             .order_by(*DISCREPANCIES.order_by()).execution_options(yield_per=1000))
    for item in session.execute(query).scalars():
        yield discrepancy_public(item, tz)


def discrepancy_page(session: Session, run_id: str, tz: ZoneInfo, *, limit: int = DEFAULT_LIMIT,
                     after: str | None = None) -> Page:
    """A page of a run's discrepancies, in `iter_discrepancies`'s order."""
    page = read_page(session, select(Discrepancy).where(_D.run_id == run_id), DISCREPANCIES,
                     limit=limit, after=after)
    return page.map(lambda item: discrepancy_public(item, tz))


def run_public(session: Session, run_id: str, tz: ZoneInfo) -> dict[str, Any]:
    """The run as SPEC section 3 shapes it, discrepancies included."""
    return {**run_summary(session, run_id, tz),
            "discrepancies": list(iter_discrepancies(session, run_id, tz))}


def list_runs(session: Session, tz: ZoneInfo, limit: int = DEFAULT_LIMIT,
              after: str | None = None) -> Page:
    """A page of the runs, newest first, each in the SPEC's run shape (discrepancies
    included, fetched in one query for all the listed runs)."""
    page = read_page(session, select(ReconcileRun), RUNS, limit=limit, after=after)
    runs = page.rows
    ids = [run.id for run in runs]
    counts = _counts(session, ids)
    items: dict[str, list[dict[str, Any]]] = {run_id: [] for run_id in ids}
    if ids:
        query = (select(Discrepancy).where(_D.run_id.in_(ids))
                 .order_by(_D.run_id, *DISCREPANCIES.order_by()))
        for item in session.execute(query).scalars():
            items[item.run_id].append(discrepancy_public(item, tz))
    return Page([{**_run_public(run, counts[run.id], tz), "discrepancies": items[run.id]}
                 for run in runs], page.has_more, page.next_cursor)
