"""The merchant's settings and the shop's bookkeeping: fixture steps, number sequences."""

# No `from __future__ import annotations` here: pydantic would have to evaluate every field's
# annotation string when the models are defined.
import datetime as dt

from sqlmodel import Field

from wxshop_cli.db.models.base import SQLModel, utc_field


class MerchantSettingsBase(SQLModel):
    app_id: str = Field(max_length=32)
    mch_id: str = Field(max_length=32)
    fee_rate_ppm: int = Field(default=6000)  # 0.60% = 6000 parts per million


class MerchantSettings(MerchantSettingsBase, table=True):
    __tablename__ = "merchant_settings"

    id: int = Field(default=1, primary_key=True)
    key_check: str = Field(max_length=64)  # HMAC of a fixed label; never the key itself
    created_at: dt.datetime = utc_field()
    updated_at: dt.datetime = utc_field()


class FixtureStep(SQLModel, table=True):
    """Applied fixture steps, so a fixture can be applied again (idempotent by step name)."""

    __tablename__ = "fixture_step"

    name: str = Field(primary_key=True, max_length=100)
    op: str = Field(max_length=50)
    result_json: str
    applied_at: dt.datetime = utc_field()


class NumberSequence(SQLModel, table=True):
    """A database sequence for order and refund numbers (unique across machines and under a
    frozen clock). One row per number handed out; `kind` says which series."""

    __tablename__ = "number_sequence"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)


