"""Every table, in one module, in the SQLModel style: a `…Base` of shared fields, the table
model, and a `…Public` shape that `--json` prints (so secrets cannot leak by accident).

Money columns are 64-bit fen (`Money`); times are aware UTC (`UTCDateTime`). The merchant's
book (orders, refunds) and the sandbox gateway's ledger (`gw_*`) are separate tables that are
written in separate transactions, so that they can disagree as in real life.
Schema changes go through Alembic (wxshop_cli/db/migrations); a test fails when the two differ.
"""

# No `from __future__ import annotations` here: pydantic would have to evaluate every field's
# annotation string when the models are defined (a quarter of this module's import time).
import datetime as dt
from typing import Any

from sqlalchemy import Column, Date, Index, UniqueConstraint, text
from sqlalchemy.util import PopulateDict, memoized_property
from sqlmodel import Field
from sqlmodel import SQLModel as _SQLModel
from sqlmodel.main import SQLModelConfig

from wxshop_cli.db.types import Money, UTCDateTime


class SQLModel(_SQLModel):
    """Every model's base: pydantic builds a model's validators when it is first validated,
    not when this module is imported (a command uses a few of these tables, and building
    all of them was a tenth of a database command's start-up)."""

    model_config = SQLModelConfig(defer_build=True)


class PartialIndex(Index):
    """An index with a WHERE clause on both engines (`sqlite_where`, `postgresql_where`).

    Given as keywords, the PostgreSQL option is validated when the model is defined, which
    imports SQLAlchemy's whole PostgreSQL dialect (a tenth of a command's start-up) even on
    SQLite. Here each engine's option is filled in when that engine (or Alembic, through
    `dialect_kwargs`) first asks for it; the DDL is the same (tests/test_database.py)."""

    _ENGINES = ("sqlite", "postgresql")

    def __init__(self, name: str, *columns: str, where: Any, **kw: Any) -> None:
        self._wx_where = where
        super().__init__(name, *columns, **kw)

    @memoized_property
    def dialect_options(self) -> Any:
        def options(dialect: str) -> Any:
            found = self._kw_reg_for_dialect_cls(dialect)
            if dialect in self._ENGINES:
                found["where"] = self._wx_where
            return found

        return PopulateDict(options)

    @property
    def dialect_kwargs(self) -> Any:
        for dialect in self._ENGINES:
            self.dialect_options[dialect]  # fills the option in
        return super().dialect_kwargs

    @property
    def kwargs(self) -> Any:
        return self.dialect_kwargs


def utc_field(*, nullable: bool = False, index: bool = False):
    return Field(default=None if nullable else ..., sa_type=UTCDateTime, nullable=nullable,
                 index=index)


def money_field(default: int | None = None, *, nullable: bool = False):
    if default is None and not nullable:
        return Field(sa_type=Money, nullable=False)
    return Field(default=default, sa_type=Money, nullable=nullable)


# ------------------------------------------------------------------ merchant and bookkeeping


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


# ------------------------------------------------------------------ buyers, cards, addresses


class Buyer(SQLModel, table=True):
    __tablename__ = "buyer"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=32, unique=True)
    # One real-name identity per buyer, kept only as keyed hashes.
    identity_name_hash: str | None = Field(default=None, max_length=64)
    identity_id_hash: str | None = Field(default=None, max_length=64)
    pay_password_hash: str | None = Field(default=None, max_length=255)
    pay_failures: int = Field(default=0)
    pay_locked_until: dt.datetime | None = utc_field(nullable=True)
    created_at: dt.datetime = utc_field()


class CardFacts(SQLModel):
    """What may be known of a card number: brand, bank and type from the BIN table, and the
    first 6 / last 4 digits. Shared by a pending binding and a bound card."""

    brand: str = Field(max_length=16)
    bank: str = Field(max_length=64)
    bank_code: str = Field(max_length=32)
    card_type: str = Field(max_length=8)  # debit | credit
    first6: str = Field(max_length=6)
    last4: str = Field(max_length=4)


class CardBase(CardFacts):
    is_default: bool = Field(default=False)


class Card(CardBase, table=True):
    __tablename__ = "card"
    __table_args__ = (
        # A buyer cannot bind the same card twice while it is bound.
        PartialIndex("uq_card_bound_fingerprint", "buyer_id", "fingerprint", unique=True,
                     where=text("status = 'bound'")),
    )

    id: str = Field(primary_key=True, max_length=40)  # card_…, also the gateway token
    buyer_id: int = Field(foreign_key="buyer.id", index=True)
    fingerprint: str = Field(max_length=64, index=True)  # HMAC-SHA256 of the full number
    is_test: bool = Field(default=False)
    holder_masked: str = Field(max_length=70)
    phone_masked: str = Field(max_length=16)
    status: str = Field(default="bound", max_length=10)  # bound | unbound
    bound_at: dt.datetime = utc_field()
    unbound_at: dt.datetime | None = utc_field(nullable=True)


class CardBinding(CardFacts, table=True):
    """A binding waiting for its SMS code. Holds hashes only, never the number or mobile."""

    __tablename__ = "card_binding"

    id: str = Field(primary_key=True, max_length=40)  # bind_…
    buyer_id: int = Field(foreign_key="buyer.id", index=True)
    fingerprint: str = Field(max_length=64)
    is_test: bool = Field(default=False)
    # What the sandbox gateway needs at confirmation, decided at step one (the number is gone
    # by then): the test card's behaviour slug and the BIN row's limits. Not card data.
    behaviour: str = Field(default="approve", max_length=20)
    single_limit_fen: int = money_field()
    daily_limit_fen: int = money_field()
    holder_masked: str = Field(max_length=70)
    phone_masked: str = Field(max_length=16)
    identity_name_hash: str = Field(max_length=64)
    identity_id_hash: str = Field(max_length=64)
    code_hash: str = Field(max_length=64)
    attempts: int = Field(default=0)
    status: str = Field(default="pending_sms", max_length=16)  # pending_sms|bound|cancelled
    make_default: bool = Field(default=False)
    card_id: str | None = Field(default=None, max_length=40)
    expires_at: dt.datetime = utc_field()
    created_at: dt.datetime = utc_field()


class InboxMessage(SQLModel, table=True):
    __tablename__ = "inbox_message"
    __table_args__ = (
        # A promotion is pushed to a buyer once, never again on re-publish.
        UniqueConstraint("buyer_id", "promo_id", name="uq_inbox_promo_once"),
    )

    id: str = Field(primary_key=True, max_length=40)  # msg_…
    buyer_id: int = Field(foreign_key="buyer.id", index=True)
    kind: str = Field(max_length=8)  # sms | promo
    text: str
    code: str | None = Field(default=None, max_length=6)  # the SMS as on a phone's screen
    promo_id: int | None = Field(default=None, foreign_key="promo.id")
    read: bool = Field(default=False)
    created_at: dt.datetime = utc_field()


class AddressBase(SQLModel):
    region_code: str = Field(max_length=6)
    city: str = Field(max_length=64)
    street: str = Field(max_length=200)
    contact: str = Field(max_length=64)
    is_default: bool = Field(default=False)


class Address(AddressBase, table=True):
    __tablename__ = "address"

    id: str = Field(primary_key=True, max_length=40)  # addr_…
    buyer_id: int = Field(foreign_key="buyer.id", index=True)
    phone: str = Field(max_length=20)  # kept: a courier needs it; shown masked
    removed_at: dt.datetime | None = utc_field(nullable=True)
    created_at: dt.datetime = utc_field()


# ------------------------------------------------------------------ catalog and promotions


class ProductBase(SQLModel):
    sku: str = Field(primary_key=True, max_length=64)
    title: str = Field(max_length=200)
    list_price_fen: int = money_field()
    stock: int = Field(default=0)
    image_url: str = Field(default="", max_length=500)
    description: str = Field(default="", max_length=500)


class Product(ProductBase, table=True):
    __tablename__ = "product"

    created_at: dt.datetime = utc_field()
    updated_at: dt.datetime = utc_field()


class Promo(SQLModel, table=True):
    __tablename__ = "promo"

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


# ------------------------------------------------------------------ the merchant's book


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


# ------------------------------------------------------------------ the sandbox gateway's ledger


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


# ------------------------------------------------------------------ reconciliation


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
