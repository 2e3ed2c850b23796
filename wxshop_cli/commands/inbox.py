"""`wxshop inbox [--all] [--mark-read] [--summary]`: the acting buyer's simulated phone and
promotion pushes, and the red dot."""

from __future__ import annotations

from typing import Annotated

import typer

from wxshop_cli.output import Column, emit
from wxshop_cli.paging_options import After, Limit, PageInfo

COLUMNS = [
    Column("id", "id"), Column("created_at", "created_at", "time"), Column("kind", "kind"),
    Column("code", "code"), Column("text", "text"), Column("read", "read", "bool"),
]


def inbox(
    all_: Annotated[bool, typer.Option("--all", help="Include messages already read.")]
    = False,
    mark_read: Annotated[bool, typer.Option(
        "--mark-read", help="Mark the listed messages read (a terminal does it anyway; "
                            "JSON and pipes leave them unread).")] = False,
    summary: Annotated[bool, typer.Option(
        "--summary", help="Only the unread counts, as one object: unread, sms, promo. "
                          "Marks nothing.")] = False,
    limit: Limit = 100, after: After = None, page_info: PageInfo = False,
) -> None:
    """The acting buyer's SMS codes and promotion pushes. Unread ones, newest first. Only
    what a terminal shows is marked read (or --mark-read); the unread count goes to stderr.

    Examples:
      $ wxshop --buyer lilei inbox
      # a script reading the SMS code of a binding leaves the messages unread
      $ wxshop --buyer lilei --json inbox
      $ wxshop --buyer lilei inbox --summary
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import inbox as core
    from wxshop_cli.core.paging import check_limit
    from wxshop_cli.db.engine import database
    from wxshop_cli.output import say, stdout_is_terminal
    from wxshop_cli.views.paging import page_out

    check_limit(limit)
    settings = current()
    db = database()
    if summary:
        with db.transaction(read_only=True) as session:
            counts = core.unread_of(session, settings.buyer)
        emit({"buyer": settings.buyer, **counts}, SUMMARY_COLUMNS,
             title=f"Inbox of {settings.buyer}")
        return
    with db.transaction(read_only=True) as session:
        page = core.read_inbox(session, settings.buyer, include_read=all_, tz=settings.tz,
                               limit=limit, after=after)
        unread = [m["id"] for m in page.rows if not m["read"]]
        # One page of many: the count says the whole inbox's, and how many are on the page.
        paged = page.has_more or after is not None
        total = core.unread_of(session, settings.buyer)["unread"] if paged else len(unread)
    shown_to_a_person = stdout_is_terminal() and not settings.json and not page_info
    on_page = f" ({len(unread):,} on this page)" if total != len(unread) else ""
    title = f"Inbox of {settings.buyer}" + (f" · {total:,} unread{on_page}" if total else "")
    empty = "no unread messages" if not all_ else "no messages"
    page_out(page, page_info, lambda messages: emit(
        messages, COLUMNS, title=title, empty=empty,
        human=lambda rows: _inbox_table(rows, title, empty)))
    if shown_to_a_person or mark_read:
        with db.transaction() as session:
            marked = core.mark_read(session, settings.buyer, unread)
        if marked and not shown_to_a_person:
            say(f"{marked:,} marked read")
    elif total:
        say(f"{total:,} unread{on_page}, left unread (--mark-read marks them read)")


SUMMARY_COLUMNS = [Column("buyer", "buyer"), Column("unread", "unread"), Column("sms", "sms"),
                   Column("promo", "promo")]


def _inbox_table(rows: list[dict], title: str, empty: str) -> None:
    """The terminal's inbox: id and time, kind and SMS code always whole; the text folds."""
    from datetime import datetime

    from rich.text import Text

    from wxshop_cli import clock, tables
    from wxshop_cli.config import current
    from wxshop_cli.output import print_table

    tz = current().tz

    def message(row: dict) -> Text:
        when = clock.human(datetime.fromisoformat(row["created_at"]), tz)
        return Text.assemble(row["id"], ("\n" + when, "dim"))

    def kind(row: dict) -> Text:
        text = Text(row["kind"], style="bold" if not row["read"] else "dim")
        if row.get("code"):
            text.append("\n" + row["code"], style="bold")
        return text

    print_table(rows, [
        tables.Col("message", message),
        tables.Col("kind", kind),
        tables.Col("text", lambda r: r["text"], flexible=True),
        tables.Col("read", lambda r: "yes" if r["read"] else "no"),
    ], title=title, empty=empty)
