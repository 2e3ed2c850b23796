"""The form checks of a card binding (no state read): the card number and what the BIN table
says about it, the holder's identity fields, a credit card's expiry and security code, the SMS
code's form. The secrets are kept out of every repr."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from wxshop_cli.core import bins, cardnumber, identity
from wxshop_cli.core.cards.bound import display_name
from wxshop_cli.errors import InvalidInput, UsageError

_CODE_FORM = re.compile(r"[0-9]{6}", re.ASCII)


@dataclass(frozen=True)
class CardNumber:
    """A checked card number and what the BIN table says about it. Never printed: the
    digits are left out of repr so a traceback or a log line cannot show them."""

    digits: str = field(repr=False)
    brand: str
    row: bins.BinRow

    @property
    def is_credit(self) -> bool:
        return self.row.card_type == bins.CREDIT

    @property
    def first6(self) -> str:
        return self.digits[:6]

    @property
    def last4(self) -> str:
        return self.digits[-4:]

    @property
    def behaviour(self) -> str:
        """How the sandbox bank treats the card: a test card's slug, else `approve`."""
        return cardnumber.TEST_CARDS.get(self.digits, "approve")

    @property
    def is_test(self) -> bool:
        return self.digits in cardnumber.TEST_CARDS

    @property
    def display(self) -> str:
        return display_name(self.row.bank, self.row.card_type, self.last4)


def check_number(text: str) -> CardNumber:
    """Form, brand, length, Luhn, then the bank from the BIN table (all exit 3)."""
    digits = cardnumber.check_card_number(text)
    row = bins.lookup(digits)
    brand = cardnumber.brand_of(digits)
    assert brand is not None  # check_card_number accepted it
    return CardNumber(digits=digits, brand=brand, row=row)


@dataclass(frozen=True)
class CardInput:
    """Everything step one needs, checked for form. The secrets are kept out of repr."""

    number: CardNumber
    holder: str = field(repr=False)
    id_number: str = field(repr=False)
    mobile: str = field(repr=False)


def check_holder_fields(holder: str, id_number: str, phone: str,
                        today: dt.date) -> tuple[str, str, str]:
    return (identity.check_holder_name(holder), identity.check_id_number(id_number, today),
            identity.check_mobile(phone))


def check_credit_fields(number: CardNumber, expiry: str | None, cvn: str | None,
                        today: dt.date) -> None:
    """A credit card needs its expiry (not past) and 3-digit security code. A debit card
    needs neither, but one that is given is checked the same way (a mistyped `--expiry 13/30`
    is refused, not ignored). Both are checked for form and then forgotten. A missing one
    is a usage error (no prompt here)."""
    if expiry is not None:
        identity.check_expiry(expiry, today)
    elif number.is_credit:
        raise UsageError("missing card expiry", slug="missing_value",
                         hint="credit cards need --expiry MM/YY")
    if cvn is not None:
        identity.check_security_code(cvn)
    elif number.is_credit:
        raise UsageError("missing security code", slug="missing_value",
                         hint="credit cards need --cvn - with the 3 digits on stdin")


def check_card_input(number: str, holder: str, id_number: str, phone: str,
                     expiry: str | None, cvn: str | None, today: dt.date) -> CardInput:
    """Every form check of step one, in the order of the flow, before any state is read."""
    card = check_number(number)
    name, id_no, mobile = check_holder_fields(holder, id_number, phone, today)
    check_credit_fields(card, expiry, cvn, today)
    return CardInput(number=card, holder=name, id_number=id_no, mobile=mobile)


def check_sms_code_form(code: str) -> str:
    value = code.strip() if isinstance(code, str) else ""
    if _CODE_FORM.fullmatch(value) is None:
        raise InvalidInput("SMS code must be 6 digits", slug="invalid_sms_code",
                           hint="the code in `wxshop inbox`")
    return value

