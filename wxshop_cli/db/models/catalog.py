"""The catalog and its promotions: products, promotions, their regions and items, and each
buyer's units of a limited item."""

# No `from __future__ import annotations` here: pydantic would have to evaluate every field's
# annotation string when the models are defined.
import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from wxshop_cli.db.models.base import SQLModel, money_field, utc_field


class ProductBase(SQLModel):
    sku: str = Field(primary_key=True, max_length=64)
    title: str = Field(max_length=200)
    list_price_fen: int = money_field()
    stock: int = Field(default=0)
    image_url: str = Field(default="", max_length=500)
    description: str = Field(default="", max_length=500)
    # goods (shipped to an address) | topup (mobile credit, sent to a mobile number)
    kind: str = Field(default="goods", max_length=8,
                      sa_column_kwargs={"server_default": "goods"})


class Product(ProductBase, table=True):
    __tablename__ = "product"

    created_at: dt.datetime = utc_field()
    updated_at: dt.datetime = utc_field()


class Promo(SQLModel, table=True):
    __tablename__ = "promo"

    if TYPE_CHECKING:  # every row code reads has been flushed: its id is set
        id: int = Field(default=None, primary_key=True)
    else:
        id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    title: str = Field(max_length=200)
    starts_at: dt.datetime = utc_field()
    ends_at: dt.datetime = utc_field()
    state: str = Field(default="draft", max_length=10)  # draft | published | archived
    notified_at: dt.datetime | None = utc_field(nullable=True)
    created_at: dt.datetime = utc_field()
    updated_at: dt.datetime = utc_field()


class PromoRegion(SQLModel, table=True):
    __tablename__ = "promo_region"

    promo_id: int = Field(foreign_key="promo.id", primary_key=True)
    region_code: str = Field(max_length=6, primary_key=True)


class PromoItem(SQLModel, table=True):
    __tablename__ = "promo_item"
    __table_args__ = (UniqueConstraint("promo_id", "sku", name="uq_promo_item_sku"),)

    id: str = Field(primary_key=True, max_length=40)  # item_…
    promo_id: int = Field(foreign_key="promo.id", index=True)
    sku: str = Field(foreign_key="product.sku", max_length=64, index=True)
    price_rule: str = Field(max_length=12)  # price | percent_off | amount_off
    price_rule_value: str = Field(max_length=32)  # as given: "3999.00", "20", "500.00"
    price_fen: int = money_field()
    stock_total: int
    sold: int = Field(default=0)  # stock_left = stock_total - sold
    per_buyer_limit: int | None = Field(default=None)
    position: int = Field(default=0)
    created_at: dt.datetime = utc_field()


class BuyerItemUsage(SQLModel, table=True):
    """Units of a promo item taken by a buyer, claimed by one conditional upsert."""

    __tablename__ = "buyer_item_usage"

    buyer_id: int = Field(foreign_key="buyer.id", primary_key=True)
    item_id: str = Field(foreign_key="promo_item.id", primary_key=True, max_length=40)
    used: int = Field(default=0)


