"""The buyer's inbox: the simulated phone (SMS codes) and promotion pushes (the red dot).

SMS codes appear here in plain text, as on a phone's screen (SPEC section 5); the binding
itself keeps only a hash of the code. Listing reads; only what a person was shown on a
terminal (or what `--mark-read` names) is then marked read, by id (`mark_read`): a script
reading an SMS code leaves the buyer's red dot as it was (issue 14, item 7).
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from wxshop_cli.clock import iso
from wxshop_cli.core.paging import DEFAULT_LIMIT, Key, Ordering, Page, empty_page, read_page
from wxshop_cli.db.models import InboxMessage
from wxshop_cli.db.sql import rows_changed

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

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


def unread_count(session: Session, buyer_id: int, kind: str | None = None) -> int:
    """Unread messages of a buyer (the red dot), or of one kind (`promo`: the dot on "My bank
    cards")."""
    statement = select(func.count()).select_from(InboxMessage).where(
        InboxMessage.buyer_id == buyer_id, col(InboxMessage.read).is_(False))
    if kind is not None:
        statement = statement.where(InboxMessage.kind == kind)
    return int(session.exec(statement).one())


def unread_of(session: Session, buyer_name: str) -> dict[str, int]:
    """`{"unread": n, "sms": n, "promo": n}` for a buyer (zeros for one not created yet).
    Reads only."""
    from wxshop_cli.core.buyers import find_buyer

    counts = {"unread": 0, SMS: 0, PROMO: 0}
    buyer = find_buyer(session, buyer_name)
    if buyer is None:
        return counts
    rows = session.exec(select(InboxMessage.kind, func.count()).where(
        InboxMessage.buyer_id == buyer.id, col(InboxMessage.read).is_(False))
        .group_by(InboxMessage.kind)).all()
    for kind, count in rows:
        counts[kind] = int(count)
        counts["unread"] += int(count)
    return counts


def message_public(message: InboxMessage, tz: ZoneInfo) -> dict[str, Any]:
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


#: `inbox`: newest first (the id, time-ordered, makes the order unique).
INBOX = Ordering("inbox", (Key(InboxMessage.created_at, "time", descending=True),
                           Key(InboxMessage.id, "str", descending=True)))


def read_inbox(session: Session, buyer_name: str, *, include_read: bool, tz: ZoneInfo,
               limit: int = DEFAULT_LIMIT, after: str | None = None) -> Page:
    """A page of the buyer's unread messages (or all with `include_read`), newest first,
    each with `read` as it is now. Reads only: nothing is marked (see `mark_read`). A buyer
    that does not exist yet has an empty inbox (reading creates nothing)."""
    from wxshop_cli.core.buyers import find_buyer

    buyer = find_buyer(session, buyer_name)
    if buyer is None:
        return empty_page(INBOX, limit=limit, after=after)
    statement = select(InboxMessage).where(InboxMessage.buyer_id == buyer.id)
    if not include_read:
        statement = statement.where(col(InboxMessage.read).is_(False))
    page = read_page(session, statement, INBOX, limit=limit, after=after)
    return page.map(lambda m: message_public(m, tz))


def mark_read(session: Session, buyer_name: str, message_ids: list[str]) -> int:
    """Mark these messages of the buyer read (those shown to a person); returns how many
    were unread. Messages that arrived since the listing keep their red dot."""
    from sqlalchemy import update

    from wxshop_cli.core.buyers import find_buyer

    if not message_ids:
        return 0
    buyer = find_buyer(session, buyer_name)
    if buyer is None:
        return 0
    marked = 0
    for start in range(0, len(message_ids), PUSH_BATCH):
        chunk = message_ids[start:start + PUSH_BATCH]
        marked += rows_changed(session, update(InboxMessage).where(
            col(InboxMessage.buyer_id) == buyer.id, col(InboxMessage.id).in_(chunk),
            col(InboxMessage.read).is_(False)).values(read=True)) or 0
    return marked


def find_message(session: Session, buyer_id: int, message_id: str) -> InboxMessage | None:
    message = session.get(InboxMessage, message_id)
    if message is None or message.buyer_id != buyer_id:
        return None
    return message
