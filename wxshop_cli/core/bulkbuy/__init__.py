"""Many purchases in one process (`wxshop buy --from FILE|-`, SPEC section 13).

Every line goes through the same claim → bank → outcome as `wxshop buy` (checkout.claim_in,
checkout.record_outcome): sold out, limits and idempotency behave exactly as single buys.
What a batch adds:

- **group commit**: up to `group` claims share one transaction (a savepoint each), the bank
  charges them in one of its own transactions, and their outcomes share the next one. A line's
  result is handed to `emit` only after its outcome committed, so a crash never shows a
  purchase that did not happen.
- **workers**: threads, each with its own connection, working the stream (on PostgreSQL the
  server does the work in parallel; on SQLite writers take turns at the write lock).
- each buyer's payment password is verified once per batch (the lock rules still apply).

The package: `lines` (parsing a line), `engine` (`BatchBuy`: threads, groups, results,
interrupts), `groups` (one group's claims, charges and outcomes), `results` (what is reported).
"""

from __future__ import annotations

from wxshop_cli.core.bulkbuy.engine import BatchBuy
from wxshop_cli.core.bulkbuy.groups import GROUP_TRIES
from wxshop_cli.core.bulkbuy.lines import FIELDS, MAX_LINE_CHARS, BatchLine, parse_line
from wxshop_cli.core.bulkbuy.results import SOME_NOT_PAID, BatchSummary, LineResult

__all__ = ["FIELDS", "GROUP_TRIES", "MAX_LINE_CHARS", "SOME_NOT_PAID", "BatchBuy", "BatchLine",
           "BatchSummary", "LineResult", "parse_line"]
