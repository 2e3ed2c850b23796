"""A Double 11 rehearsal (`wxshop rehearse`, SPEC section 13): a seeded crowd, its storms,
and the verdict that proves the book afterwards.

The domain half, with no terminal and no processes: `prepare` publishes the promotion and
creates the crowd; `make_plan` decides, from the seed alone, who buys what and when, and
which storms hit; `verdict` checks the book once the crowd is gone. The command
(commands/rehearse.py) runs the plan through `wxshop buy --from -` worker processes — the
same checkout as every purchase — and draws the dashboard.

The package: `stage` (options, storms, `prepare`), `plan` (`make_plan`), `verdict` (the
checks), `figures` (the dashboard's numbers).
"""

from __future__ import annotations

from wxshop_cli.core.rehearsal.figures import SPARKS, percentile, sparkline, units_sold
from wxshop_cli.core.rehearsal.plan import Plan, Send, make_plan
from wxshop_cli.core.rehearsal.stage import (
    CARDS,
    CROWD_SCRYPT_N,
    MAX_BUYERS,
    PASSWORD,
    RETRY_OFFSET,
    RUSH_OFFSET,
    STORMS,
    Item,
    Options,
    Stage,
    parse_storms,
    prepare,
)
from wxshop_cli.core.rehearsal.verdict import Check, verdict

__all__ = ["CARDS", "CROWD_SCRYPT_N", "MAX_BUYERS", "PASSWORD", "RETRY_OFFSET", "RUSH_OFFSET",
           "SPARKS", "STORMS", "Check", "Item", "Options", "Plan", "Send", "Stage", "make_plan",
           "parse_storms", "percentile", "prepare", "sparkline", "units_sold", "verdict"]
