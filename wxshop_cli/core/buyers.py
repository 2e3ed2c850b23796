"""Buyers: created the first time a name is used (SPEC section 1)."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, select

from wxshop_cli.config import check_buyer_name
from wxshop_cli.db.models import Buyer
from wxshop_cli.db.sql import insert_ignore
from wxshop_cli.errors import NotFound


def get_or_create_buyer(session: Session, name: str, now: dt.datetime) -> Buyer:
    """The buyer of that name, created on first use (safe when processes race)."""
    check_buyer_name(name)
    buyer = session.exec(select(Buyer).where(Buyer.name == name)).first()
    if buyer is not None:
        return buyer
    insert_ignore(session, Buyer, {"name": name, "created_at": now, "pay_failures": 0},
                  ["name"])
    return session.exec(select(Buyer).where(Buyer.name == name)).one()


def find_buyer(session: Session, name: str) -> Buyer | None:
    """The buyer of that name if it exists (reads never create buyers)."""
    check_buyer_name(name)
    return session.exec(select(Buyer).where(Buyer.name == name)).first()


def require_buyer(session: Session, name: str) -> Buyer:
    buyer = find_buyer(session, name)
    if buyer is None:
        raise NotFound(f"no buyer named {name!r}", slug="buyer_not_found")
    return buyer


def openid_of(buyer_name: str) -> str:
    """The buyer's openid as WeChat bills print it in 用户标识."""
    return f"oWXSHOP_{buyer_name}"
