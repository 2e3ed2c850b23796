"""`wxshop inbox [--all]`: the acting buyer's simulated phone and promotion pushes."""

from __future__ import annotations

from typing import Annotated

import typer

from wxshop_cli.output import Column, emit

COLUMNS = [
    Column("id", "id"), Column("created_at", "created_at", "time"), Column("kind", "kind"),
    Column("code", "code"), Column("text", "text"), Column("read", "read", "bool"),
]


def inbox(
    all_: Annotated[bool, typer.Option("--all", help="Include messages already read.")]
    = False,
) -> None:
    """Unread SMS codes and promotion pushes of the acting buyer, newest first; listing marks
    them read (`read` shows the state before this listing)."""
    from wxshop_cli.config import current
    from wxshop_cli.core.inbox import read_inbox
    from wxshop_cli.db.engine import database

    settings = current()
    messages = read_inbox(database(), settings.buyer, include_read=all_, tz=settings.tz)
    empty = "no unread messages" if not all_ else "no messages"
    emit(messages, COLUMNS, title=f"Inbox of {settings.buyer}", empty=empty,
         human=lambda rows: _inbox_table(rows, f"Inbox of {settings.buyer}", empty))


def _inbox_table(rows: list[dict], title: str, empty: str) -> None:
    """The terminal's inbox: id and time, kind and SMS code always whole; the text folds."""
    from datetime import datetime

    from rich.text import Text

    from wxshop_cli import clock, tables
    from wxshop_cli.config import current

    tz = current().tz

    def message(row: dict) -> Text:
        when = clock.human(datetime.fromisoformat(row["created_at"]), tz)
        return Text.assemble(row["id"], ("\n" + when, "dim"))

    def kind(row: dict) -> Text:
        text = Text(row["kind"], style="bold" if not row["read"] else "dim")
        if row.get("code"):
            text.append("\n" + row["code"], style="bold")
        return text

    tables.render(rows, [
        tables.Col("message", message),
        tables.Col("kind", kind),
        tables.Col("text", lambda r: r["text"], flexible=True),
        tables.Col("read", lambda r: "✓" if r["read"] else ""),
    ], title=title, empty=empty)
