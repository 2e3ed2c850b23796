"""The merchant's book: orders, refunds, and the idempotency keys of purchases."""

# No `from __future__ import annotations` here: pydantic would have to evaluate every field's
# annotation string when the models are defined.
import datetime as dt

from sqlalchemy import Index
from sqlmodel import Field

from wxshop_cli.db.models.base import SQLModel, money_field, utc_field


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    # `orders list` filters by buyer, status, promotion or day, newest first: each filter has
    # an index that also gives the order, so a page costs the same at a million orders as at
    # ten thousand (no long walk of the created_at index skipping other buyers' or statuses'
    # orders, no sort). `report sales --date` reads the day through paid_at's index.
    # See tests/test_indexes.py and bench/growth.py.
    __table_args__ = (
        Index("ix_orders_buyer_created", "buyer_id", "created_at", "order_no"),
        Index("ix_orders_status_created", "status", "created_at", "order_no"),
        Index("ix_orders_promo_created", "promo_id", "created_at", "order_no"),
        Index("ix_orders_created", "created_at", "order_no"),
    )

    order_no: str = Field(primary_key=True, max_length=32)  # out_trade_no
    buyer_id: int = Field(foreign_key="buyer.id")
    promo_id: int | None = Field(default=None, foreign_key="promo.id")
    item_id: str | None = Field(default=None, max_length=40)
    sku: str = Field(max_length=64)
    title: str = Field(max_length=200)
    qty: int
    unit_price_fen: int = money_field()
    amount_fen: int = money_field()
    refunded_fen: int = money_field(0)
    card_id: str = Field(max_length=40)
    address_id: str = Field(max_length=40)
    region_code: str = Field(max_length=6)
    # A top-up's mobile number (11 digits), kept as an address's phone is (the carrier needs
    # it) and shown masked; its address_id and region_code are "" (nothing ships).
    mobile: str | None = Field(default=None, max_length=20)
    status: str = Field(max_length=20)
    transaction_id: str | None = Field(default=None, max_length=32)
    idempotency_key: str | None = Field(default=None, max_length=128)
    # Guards the give-back of stock and limit: it can happen once only.
    stock_returned: bool = Field(default=False)
    created_at: dt.datetime = utc_field()
    paid_at: dt.datetime | None = utc_field(nullable=True, index=True)
    closed_at: dt.datetime | None = utc_field(nullable=True)
    close_reason: str | None = Field(default=None, max_length=40)


class Refund(SQLModel, table=True):
    __tablename__ = "refund"

    refund_no: str = Field(primary_key=True, max_length=32)
    order_no: str = Field(foreign_key="orders.order_no", index=True, max_length=32)
    amount_fen: int = money_field()
    status: str = Field(max_length=12)  # processing | success | closed
    reason: str = Field(default="", max_length=200)
    gateway_refund_id: str | None = Field(default=None, max_length=32)
    created_at: dt.datetime = utc_field(index=True)
    succeeded_at: dt.datetime | None = utc_field(nullable=True)


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_key"

    buyer_id: int = Field(foreign_key="buyer.id", primary_key=True)
    key: str = Field(primary_key=True, max_length=128)
    request_hash: str = Field(max_length=64)
    state: str = Field(max_length=10)  # running | done
    order_no: str | None = Field(default=None, max_length=32)
    exit_code: int | None = Field(default=None)
    response_json: str | None = Field(default=None)
    claimed_at: dt.datetime = utc_field()
    expires_at: dt.datetime = utc_field(index=True)


