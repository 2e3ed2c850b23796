"""Pages on the way out (docs/decisions-cli.md "Paging"): the one place that decides how a
script and a person learn that a list goes on.

- Without `--page-info` the list prints as it always did (a JSON array, TSV rows or a
  table) and, when more rows exist, ONE line on stderr names the cursor of the next page:
  `more: 100 shown; next page: --after c1.…`. It prints even with --quiet: a cut list is
  never silent.
- With `--page-info`, stdout is one JSON object `{"data": …, "has_more": …,
  "next_cursor": …}` (Stripe's `has_more`, with the cursor to pass as --after), whatever
  the output mode: `data` is exactly what the command prints without it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from wxshop_cli.escaping import shown


def more_note(count: int, cursor: str | None) -> None:
    """The stderr line of a page that has more after it (nothing when it is the last)."""
    if cursor is None:
        return
    sys.stderr.write(shown(f"more: {count:,} shown; next page: --after {cursor}") + "\n")
    sys.stderr.flush()


def page_out(page: Any, page_info: bool, draw: Callable[[Any], None],
             data: Any = None) -> None:
    """Print a page: `draw(rows)` (the list's own rendering) and the more note, or with
    `page_info` the JSON object. `data` replaces the rows as the object's `data` (a run
    whose discrepancies are the page)."""
    from wxshop_cli.output import print_json

    if page_info:
        print_json({"data": page.rows if data is None else data, **page.info()})
        return
    draw(page.rows)
    more_note(len(page.rows), page.next_cursor)
