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
    emit(messages, COLUMNS, title=f"Inbox of {settings.buyer}",
         empty="no unread messages" if not all_ else "no messages")
