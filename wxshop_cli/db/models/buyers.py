"""Buyers and what they hold: cards (with their binding attempts), inbox messages, addresses."""

# No `from __future__ import annotations` here: pydantic would have to evaluate every field's
# annotation string when the models are defined.
import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import UniqueConstraint, text
from sqlmodel import Field

from wxshop_cli.db.models.base import PartialIndex, SQLModel, money_field, utc_field


class Buyer(SQLModel, table=True):
    __tablename__ = "buyer"

    if TYPE_CHECKING:  # every row code reads has been flushed: its id is set
        id: int = Field(default=None, primary_key=True)
    else:
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


