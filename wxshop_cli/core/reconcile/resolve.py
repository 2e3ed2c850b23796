"""A person closes a reconciliation finding with a note."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlmodel import col

from wxshop_cli.core.reconcile.history import get_run
from wxshop_cli.core.text import check_text
from wxshop_cli.db.models import Discrepancy
from wxshop_cli.db.sql import rows_changed
from wxshop_cli.errors import Conflict, NotFound

if TYPE_CHECKING:
    from sqlmodel import Session


def check_note(note: str) -> str:
    return check_text(note, field="--note", limit=500, slug="invalid_note")


def resolve(session: Session, run_id: str, item_id: str, note: str,
            now: dt.datetime) -> tuple[Discrepancy, bool]:
    """Close an open or deferred item with a note. Returns (item, changed). Resolving again
    with the same note changes nothing; with another note it is a conflict."""
    note = check_note(note)
    get_run(session, run_id)
    item = session.get(Discrepancy, item_id)
    if item is None or item.run_id != run_id:
        raise NotFound(f"no discrepancy {item_id} in run {run_id}",
                       slug="discrepancy_not_found",
                       hint=f"see `wxshop reconciliations show {run_id}`")
    if item.status == "resolved":
        if item.note == note:
            return item, False
        raise Conflict(f"discrepancy {item_id} is already resolved",
                       slug="discrepancy_resolved", hint=f"its note: {item.note}")
    changed = rows_changed(session, update(Discrepancy).where(
        col(Discrepancy.id) == item_id, col(Discrepancy.status).in_(("open", "deferred"))
    ).values(status="resolved", note=note, resolved_at=now))
    if changed != 1:
        raise Conflict(f"discrepancy {item_id} changed meanwhile; try again",
                       slug="discrepancy_resolved")
    session.expire(item)
    return session.get_one(Discrepancy, item_id), True
