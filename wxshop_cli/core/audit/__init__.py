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
`orders`, `payments`, `keys`, `buyers`), and `run` (counting, listing, naming, the snapshot).
"""

from __future__ import annotations

from wxshop_cli.core.audit.base import (
    DEFAULT_LIMIT,
    IN_FLIGHT,
    MAX_LIMIT,
    AuditReport,
    Check,
    Kind,
    Violation,
)
from wxshop_cli.core.audit.run import audit_book, audit_session, check_limit, checks, kinds

__all__ = ["DEFAULT_LIMIT", "IN_FLIGHT", "MAX_LIMIT", "AuditReport", "Check", "Kind",
           "Violation", "audit_book", "audit_session", "check_limit", "checks", "kinds"]
