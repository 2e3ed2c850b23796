"""Listing a check's violations: one streamed query over the rows that violate something,
the `room` smallest ids per kind kept in a bounded heap; then ids named (buyers, promotions)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from wxshop_cli.core.audit.base import Check, Violation
from wxshop_cli.db.models import Buyer, Promo


def listed(session: Session, check: Check, found: dict[str, int],
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


def name_ids(session: Session, violations: list[Violation]) -> None:
    """Buyer ids become buyer names, promotion ids promotion codes (in the listed ones)."""
    buyer_ids = {v.ids["buyer_id"] for v in violations if "buyer_id" in v.ids}
    promo_ids = {v.ids["promo_id"] for v in violations if "promo_id" in v.ids}
    names = dict(session.execute(select(col(Buyer.id), col(Buyer.name)).where(
        col(Buyer.id).in_(buyer_ids))).all()) if buyer_ids else {}
    codes = dict(session.execute(select(col(Promo.id), col(Promo.code)).where(
        col(Promo.id).in_(promo_ids))).all()) if promo_ids else {}
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

