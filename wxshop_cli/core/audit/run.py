"""Running the checks: each first as one counting query, then (when it found violations) one
streamed query whose rows Python keeps in a bounded heap per kind; ids named at the end."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import case, func, or_, select, text
from sqlalchemy.orm import Session

from wxshop_cli.core.audit.base import DEFAULT_LIMIT, MAX_LIMIT, AuditReport, Check, Violation
from wxshop_cli.core.audit.buyers import cards, pushes
from wxshop_cli.core.audit.keys import idempotency_keys, order_keys
from wxshop_cli.core.audit.orders import orders
from wxshop_cli.core.audit.payments import gateway_payments, gateway_refunds, refunds
from wxshop_cli.core.audit.stock import buyer_items, products, promo_items
from wxshop_cli.db.models import Buyer, Promo


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
            report.violations.extend(_listed(session, check, found, room))
    _name_ids(session, report.violations)
    return report


def _listed(session: Session, check: Check, found: dict[str, int],
            room: int) -> list[Violation]:
    """The first `room` violations of a check, kind by kind, each kind in id order.

    One streamed query over the rows that violate any kind found, without ORDER BY (sorting
    in SQL made SQLite walk an index in random table order); Python keeps, per kind, the
    `room` smallest ids in a bounded heap, so memory stays bounded by `room`."""
    import heapq

    kinds = [kind for kind in check.kinds if kind.name in found]
    flags = [kind.violated.label(f"wx_kind_{n}") for n, kind in enumerate(kinds)]
    statement = (select(check.source, *flags).where(or_(*(kind.violated for kind in kinds)))
                 .execution_options(yield_per=1000))
    names = [column.name for column in check.order_by]
    heaps: list[list[tuple[_Reversed, int, Violation]]] = [[] for _ in kinds]
    seen = 0
    for row in session.execute(statement):
        key = _Reversed(tuple((row._mapping[name] is not None, row._mapping[name])
                              for name in names))
        for n, kind in enumerate(kinds):
            if not row[len(row) - len(kinds) + n]:
                continue
            heap = heaps[n]
            seen += 1
            if len(heap) < room:
                heapq.heappush(heap, (key, seen, kind.describe(row)))
            elif heap[0][0] < key:  # smaller id than the largest kept
                heapq.heapreplace(heap, (key, seen, kind.describe(row)))
    listed = [violation for heap in heaps
              for _, _, violation in sorted(heap, key=lambda entry: entry[0].key)]
    return listed[:room]


class _Reversed:
    """A sort key in reverse, so heapq's min-heap keeps the largest id on top."""

    __slots__ = ("key",)

    def __init__(self, key: tuple) -> None:
        self.key = key

    def __lt__(self, other: _Reversed) -> bool:
        return self.key > other.key


def _name_ids(session: Session, violations: list[Violation]) -> None:
    """Buyer ids become buyer names, promotion ids promotion codes (in the listed ones)."""
    buyer_ids = {v.ids["buyer_id"] for v in violations if "buyer_id" in v.ids}
    promo_ids = {v.ids["promo_id"] for v in violations if "promo_id" in v.ids}
    names = dict(session.execute(select(Buyer.id, Buyer.name).where(
        Buyer.id.in_(buyer_ids))).all()) if buyer_ids else {}
    codes = dict(session.execute(select(Promo.id, Promo.code).where(
        Promo.id.in_(promo_ids))).all()) if promo_ids else {}
    for violation in violations:
        renamed: dict[str, Any] = {}
        for key, value in violation.ids.items():
            if key == "buyer_id":
                renamed["buyer"] = names.get(value, f"#{value}")
            elif key == "promo_id":
                renamed["promo"] = codes.get(value, f"#{value}")
            else:
                renamed[key] = value
        violation.ids = renamed


def audit_book(db: Any, now: dt.datetime, *, limit: int = DEFAULT_LIMIT) -> AuditReport:
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
