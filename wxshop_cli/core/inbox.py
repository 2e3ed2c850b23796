"""The buyer's inbox: the simulated phone (SMS codes) and promotion pushes (the red dot).

SMS codes appear here in plain text, as on a phone's screen (SPEC section 5); the binding
itself keeps only a hash of the code. Listing unread messages marks them read.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from wxshop_cli.clock import iso
from wxshop_cli.db.models import InboxMessage

SMS = "sms"
PROMO = "promo"
KINDS = (SMS, PROMO)


def ordered_id(prefix: str) -> str:
    """`prefix_` + 14 hex digits of the real clock in microseconds + 10 random hex digits.

    Lists sort by a time (`created_at`, `bound_at`), which a frozen `--now` makes equal for
    many rows; the id then breaks the tie in the order the rows were made (the real clock
    keeps running even when wxshop's clock is frozen). Still unguessable: 40 random bits."""
    return f"{prefix}_{time.time_ns() // 1000:014x}{secrets.token_hex(5)}"


def new_message_id() -> str:
    return ordered_id("msg")


def push_message(session: Session, buyer_id: int, kind: str, text: str, now: dt.datetime,
                 code: str | None = None, promo_id: int | None = None) -> InboxMessage:
    """Put one message in a buyer's inbox (inside the caller's transaction).

    A promotion is pushed to a buyer once: a second push of the same `promo_id` breaks the
    unique constraint `uq_inbox_promo_once`; callers that may repeat should check first or use
    `push_promo_once`."""
    if kind not in KINDS:
        raise ValueError(f"unknown inbox message kind {kind!r}")
    message = InboxMessage(id=new_message_id(), buyer_id=buyer_id, kind=kind, text=text,
                           code=code, promo_id=promo_id, read=False, created_at=now)
    session.add(message)
    session.flush()
    return message


#: Buyers per multi-row INSERT (8 bound values each stays far below SQLite's limit).
PUSH_BATCH = 500


def push_promo_to(session: Session, buyer_ids: list[int], promo_id: int, text: str,
                  now: dt.datetime) -> int:
    """Push a promotion to every buyer who has not had it yet, in multi-row INSERTs that
    ignore the (buyer, promotion) conflict (safe when processes race). Returns how many
    messages were written."""
    from wxshop_cli.db.sql import dialect_insert

    table = InboxMessage.__table__
    pushed = 0
    for start in range(0, len(buyer_ids), PUSH_BATCH):
        rows = [{"id": new_message_id(), "buyer_id": buyer_id, "kind": PROMO, "text": text,
                 "code": None, "promo_id": promo_id, "read": False, "created_at": now}
                for buyer_id in buyer_ids[start:start + PUSH_BATCH]]
        statement = dialect_insert(session, InboxMessage).values(rows).on_conflict_do_nothing(
            index_elements=["buyer_id", "promo_id"]).returning(table.c.id)
        pushed += len(session.execute(statement).all())
    return pushed


def push_promo_once(session: Session, buyer_id: int, promo_id: int, text: str,
                    now: dt.datetime) -> bool:
    """Push a promotion to one buyer unless it was pushed before. True if pushed."""
    return push_promo_to(session, [buyer_id], promo_id, text, now) == 1


def unread_count(session: Session, buyer_id: int) -> int:
    """Unread messages of a buyer (the red dot)."""
    statement = select(func.count()).select_from(InboxMessage).where(
        InboxMessage.buyer_id == buyer_id, col(InboxMessage.read).is_(False))
    return int(session.exec(statement).one())


def message_public(message: InboxMessage, tz: Any) -> dict[str, Any]:
    """The JSON shape of SPEC section 3; an SMS also has its `code`."""
    data: dict[str, Any] = {
        "id": message.id,
        "kind": message.kind,
        "text": message.text,
        "created_at": iso(message.created_at, tz),
        "read": message.read,
    }
    if message.kind == SMS:
        data["code"] = message.code
    return data


def read_inbox(db: Any, buyer_name: str, *, include_read: bool, tz: Any) -> list[dict[str, Any]]:
    """The buyer's unread messages (or all with `include_read`), newest first, each shown
    with `read` as it was before this listing; the unread ones are then marked read.
    A buyer that does not exist yet has an empty inbox (reading creates nothing)."""
    from sqlalchemy import update

    from wxshop_cli.core.buyers import find_buyer

    with db.transaction() as session:
        buyer = find_buyer(session, buyer_name)
        if buyer is None:
            return []
        statement = select(InboxMessage).where(InboxMessage.buyer_id == buyer.id)
        if not include_read:
            statement = statement.where(col(InboxMessage.read).is_(False))
        statement = statement.order_by(col(InboxMessage.created_at).desc(),
                                       col(InboxMessage.id).desc())
        messages = session.exec(statement).all()
        shown = [message_public(m, tz) for m in messages]
        unread = [m.id for m in messages if not m.read]
        if unread:
            session.execute(update(InboxMessage).where(col(InboxMessage.id).in_(unread))
                            .values(read=True))
    return shown


def find_message(session: Session, buyer_id: int, message_id: str) -> InboxMessage | None:
    message = session.get(InboxMessage, message_id)
    if message is None or message.buyer_id != buyer_id:
        return None
    return message
