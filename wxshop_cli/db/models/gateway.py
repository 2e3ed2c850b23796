"""The sandbox gateway's ledger (`gw_*`): its cards, their daily totals, payments, refunds.
Written in transactions of its own, apart from the book, so that the two can disagree."""

# No `from __future__ import annotations` here: pydantic would have to evaluate every field's
# annotation string when the models are defined.
import datetime as dt

from sqlalchemy import Column, Date
from sqlmodel import Field

from wxshop_cli.db.models.base import SQLModel, money_field, utc_field


class GatewayCard(SQLModel, table=True):
    """How the sandbox bank treats a bound card (recorded when it is bound)."""

    __tablename__ = "gw_card"

    token: str = Field(primary_key=True, max_length=40)
    behaviour: str = Field(max_length=20)  # approve|decline|insufficient_funds|frozen|timeout
    bank_code: str = Field(max_length=32)
    single_limit_fen: int = money_field()
    daily_limit_fen: int = money_field()
    created_at: dt.datetime = utc_field()


class GatewayCardDay(SQLModel, table=True):
    """Per-card-per-day spend, raised by one conditional update (never sum-then-insert)."""

    __tablename__ = "gw_card_day"

    token: str = Field(primary_key=True, max_length=40)
    day: dt.date = Field(sa_column=Column(Date, primary_key=True))
    used_fen: int = money_field(0)


class GatewayPayment(SQLModel, table=True):
    __tablename__ = "gw_payment"

    out_trade_no: str = Field(primary_key=True, max_length=32)
    transaction_id: str | None = Field(default=None, max_length=32, unique=True)
    openid: str = Field(max_length=64)
    card_token: str = Field(max_length=40)
    bank_code: str = Field(max_length=32)
    product: str = Field(max_length=200)
    amount_fen: int = money_field()
    fee_fen: int = money_field(0)
    rate_ppm: int
    status: str = Field(max_length=12)  # SUCCESS | FAILED | PENDING
    failure_code: str | None = Field(default=None, max_length=32)
    created_at: dt.datetime = utc_field()
    paid_at: dt.datetime | None = utc_field(nullable=True, index=True)


class GatewayRefund(SQLModel, table=True):
    __tablename__ = "gw_refund"

    refund_id: str = Field(primary_key=True, max_length=32)  # 29 digits starting 50
    out_refund_no: str = Field(max_length=32, unique=True)
    out_trade_no: str = Field(max_length=32, index=True)
    amount_fen: int = money_field()
    fee_fen: int = money_field(0)  # negative: the fee returned
    status: str = Field(max_length=12)  # SUCCESS | PROCESSING | CLOSED | ABNORMAL
    created_at: dt.datetime = utc_field(index=True)
    succeeded_at: dt.datetime | None = utc_field(nullable=True)


