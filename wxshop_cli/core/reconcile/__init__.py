"""Reconcile a WeChat Pay trade bill against the merchant's book (SPEC section 9).

One pass over the bill, which is never held in memory:

**Read, check and stage** (`stage`): `BillReader` checks every row and, at the end,
the summary against running sums; every row's 商户号 (or, in a service provider's bill,
特约商户号/子商户号) must be this shop's merchant number; the same loop writes each row into a
TEMPORARY table in batches (SQLite `executemany`, PostgreSQL `COPY`) and finds the bill's day.
Any defect is InvalidInput (exit 3) naming the line: the transaction is rolled back and the
connection closed, which drops the private temporary table with everything staged, so a
rejected bill leaves nothing. Then **match** (`match`): every comparison is SQL — joins of
the staged rows with `orders` / `refund`, anti-joins for what the book has and the bill
lacks — whose findings land in a second temporary table. Python only ever holds one batch of
rows.

Then one short write transaction records the run (`runs`) and copies the findings into
`discrepancy`.

Locks. Buyers must keep buying while a million-row bill is matched:
- SQLite: temporary tables live in the connection's own `temp` database, so writing them
  takes no lock on the main database file. Reading, staging and matching therefore run in a
  *deferred* transaction (`BEGIN`, the engine's read-only mode, never `BEGIN IMMEDIATE`): it
  holds a WAL read snapshot of the book — one consistent view for every query — and no write
  lock, so buyers' `BEGIN IMMEDIATE` transactions go on meanwhile. Only the final insert of the run
  takes the write lock (`BEGIN IMMEDIATE`), for milliseconds. `temp_store=FILE` keeps the
  staged rows on disk (in SQLite's temp directory), not in RAM.
- PostgreSQL: temporary tables are private to the session; writing them locks nothing that
  another session uses. Stage and match run in one REPEATABLE READ transaction (one snapshot
  of the book for every query, no row locks taken), then the run is written in a separate
  READ COMMITTED transaction, under an advisory lock on the bill's key so that two identical
  reconciliations at once record one run.
The temporary tables are dropped at the end (the connection goes back to the pool).

Classification, per bill row, first kind that applies:
`duplicate` (a later copy of the same transaction id among payment rows, or refund id among
refund rows), `missing_in_book` (payment row, no such order), `status_mismatch` (payment row,
the order has no recorded payment — pending, paying, closed — or one with another transaction
id; or a REVOKED row for a paid order), `amount_mismatch` (订单金额 ≠ the order amount),
`refund_mismatch` (refund row with no book refund of that number, or of another order, amount,
or state: SUCCESS↔success, PROCESSING↔processing, CLOSED↔closed; ABNORMAL matches nothing),
`fee_mismatch` (手续费 ≠ ± amount × 费率, else the merchant's rate, half-up). Book side, for the
bill day (Beijing): payments (orders with a success time that day) absent from an ALL/SUCCESS
bill are `missing_in_bill` — `deferred` within 5 minutes before midnight — and refunds
(`success`/`processing`, requested that day) absent from an ALL/REFUND bill are
`refund_mismatch`. Reconciling day D+1 settles the deferred items of D: found in the bill of
D+1 → resolved; not found → an open `missing_in_bill` in the D+1 run (the D item is closed
with a note pointing there).

Modules: ``stage`` (the temporary tables and the one pass), ``match`` (the SQL matching
engine), ``runs`` (a run created: the phases, their transactions, the record), ``history``
(runs read back), ``resolve`` (a person closes a finding).
"""

from wxshop_cli.core.reconcile.history import (
    STATUSES,
    discrepancy_page,
    discrepancy_public,
    get_run,
    iter_discrepancies,
    list_runs,
    run_public,
    run_summary,
)
from wxshop_cli.core.reconcile.match import KINDS, MIDNIGHT_TOLERANCE
from wxshop_cli.core.reconcile.resolve import check_note, resolve
from wxshop_cli.core.reconcile.runs import Reconciled, reconcile
from wxshop_cli.core.reconcile.stage import BillFacts, Progress, bill_day, date_mismatch_warning

__all__ = [
    "KINDS",
    "MIDNIGHT_TOLERANCE",
    "STATUSES",
    "BillFacts",
    "Progress",
    "Reconciled",
    "bill_day",
    "check_note",
    "date_mismatch_warning",
    "discrepancy_public",
    "get_run",
    "discrepancy_page",
    "iter_discrepancies",
    "list_runs",
    "reconcile",
    "resolve",
    "run_public",
    "run_summary",
]
