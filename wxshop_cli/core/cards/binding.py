"""Binding a card (SPEC section 5): two steps, whatever the front end.

1. `start_binding` — every value's form is checked first (`forms.check_card_input`, no state
   read); then, in one transaction: the buyer (created on first use), its identity, the
   conflicts, the pending binding and the SMS code in the buyer's inbox. The binding keeps a
   keyed hash of the code, never the code, the number, its length, the expiry or the CVN.
2. `confirm_binding` — the code (5 minutes, 5 tries), the payment password for the buyer's
   first card, the card registered with the sandbox gateway in the gateway's own transaction,
   then the card row committed.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from wxshop_cli import security
from wxshop_cli.clock import as_utc, iso
from wxshop_cli.core import bins, cardnumber, identity
from wxshop_cli.core.cards.bound import BOUND, card_public, display_name
from wxshop_cli.core.cards.forms import CardInput, check_sms_code_form
from wxshop_cli.db.models import Buyer, Card, CardBinding
from wxshop_cli.errors import Conflict, InvalidInput, NotFound, UsageError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from wxshop_cli.db.engine import Database

SMS_VALIDITY = dt.timedelta(minutes=5)
SMS_MAX_TRIES = 5

PENDING = "pending_sms"
CANCELLED = "cancelled"

# Purposes of the keyed hashes (security.keyed_hash): one key, separate domains.
FINGERPRINT = "card number"
IDENTITY_NAME = "identity name"
IDENTITY_ID = "identity id number"
SMS_CODE = "sms code"


def binding_public(binding: CardBinding, tz: dt.tzinfo, now: dt.datetime | None = None
                   ) -> dict[str, Any]:
    """The pending binding of SPEC section 3, with what the buyer sees on the bank's page."""
    status = binding.status
    if status == PENDING and now is not None and now >= as_utc(binding.expires_at):
        status = "expired"
    return {
        "binding_id": binding.id,
        "status": status,
        "phone_masked": binding.phone_masked,
        "expires_at": iso(binding.expires_at, tz),
        "bank": binding.bank,
        "bank_code": binding.bank_code,
        "card_type": binding.card_type,
        "brand": binding.brand,
        "masked_number": cardnumber.masked(binding.first6, binding.last4),
        "display": display_name(binding.bank, binding.card_type, binding.last4),
        "tries_left": max(0, SMS_MAX_TRIES - binding.attempts),
        "card_id": binding.card_id if binding.status == BOUND else None,
    }


# ---------------------------------------------------------------- shared state checks


def _identity_hashes(key: bytes, holder: str, id_number: str) -> tuple[str, str]:
    return (security.keyed_hash(key, IDENTITY_NAME, holder),
            security.keyed_hash(key, IDENTITY_ID, id_number))


def _check_identity(buyer: Buyer, name_hash: str, id_hash: str) -> None:
    if buyer.identity_id_hash is None:
        return
    if not (hmac.compare_digest(buyer.identity_id_hash, id_hash)
            and hmac.compare_digest(buyer.identity_name_hash or "", name_hash)):
        raise InvalidInput("identity differs from the buyer's", slug="identity_mismatch",
                           hint="give the holder name and ID number of this buyer's first "
                                "card, or bind it as another --buyer")


def _check_conflicts(session: Session, buyer_id: int, fingerprint: str, is_test: bool,
                     name_hash: str, id_hash: str) -> None:
    mine = session.exec(select(Card).where(
        Card.buyer_id == buyer_id, Card.fingerprint == fingerprint,
        Card.status == BOUND)).first()
    if mine is not None:
        raise Conflict("this card is already bound", slug="card_already_bound",
                       hint=f"it is {mine.id}; unbind it first to bind it again",
                       card_id=mine.id)
    if is_test:
        return  # any number of buyers may bind the sandbox's test cards
    from sqlalchemy import or_

    other = session.exec(
        select(Card.id).join(Buyer, col(Buyer.id) == col(Card.buyer_id)).where(
            Card.fingerprint == fingerprint, Card.status == BOUND, Card.buyer_id != buyer_id,
            or_(col(Buyer.identity_id_hash).is_(None), col(Buyer.identity_id_hash) != id_hash,
                col(Buyer.identity_name_hash) != name_hash))).first()
    if other is not None:
        raise Conflict("this card is bound by a buyer with another identity",
                       slug="card_bound_elsewhere",
                       hint="only buyers with the holder's identity may bind it; the other "
                            "buyer must unbind it first")


# ---------------------------------------------------------------- step one


@dataclass(frozen=True)
class StartedBinding:
    public: dict[str, Any]
    binding_id: str
    message_id: str  # the SMS in the buyer's inbox (the fixture op reads its code there)
    needs_password: bool


def sms_text(bank: str, card_type: str, last4: str, code: str) -> str:
    label = bins.CARD_TYPE_LABELS.get(card_type, card_type)
    return (f"【沙箱银行】验证码 {code}，您正在将{bank}{label}(尾号{last4})绑定到微信支付，"
            "5分钟内有效，请勿泄露。")


def start_binding(db: Database, buyer_name: str, card: CardInput, now: dt.datetime, *,
                  make_default: bool = False, tz: ZoneInfo | None = None) -> StartedBinding:
    """Step one: check the state, record a pending binding, send the SMS code.

    Raises InvalidInput (3) `identity_mismatch`, Conflict (5) `card_already_bound` or
    `card_bound_elsewhere`; writes nothing then. Starting again for the same card cancels
    the buyer's earlier pending binding of it (the newest code is the one that counts)."""
    from sqlalchemy import update

    from wxshop_cli.core.buyers import get_or_create_buyer
    from wxshop_cli.core.inbox import SMS, ordered_id, push_message
    from wxshop_cli.db.types import new_id

    key = db.key
    number = card.number
    fingerprint = security.keyed_hash(key, FINGERPRINT, number.digits)
    name_hash, id_hash = _identity_hashes(key, card.holder, card.id_number)
    code = f"{secrets.randbelow(10**6):06d}"
    binding_id = new_id("bind")
    with db.transaction() as session:
        buyer = get_or_create_buyer(session, buyer_name, now)
        _check_identity(buyer, name_hash, id_hash)
        _check_conflicts(session, buyer.id, fingerprint, number.is_test, name_hash, id_hash)
        session.execute(update(CardBinding).where(
            col(CardBinding.buyer_id) == buyer.id, col(CardBinding.fingerprint) == fingerprint,
            col(CardBinding.status) == PENDING).values(status=CANCELLED))
        binding = CardBinding(
            id=binding_id, buyer_id=buyer.id, fingerprint=fingerprint, brand=number.brand,
            bank=number.row.bank, bank_code=number.row.bank_code,
            card_type=number.row.card_type, first6=number.first6, last4=number.last4,
            is_test=number.is_test, behaviour=number.behaviour,
            single_limit_fen=number.row.single_limit_fen,
            daily_limit_fen=number.row.daily_limit_fen,
            holder_masked=identity.mask_holder(card.holder),
            phone_masked=identity.mask_mobile(card.mobile),
            identity_name_hash=name_hash, identity_id_hash=id_hash,
            code_hash=security.keyed_hash(key, SMS_CODE, f"{binding_id}:{code}"),
            attempts=0, status=PENDING, make_default=make_default,
            # The future card's token, fixed now so that retries agree; ordered so that
            # cards bound under a frozen clock still list in binding order.
            card_id=ordered_id("card"),
            expires_at=now + SMS_VALIDITY, created_at=now)
        session.add(binding)
        session.flush()
        message = push_message(session, buyer.id, SMS,
                               sms_text(number.row.bank, number.row.card_type, number.last4,
                                        code), now, code=code)
        needs_password = buyer.pay_password_hash is None
        public = binding_public(binding, tz or dt.UTC)
    return StartedBinding(public=public, binding_id=binding_id, message_id=message.id,
                          needs_password=needs_password)


# ---------------------------------------------------------------- step two


def _find_binding(session: Session, buyer_name: str, binding_id: str, *,
                  lock: bool = False) -> tuple[Buyer, CardBinding]:
    from wxshop_cli.core.buyers import find_buyer

    buyer = find_buyer(session, buyer_name)
    binding = session.get(CardBinding, binding_id, with_for_update=lock) if buyer else None
    if buyer is None or binding is None or binding.buyer_id != buyer.id:
        raise NotFound(f"no pending binding {binding_id!r} for buyer {buyer_name!r}",
                       slug="binding_not_found",
                       hint="start one with `wxshop bind-card`")
    return buyer, binding


def _check_pending(binding: CardBinding, now: dt.datetime) -> None:
    if binding.status == BOUND:
        raise Conflict("this binding is already confirmed", slug="binding_already_confirmed",
                       hint=f"nothing to do: see `wxshop cards show {binding.card_id}`",
                       card_id=binding.card_id)
    if binding.status == CANCELLED:
        raise Conflict("this binding was cancelled", slug="binding_cancelled",
                       hint="start again with `wxshop bind-card`")
    # The code is valid in [sent, sent + 5 min): not before the sandbox bank sent it.
    if now < as_utc(binding.created_at):
        from wxshop_cli.clock import human
        from wxshop_cli.config import current

        raise InvalidInput(
            f"the SMS code was sent at {human(binding.created_at, current().tz)}, after the "
            "time of this command", slug="sms_code_not_yet_valid",
            hint="confirm at or after the time the code was sent (check --now / WXSHOP_NOW)")
    if now >= as_utc(binding.expires_at):
        raise InvalidInput("the SMS code has expired", slug="sms_code_expired",
                           hint="codes are valid 5 minutes; start again with `wxshop bind-card`")


def binding_needs_password(session: Session, buyer_name: str, binding_id: str,
                           now: dt.datetime) -> bool:
    """Read-only: the binding is pending for this buyer (else the error confirm would give),
    and whether confirming it must set the buyer's payment password (its first card)."""
    buyer, binding = _find_binding(session, buyer_name, binding_id)
    _check_pending(binding, now)
    return buyer.pay_password_hash is None


def check_sms_code(db: Database, buyer_name: str, binding_id: str, code: str,
                   now: dt.datetime) -> CardBinding:
    """Verify the SMS code of a pending binding without finishing it.

    A wrong code is counted in its own committed transaction; the fifth cancels the binding.
    Raises InvalidInput (3) `invalid_sms_code`, `wrong_sms_code`, `sms_code_expired`;
    NotFound (4) `binding_not_found`; Conflict (5) `binding_cancelled`,
    `binding_already_confirmed`. Returns a detached copy of the binding."""
    code = check_sms_code_form(code)
    left = 0
    with db.transaction() as session:
        _buyer, binding = _find_binding(session, buyer_name, binding_id, lock=True)
        _check_pending(binding, now)
        expected = security.keyed_hash(db.key, SMS_CODE, f"{binding.id}:{code}")
        if hmac.compare_digest(expected, binding.code_hash):
            return binding  # detached when the transaction ends; its fields stay loaded
        binding.attempts += 1
        left = SMS_MAX_TRIES - binding.attempts
        if left <= 0:
            binding.status = CANCELLED
        session.add(binding)
    if left <= 0:
        raise InvalidInput(f"wrong SMS code; {SMS_MAX_TRIES} wrong codes cancelled the binding",
                           slug="wrong_sms_code", hint="start again with `wxshop bind-card`",
                           tries_left=0)
    raise InvalidInput(f"wrong SMS code: {left} {'try' if left == 1 else 'tries'} left",
                       slug="wrong_sms_code", hint="the code is in `wxshop inbox`",
                       tries_left=left)


def confirm_binding(db: Database, buyer_name: str, binding_id: str, code: str, now: dt.datetime,
                    *, password: str | None = None, tz: ZoneInfo | None = None) -> dict[str, Any]:
    """Step two: check the code, set the payment password with the buyer's first card,
    register the card with the gateway (its own transaction), then commit the card row.

    `password` is needed only for the buyer's first card; a missing one is then a usage
    error (2) and nothing changes. Returns the card's public shape."""
    from sqlalchemy.exc import IntegrityError

    from wxshop_cli.core import paypassword
    from wxshop_cli.gateway import get_gateway

    check_sms_code_form(code)
    if password is not None:
        identity.check_pay_password(password)  # form before state
    binding = check_sms_code(db, buyer_name, binding_id, code, now)
    password_hash: str | None = None
    with db.transaction(read_only=True) as session:
        needed = paypassword_needed(session, binding.buyer_id)
    if needed:
        if password is None:
            raise UsageError("missing payment password", slug="missing_value",
                             hint=f"the first card sets it: set {paypassword.ENV_PASSWORD} "
                                  "or confirm on a terminal")
        password_hash = paypassword.hash_password(db.key, password)  # slow: outside any tx
    # The bank learns the card before wxshop records it: a crash in between leaves a
    # gateway card nobody uses, never a card the gateway does not know.
    assert binding.card_id is not None
    get_gateway(db).register_card(
        token=binding.card_id, behaviour=binding.behaviour, bank_code=binding.bank_code,
        single_limit_fen=binding.single_limit_fen, daily_limit_fen=binding.daily_limit_fen,
        now=now)
    try:
        with db.transaction() as session:
            card = _finish(session, binding_id, password_hash, now)
            return card_public(card, tz or dt.UTC)
    except IntegrityError:
        raise Conflict("this card is already bound", slug="card_already_bound",
                       hint="another binding of the same card finished first; see "
                            "`wxshop cards list`") from None


def paypassword_needed(session: Session, buyer_id: int) -> bool:
    """Whether the buyer has no payment password yet (its first card sets it). Reads only."""
    return session.get_one(Buyer, buyer_id).pay_password_hash is None


def _finish(session: Session, binding_id: str, password_hash: str | None,
            now: dt.datetime) -> Card:
    from sqlalchemy import update

    from wxshop_cli.core import paypassword

    binding = session.get_one(CardBinding, binding_id, with_for_update=True)
    _check_pending(binding, now)
    buyer = session.get_one(Buyer, binding.buyer_id, with_for_update=True)
    _check_identity(buyer, binding.identity_name_hash, binding.identity_id_hash)
    _check_conflicts(session, buyer.id, binding.fingerprint, binding.is_test,
                     binding.identity_name_hash, binding.identity_id_hash)
    if buyer.identity_id_hash is None:
        buyer.identity_name_hash = binding.identity_name_hash
        buyer.identity_id_hash = binding.identity_id_hash
    if buyer.pay_password_hash is None:
        if password_hash is None:  # another binding set none meanwhile: cannot happen twice
            raise UsageError("missing payment password", slug="missing_value",
                             hint=f"set {paypassword.ENV_PASSWORD} or confirm on a terminal")
        paypassword.set_new_password(buyer, password_hash)
    session.add(buyer)
    has_default = session.exec(select(Card.id).where(
        Card.buyer_id == buyer.id, Card.status == BOUND,
        col(Card.is_default).is_(True))).first() is not None
    make_default = binding.make_default or not has_default
    if make_default:
        session.execute(update(Card).where(col(Card.buyer_id) == buyer.id)
                        .values(is_default=False))
    assert binding.card_id is not None
    card = Card(id=binding.card_id, buyer_id=buyer.id, fingerprint=binding.fingerprint,
                brand=binding.brand, bank=binding.bank, bank_code=binding.bank_code,
                card_type=binding.card_type, first6=binding.first6, last4=binding.last4,
                is_default=make_default, is_test=binding.is_test,
                holder_masked=binding.holder_masked, phone_masked=binding.phone_masked,
                status=BOUND, bound_at=now, unbound_at=None)
    session.add(card)
    binding.status = BOUND
    session.add(binding)
    session.flush()
    return card


