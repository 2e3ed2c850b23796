"""`wxshop audit`: every invariant of the book, checked in one consistent read.

`audit_book(db, now)` opens one snapshot (PostgreSQL: a REPEATABLE READ, READ ONLY
transaction; SQLite: one read transaction, which in WAL mode is one snapshot) and runs each
check inside it; `audit_session(session, now)` runs them in a transaction the caller holds.

Each check is one SQL query over the tables (aggregates, GROUP BY, LEFT JOINs), never a loop
over orders in Python. It is run first as a count — `COUNT(*)` of the rows checked and, per
violation kind, `SUM(CASE WHEN <violated> …)` — so a clean book costs one pass per check and
Python receives one row per check. A check with violations is read once more, streaming only
the rows that violate something, and Python keeps the `limit` smallest ids per kind in a
bounded heap: memory stays flat however big the book or the damage.

What counts as a violation: a state nothing will ever repair by itself. A state that the
sweep (`orders close-expired`, a read, a retry) or the process in the middle of it settles is
in flight, not a violation: a `pending_payment` or `paying` order whatever the gateway says,
an unpaid order past its window, a refund `processing` or a closed order's late charge for
less than IN_FLIGHT. See docs/reconcile.md ("wxshop audit") for the list of kinds.

The package: `base` (shapes, constants, shared SQL), one module per check family (`stock`,
`orders`, `payments`, `keys`, `buyers`), `listing` (the violations listed and named); here the
entry points.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import case, func, select, text
from sqlalchemy.orm import Session

from wxshop_cli.core.audit.base import (
    DEFAULT_LIMIT,
    IN_FLIGHT,
    MAX_LIMIT,
    AuditReport,
    Check,
    Kind,
    Violation,
)
from wxshop_cli.core.audit.buyers import cards, pushes
from wxshop_cli.core.audit.keys import idempotency_keys, order_keys
from wxshop_cli.core.audit.listing import listed, name_ids
from wxshop_cli.core.audit.orders import orders
from wxshop_cli.core.audit.payments import gateway_payments, gateway_refunds, refunds
from wxshop_cli.core.audit.stock import buyer_items, products, promo_items

if TYPE_CHECKING:
    from wxshop_cli.db.engine import Database

__all__ = ["DEFAULT_LIMIT", "IN_FLIGHT", "MAX_LIMIT", "AuditReport", "Check", "Kind",
           "Violation", "audit_book", "audit_session", "check_limit", "checks", "kinds"]


def checks(dialect: str, now: dt.datetime) -> list[Check]:
    """Every check, in the order the report lists them."""
    return [promo_items(), products(), buyer_items(), orders(dialect, now),
            gateway_payments(), refunds(now), gateway_refunds(), idempotency_keys(now),
            order_keys(dialect), pushes(), cards()]


def kinds() -> dict[str, str]:
    """Every violation kind → the check (invariant) it belongs to, in the report's order."""
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    return {kind.name: check.name for check in checks("sqlite", epoch) for kind in check.kinds}


# ------------------------------------------------------------------ running them


def check_limit(limit: int) -> int:
    from wxshop_cli.errors import InvalidInput

    if not 0 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"--limit must be from 0 to {MAX_LIMIT:,}, not {limit}",
                           slug="invalid_audit_limit",
                           hint="how many violations to list; all are counted")
    return limit


def audit_session(session: Session, now: dt.datetime, *,
                  limit: int = DEFAULT_LIMIT) -> AuditReport:
    """Run every check in the caller's transaction (one snapshot is the caller's job)."""
    check_limit(limit)
    dialect = session.get_bind().dialect.name
    report = AuditReport(now=now, engine=dialect, limit=limit)
    for check in checks(dialect, now):
        counts = session.execute(select(
            func.count(),
            *(func.coalesce(func.sum(case((kind.violated, 1), else_=0)), 0)
              for kind in check.kinds)).select_from(check.source)).one()
        report.checked[check.name] = int(counts[0] if check.rows is None
                                         else session.execute(check.rows).scalar_one())
        found = {kind.name: int(n) for kind, n in zip(check.kinds, counts[1:], strict=True)
                 if n}
        report.counts.update(found)
        room = limit - len(report.violations)
        if found and room > 0:
            report.violations.extend(listed(session, check, found, room))
    name_ids(session, report.violations)
    return report




def audit_book(db: Database, now: dt.datetime, *, limit: int = DEFAULT_LIMIT) -> AuditReport:
    """Audit the whole book in one snapshot of the database `db` (a Database). Given a
    Session instead, the audit runs in that session's transaction (see audit_session)."""
    check_limit(limit)
    if isinstance(db, Session):
        return audit_session(db, now, limit=limit)
    with db.transaction(read_only=True) as session:
        if session.get_bind().dialect.name == "postgresql":
            # First statement of the transaction: every query below sees one snapshot, and
            # the audit can write nothing.
            session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        return audit_session(session, now, limit=limit)
