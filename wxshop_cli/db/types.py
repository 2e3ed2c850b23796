"""Column types shared by every model."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import BigInteger, DateTime
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime on both engines.

    PostgreSQL keeps `timestamptz`; SQLite would drop the offset silently, so values are
    normalised to UTC on the way in and marked UTC on the way out. Naive values are refused:
    a naive time is a bug (every time comes from the clock module)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


#: 64-bit money columns (fen).
Money = BigInteger


def new_id(prefix: str) -> str:
    """Prefixed random ids: `card_3f9c…`, `addr_…`, `item_…`, `bind_…`, `run_…`, `dsc_…`."""
    return f"{prefix}_{secrets.token_hex(8)}"
