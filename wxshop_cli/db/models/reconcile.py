"""Reconciliation: the runs against a bill and the discrepancies they found."""

# No `from __future__ import annotations` here: pydantic would have to evaluate every field's
# annotation string when the models are defined.
import datetime as dt

from sqlalchemy import Column, Date, Index
from sqlmodel import Field

from wxshop_cli.db.models.base import SQLModel, money_field, utc_field


class ReconcileRun(SQLModel, table=True):
    __tablename__ = "reconcile_run"
    __table_args__ = (Index("ix_reconcile_run_content", "content_sha256", "bill_date"),
                      # `reconciliations list`: newest first
                      Index("ix_reconcile_run_created", "created_at", "id"))

    id: str = Field(primary_key=True, max_length=40)  # run_…
    content_sha256: str = Field(max_length=64)
    bill_date: dt.date = Field(sa_column=Column(Date, nullable=False))
    bill_type: str = Field(max_length=8)
    source: str = Field(default="", max_length=500)  # the file as given (or <stdin>)
    rows: int
    matched: int
    # Totals of what was compared (payments: 订单金额 of successful payment rows / the book's
    # payments of that day; refunds: SUCCESS and PROCESSING refunds); *_total_fen is the net.
    bill_payments: int = Field(default=0)
    bill_payment_fen: int = money_field(0)
    bill_refunds: int = Field(default=0)
    bill_refund_fen: int = money_field(0)
    bill_fee_fen: int = money_field(0)
    book_payments: int = Field(default=0)
    book_payment_fen: int = money_field(0)
    book_refunds: int = Field(default=0)
    book_refund_fen: int = money_field(0)
    bill_total_fen: int = money_field(0)
    book_total_fen: int = money_field(0)
    created_at: dt.datetime = utc_field()


class Discrepancy(SQLModel, table=True):
    __tablename__ = "discrepancy"
    # A run's items and its open / deferred / resolved counts.
    __table_args__ = (Index("ix_discrepancy_run_status", "run_id", "status"),)

    id: str = Field(primary_key=True, max_length=40)  # dsc_…
    run_id: str = Field(foreign_key="reconcile_run.id", max_length=40)
    kind: str = Field(max_length=20)
    out_trade_no: str | None = Field(default=None, max_length=32)
    transaction_id: str | None = Field(default=None, max_length=32)
    refund_no: str | None = Field(default=None, max_length=32)
    bill_amount_fen: int | None = money_field(nullable=True)
    book_amount_fen: int | None = money_field(nullable=True)
    status: str = Field(max_length=10)  # open | resolved | deferred
    detail: str = Field(default="", max_length=500)  # what reconciliation found
    note: str = Field(default="", max_length=500)  # the operator's note when resolving
    line_no: int | None = Field(default=None)
    created_at: dt.datetime = utc_field()
    resolved_at: dt.datetime | None = utc_field(nullable=True)
