"""The audit's shapes — a `Violation`, the `AuditReport`, a `Check` and its `Kind`s — its
constants, and the SQL helpers the checks share."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, not_

from wxshop_cli.core import orders as states
from wxshop_cli.core.checkout import CLAIM_TIMEOUT

DEFAULT_LIMIT = 1000
MAX_LIMIT = 1_000_000

PAID_LIKE = (states.PAID, states.PARTIALLY_REFUNDED, states.REFUNDED)
#: A refund still `processing`, or a charge of a closed order not yet refunded, younger than
#: this (by the audit's clock) is in flight: the process making it writes its next step in
#: a moment. Older, nothing will finish it. The same 60 s as an idempotency claim's.
IN_FLIGHT = CLAIM_TIMEOUT
ORDER_NO_FORM = "D + 8-digit date + 10 digits"


@dataclass
class Violation:
    """One broken invariant: its kind, the ids of what broke it, and what was expected."""

    kind: str
    ids: dict[str, Any]
    expected: Any
    found: Any
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.ids, "expected": self.expected, "found": self.found,
                "detail": self.detail}


@dataclass
class AuditReport:
    """What was checked (rows per invariant), how many violations of each kind, and the
    first `limit` of them."""

    now: dt.datetime
    engine: str
    limit: int
    checked: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # kind → violations (non-zero only)
    violations: list[Violation] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def clean(self) -> bool:
        return self.total == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "checked": dict(self.checked),
            "violation_count": self.total,
            "counts": dict(self.counts),
            "listed": len(self.violations),
            "truncated": len(self.violations) < self.total,
            "violations": [v.to_json() for v in self.violations],
        }


# ------------------------------------------------------------------ the checks


@dataclass
class Kind:
    """A kind of violation of a check: when a row violates it and how that row reads."""

    name: str
    violated: ColumnElement[bool]
    describe: Callable[[Any], Violation]


@dataclass
class Check:
    name: str
    kinds: list[Kind]
    source: Any  # the subquery whose rows are checked
    order_by: Sequence[Any]  # how its violations are listed (by id)
    rows: Any = None  # what `checked` counts, when not the source's rows


def is_in(column, values) -> ColumnElement[bool]:
    return column.in_(list(values))


def order_no_malformed(column, dialect: str) -> ColumnElement[bool]:
    """Not `D` + a plausible 8-digit date (month 01-12, day 01-31) + 10 digits."""
    if dialect == "postgresql":
        digits = column.op("~")(literal("^D[0-9]{18}$"))
    else:
        # (ltrim of the digits: a tenth of the cost of an 18-class GLOB per row)
        digits = and_(func.length(column) == 19, func.substr(column, 1, 1) == "D",
                      func.ltrim(func.substr(column, 2), "0123456789") == "")
    month, day = func.substr(column, 6, 2), func.substr(column, 8, 2)
    return not_(and_(digits, month.between("01", "12"), day.between("01", "31")))


def seconds_between(later, earlier, dialect: str):
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0

