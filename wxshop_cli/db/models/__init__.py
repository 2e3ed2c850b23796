"""Every table, in one package, in the SQLModel style: a `…Base` of shared fields, the table
model, and a `…Public` shape that `--json` prints (so secrets cannot leak by accident).

Money columns are 64-bit fen (`Money`); times are aware UTC (`UTCDateTime`). The merchant's
book (orders, refunds) and the sandbox gateway's ledger (`gw_*`) are separate tables that are
written in separate transactions, so that they can disagree as in real life.
Schema changes go through Alembic (wxshop_cli/db/migrations); a test fails when the two differ.

One module per family — `merchant` (settings, bookkeeping), `buyers` (buyers, cards,
addresses, inbox), `catalog` (products, promotions), `book` (orders, refunds, idempotency
keys), `gateway` (the sandbox's ledger), `reconcile`, `funnel` (what the conversion funnel
records besides the book) — on `base`. Importing this package
registers every table (Alembic's autogenerate sees them all); import models from here.
"""


from wxshop_cli.db.models.base import PartialIndex, SQLModel, money_field, utc_field
from wxshop_cli.db.models.book import IdempotencyKey, Order, Refund
from wxshop_cli.db.models.buyers import (
    Address,
    AddressBase,
    Buyer,
    Card,
    CardBase,
    CardBinding,
    CardFacts,
    InboxMessage,
)
from wxshop_cli.db.models.catalog import (
    BuyerItemUsage,
    Product,
    ProductBase,
    Promo,
    PromoItem,
    PromoRegion,
)
from wxshop_cli.db.models.funnel import FunnelEvent, PromoView
from wxshop_cli.db.models.gateway import GatewayCard, GatewayCardDay, GatewayPayment, GatewayRefund
from wxshop_cli.db.models.merchant import (
    FixtureStep,
    MerchantSettings,
    MerchantSettingsBase,
    NumberSequence,
)
from wxshop_cli.db.models.reconcile import Discrepancy, ReconcileRun

__all__ = [
    "Address", "AddressBase", "Buyer", "BuyerItemUsage", "Card", "CardBase", "CardBinding",
    "CardFacts", "Discrepancy", "FixtureStep", "FunnelEvent", "GatewayCard", "GatewayCardDay",
    "GatewayPayment", "GatewayRefund", "IdempotencyKey", "InboxMessage", "MerchantSettings",
    "MerchantSettingsBase", "NumberSequence", "Order", "PartialIndex", "Product",
    "ProductBase", "Promo", "PromoItem", "PromoRegion", "PromoView", "Refund", "ReconcileRun",
    "SQLModel", "money_field", "utc_field",
]
