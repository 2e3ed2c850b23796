"""The dashboard's numbers: units sold per SKU, percentiles, a sparkline."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from wxshop_cli.core.rehearsal.stage import Stage
from wxshop_cli.core.rehearsal.verdict import units_of

if TYPE_CHECKING:
    from sqlmodel import Session

# ------------------------------------------------------------------ the dashboard's numbers


def units_sold(session: Session, stage: Stage) -> dict[str, int]:
    """Units sold per SKU of the promotion: what a rehearsal with the same seed repeats."""
    units = units_of(session)
    return {item.sku: units.get(item.id, 0) for item in stage.items}


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered)) - 1))]


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(counts: list[int]) -> str:
    top = max(counts, default=0)
    if top == 0:
        return ""
    return "".join(SPARKS[min(len(SPARKS) - 1, int(c * (len(SPARKS) - 1) / top))]
                   for c in counts)
