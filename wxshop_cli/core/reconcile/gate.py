"""Reconcile as a CI gate (`reconcile --fail-on KIND[,KIND] --allow KIND`): which open
discrepancies make the run fail (exit 8). docs/reconcile.md, "Reconcile as a CI gate".

- Neither option: every open discrepancy fails the run (as always).
- ``--fail-on``: only open discrepancies of those kinds fail it; the rest are reported.
- ``--allow``: those kinds never fail it (every other kind does, or every other kind of
  ``--fail-on`` when both are given).
- A kind both in ``--fail-on`` and ``--allow`` is a usage error: the two say opposite things.
- Only ``open`` items count: ``deferred`` ones wait for the next day's bill, ``resolved`` ones
  are settled. A stored run replayed (the same bill again) is judged afresh with the options
  given this time, on its items' status now (one resolved since no longer fails it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from wxshop_cli.core.reconcile.history import run_summary
from wxshop_cli.core.reconcile.match import KINDS
from wxshop_cli.db.models import Discrepancy
from wxshop_cli.errors import UsageError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from sqlmodel import Session


def parse_kinds(values: Iterable[str], option: str) -> tuple[str, ...]:
    """The kinds named by an option's values (each may be a comma-separated list), in
    KINDS order; UsageError naming the accepted kinds for an unknown or empty one."""
    named: set[str] = set()
    for value in values:
        for word in value.split(","):
            kind = word.strip()
            if kind not in KINDS:
                shown = repr(kind) if kind else "an empty kind"
                raise UsageError(f"{option}: {shown} is not a kind of discrepancy",
                                 slug="usage", hint=f"kinds: {', '.join(KINDS)}")
            named.add(kind)
    return tuple(kind for kind in KINDS if kind in named)


@dataclass(frozen=True)
class Gate:
    fail_on: tuple[str, ...]  # as given (empty: every kind)
    allow: tuple[str, ...]

    @property
    def failing_kinds(self) -> tuple[str, ...]:
        base = self.fail_on or KINDS
        return tuple(kind for kind in base if kind not in self.allow)

    def judge(self, open_by_kind: dict[str, int]) -> dict[str, Any]:
        """The gate's verdict on a run's open items: the public ``gate`` object."""
        failing = {kind: n for kind, n in open_by_kind.items()
                   if n and kind in self.failing_kinds}
        return {"fail_on": list(self.fail_on or KINDS), "allow": list(self.allow),
                "open_by_kind": {kind: n for kind, n in open_by_kind.items() if n},
                "failing": sum(failing.values()), "failing_by_kind": failing,
                "exit_code": 8 if failing else 0}


def gate(fail_on: Iterable[str], allow: Iterable[str]) -> Gate:
    """The gate of the options (see the module docstring)."""
    chosen = Gate(parse_kinds(fail_on, "--fail-on"), parse_kinds(allow, "--allow"))
    both = [kind for kind in chosen.fail_on if kind in chosen.allow]
    if both:
        raise UsageError(f"{', '.join(both)} is both in --fail-on and in --allow",
                         slug="usage", hint="name a kind in one of them")
    return chosen


def open_by_kind(session: Any, run_id: str) -> dict[str, int]:
    """Open discrepancies of a run, per kind (every kind, zeros included)."""
    d = Discrepancy.__table__.c
    counts = dict.fromkeys(KINDS, 0)
    for kind, n in session.execute(select(d.kind, func.count()).where(
            d.run_id == run_id, d.status == "open").group_by(d.kind)):
        counts[kind] = n
    return counts


def run_verdict(session: Session, run_id: str, tz: ZoneInfo, *, replayed: bool,
                gate: Gate | None) -> tuple[dict[str, Any], int]:
    """`reconcile`'s summary of its run (`replayed`, and the gate's verdict when one was
    given) and its exit code: 8 when an open discrepancy fails the run (any, or those `gate`
    says)."""
    summary = run_summary(session, run_id, tz)
    summary["replayed"] = replayed
    code = 8 if summary["open"] else 0
    if gate is not None:
        summary["gate"] = gate.judge(open_by_kind(session, run_id))
        code = summary["gate"]["exit_code"]
    return summary, code
