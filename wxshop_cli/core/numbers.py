"""Order and refund numbers from a database sequence (SPEC section 8).

`D` + the Beijing date + 10 digits (order numbers, the `out_trade_no`), `R` + date + 10
digits (refund numbers). The digits come from a row inserted into `number_sequence`, a
database-generated key, so numbers are unique across machines and under a frozen clock.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert
from sqlmodel import Session

from wxshop_cli.clock import beijing
from wxshop_cli.db.models import NumberSequence


def _next(session: Session, kind: str) -> int:
    table = NumberSequence.__table__
    return session.execute(insert(table).values(kind=kind).returning(table.c.id)).scalar_one()


def next_order_no(session: Session, now: dt.datetime) -> str:
    return f"D{now.astimezone(beijing()):%Y%m%d}{_next(session, 'order') % 10**10:010d}"


def next_refund_no(session: Session, now: dt.datetime) -> str:
    return f"R{now.astimezone(beijing()):%Y%m%d}{_next(session, 'refund') % 10**10:010d}"
