"""The paging options of every list, declared once (docs/decisions-cli.md "Paging"):
core.paging reads the page, views.paging prints it. Only typer here: `--help` stays light.
"""

from __future__ import annotations

from typing import Annotated

import typer

#: The paging options of every list (core.paging reads the page, views.paging prints it;
#: docs/decisions-cli.md "Paging"). 100 and 1000 are core.paging's DEFAULT_LIMIT and
#: MAX_LIMIT, spelled here so that --help imports no SQLAlchemy (tests/test_paging.py checks
#: they agree).
Limit = Annotated[int, typer.Option("--limit", metavar="N",
                                    help="Rows per page: 1 to 1000.")]
After = Annotated[str | None, typer.Option(
    "--after", metavar="CURSOR",
    help="The next page: the cursor the previous page printed (stderr, or next_cursor).")]
PageInfo = Annotated[bool, typer.Option(
    "--page-info", help='Print one JSON object {"data": [...], "has_more", "next_cursor"}.')]
