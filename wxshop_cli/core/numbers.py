"""Order and refund numbers from a database sequence (SPEC section 8).

`D` + the Beijing date + 10 digits (order numbers, the `out_trade_no`), `R` + date + 10
digits (refund numbers). The digits come from a row inserted into `number_sequence`, a
database-generated key, so numbers are unique across machines and under a frozen clock.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, insert

from wxshop_cli.clock import beijing
from wxshop_cli.db.models import NumberSequence
from wxshop_cli.db.prepared import Prepared, TxOrSession, as_tx

_NEXT = Prepared(lambda _: insert(NumberSequence.__table__).values(
    kind=bindparam("b_kind")).returning(NumberSequence.__table__.c.id))


def _next(tx: TxOrSession, kind: str) -> int:
    return as_tx(tx).one(_NEXT, b_kind=kind)[0]


def next_order_no(tx: TxOrSession, now: dt.datetime) -> str:
    """`tx`: a Session or a hot transaction."""
    return f"D{now.astimezone(beijing()):%Y%m%d}{_next(tx, 'order') % 10**10:010d}"


def next_refund_no(tx: TxOrSession, now: dt.datetime) -> str:
    return f"R{now.astimezone(beijing()):%Y%m%d}{_next(tx, 'refund') % 10**10:010d}"
