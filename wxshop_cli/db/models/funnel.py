"""What the conversion funnel records besides the book (core/funnel.py): the attempts that
ended without an order (sold out, over the limit, a wrong payment password) and the buyers a
promotion's strips were shown to (`promo list`, once per buyer, promotion and local day).
An attempt that made an order is the order itself; a push is the inbox message."""

# No `from __future__ import annotations` here: pydantic would have to evaluate every field's
# annotation string when the models are defined.
import datetime as dt

from sqlalchemy import Index
from sqlmodel import Field

from wxshop_cli.db.models.base import SQLModel, utc_field


class FunnelEvent(SQLModel, table=True):
    """An attempt that ended before an order: `sold_out` and `limit` are written by the
    claim in its own transaction, `wrong_password` when the password is refused."""

    __tablename__ = "funnel_event"
    __table_args__ = (
        Index("ix_funnel_event_promo_at", "promo_id", "at"),
        Index("ix_funnel_event_at", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    step: str = Field(max_length=16)  # sold_out | limit | wrong_password
    buyer_id: int = Field(foreign_key="buyer.id")
    promo_id: int | None = Field(default=None, foreign_key="promo.id")
    item_id: str | None = Field(default=None, max_length=40)
    sku: str = Field(max_length=64)
    region_code: str = Field(default="", max_length=6)  # "" for a top-up or unknown
    at: dt.datetime = utc_field()


class PromoView(SQLModel, table=True):
    """A buyer saw a promotion's strips (`promo list`): once per buyer, promotion and day
    (in WXSHOP_TZ), written by insert-or-ignore."""

    __tablename__ = "promo_view"

    promo_id: int = Field(foreign_key="promo.id", primary_key=True)
    buyer_id: int = Field(foreign_key="buyer.id", primary_key=True)
    day: dt.date = Field(primary_key=True)
    at: dt.datetime = utc_field(index=True)  # the first view that day
