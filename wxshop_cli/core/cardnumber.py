"""Bank card numbers: normalisation, Luhn, brand and length rules, masking, test cards.

Pure functions, no database (SPEC section 5). Nothing here ever puts a card number, or its
length, into an error message: messages are safe to print and to log.

Brands and lengths (SPEC section 5):

| brand        | prefix                               | lengths |
|--------------|--------------------------------------|---------|
| `unionpay`   | `62`; `81000000`–`81719999`          | 16–19   |
| `visa`       | `4`                                  | 13, 16, 19 |
| `mastercard` | `51`–`55`; `2221`–`2720`             | 16      |
| `amex`       | `34`, `37`                           | 15      |
| `jcb`        | `3528`–`3589`                        | 16–19   |

Discover is not supported; its co-branded range `622126`–`622925` falls under UnionPay `62`.
"""

from __future__ import annotations

import re

from wxshop_cli.errors import InvalidInput

UNIONPAY = "unionpay"
VISA = "visa"
MASTERCARD = "mastercard"
AMEX = "amex"
JCB = "jcb"

#: Display names of the brand identifiers `brand_of` returns.
BRAND_NAMES: dict[str, str] = {
    UNIONPAY: "UnionPay",
    VISA: "Visa",
    MASTERCARD: "Mastercard",
    AMEX: "American Express",
    JCB: "JCB",
}

#: Allowed lengths per brand.
BRAND_LENGTHS: dict[str, frozenset[int]] = {
    UNIONPAY: frozenset(range(16, 20)),
    VISA: frozenset({13, 16, 19}),
    MASTERCARD: frozenset({16}),
    AMEX: frozenset({15}),
    JCB: frozenset(range(16, 20)),
}

#: Shortest and longest number any supported brand uses.
MIN_LENGTH = 13
MAX_LENGTH = 19

#: The sandbox bank's test cards (SPEC section 5): number -> behaviour slug. They are the only
#: numbers that may be given as a literal command-line argument.
TEST_CARDS: dict[str, str] = {
    "6222020000000000000": "approve",
    "6258000000000006": "approve",
    "4111111111111111": "approve",
    "6222020000000004002": "decline",
    "6222020000000009951": "insufficient_funds",
    "6222020000000000695": "frozen",
    "6222020000000001198": "timeout",
}

#: What the sandbox bank does with each behaviour of TEST_CARDS (docs/test-cards.md).
TEST_CARD_BEHAVIOURS: dict[str, str] = {
    "approve": "approves",
    "decline": "declined by the bank (exit 6, `payment_declined`)",
    "insufficient_funds": "insufficient funds (exit 6, `payment_insufficient_funds`)",
    "frozen": "card frozen, reported lost (exit 6, `payment_card_frozen`)",
    "timeout": "the bank times out: outcome unknown until queried (exit 9, `payment_unknown`); "
               "the query then reports success",
}

_SEPARATORS = str.maketrans("", "", " -")
_ASCII_DIGITS = re.compile(r"[0-9]+", re.ASCII)

_HINT_FORMAT = "spaces or dashes between groups of digits are fine"


def normalize(text: str) -> str:
    """Strip surrounding whitespace, remove spaces and dashes, and insist on ASCII digits.

    Full-width (`６２２２`) and other non-ASCII digits are refused rather than converted:
    what is checked must be exactly what the bank would see.
    """
    if not isinstance(text, str):
        raise InvalidInput("card number must be text", slug="invalid_card_number",
                           hint=_HINT_FORMAT)
    digits = text.strip().translate(_SEPARATORS)
    if not digits:
        raise InvalidInput("card number is empty", slug="invalid_card_number",
                           hint=_HINT_FORMAT)
    if _ASCII_DIGITS.fullmatch(digits) is None:
        raise InvalidInput("card number may contain only the digits 0-9",
                           slug="invalid_card_number", hint=_HINT_FORMAT)
    return digits


def luhn_ok(digits: str) -> bool:
    """True when an ASCII-digit string passes the Luhn (mod 10) check."""
    if not digits or _ASCII_DIGITS.fullmatch(digits) is None:
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def luhn_check_digit(partial: str) -> str:
    """The digit that, appended to `partial`, makes it pass the Luhn check."""
    for candidate in "0123456789":
        if luhn_ok(partial + candidate):
            return candidate
    raise ValueError("not a digit string")


def _brand_by_prefix(digits: str) -> str | None:
    """The brand whose prefix `digits` starts with, whatever its length."""
    if digits.startswith("62"):
        return UNIONPAY
    if len(digits) >= 8 and "81000000" <= digits[:8] <= "81719999":
        return UNIONPAY
    if digits.startswith("4"):
        return VISA
    if len(digits) >= 2 and "51" <= digits[:2] <= "55":
        return MASTERCARD
    if len(digits) >= 4 and "2221" <= digits[:4] <= "2720":
        return MASTERCARD
    if digits.startswith(("34", "37")):
        return AMEX
    if len(digits) >= 4 and "3528" <= digits[:4] <= "3589":
        return JCB
    return None


def brand_of(digits: str) -> str | None:
    """The brand (`unionpay`, `visa`, `mastercard`, `amex`, `jcb`) when both the prefix and
    the length fit that brand, else None. Does not check Luhn."""
    if _ASCII_DIGITS.fullmatch(digits or "") is None:
        return None
    brand = _brand_by_prefix(digits)
    if brand is None or len(digits) not in BRAND_LENGTHS[brand]:
        return None
    return brand


def _lengths_text(lengths: frozenset[int]) -> str:
    ordered = sorted(lengths)
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{ordered[0]} to {ordered[-1]}"
    if len(ordered) == 1:
        return str(ordered[0])
    return ", ".join(str(n) for n in ordered[:-1]) + f" or {ordered[-1]}"


def check_card_number(text: str) -> str:
    """Validate a card number as typed and return its normalized digits.

    Checks, in order: ASCII digits (after removing spaces and dashes); a supported brand;
    a length that brand uses; the Luhn check digit. Raises InvalidInput with slug
    `invalid_card_number` (form, length, Luhn) or `brand_not_supported`.
    """
    digits = normalize(text)
    brand = _brand_by_prefix(digits)
    if brand is None:
        if not MIN_LENGTH <= len(digits) <= MAX_LENGTH:
            raise InvalidInput(
                f"card number must have {MIN_LENGTH} to {MAX_LENGTH} digits",
                slug="invalid_card_number", hint="check the number on the card")
        raise InvalidInput(
            "card brand not supported",
            slug="brand_not_supported",
            hint="UnionPay, Visa, Mastercard, American Express and JCB cards are accepted")
    if len(digits) not in BRAND_LENGTHS[brand]:
        raise InvalidInput(
            f"wrong length: {BRAND_NAMES[brand]} card numbers have "
            f"{_lengths_text(BRAND_LENGTHS[brand])} digits",
            slug="invalid_card_number", hint="check for a missing or extra digit")
    if not luhn_ok(digits):
        raise InvalidInput(
            "card number failed the Luhn check",
            slug="invalid_card_number", hint="check for a mistyped digit")
    return digits


def masked(first6: str, last4: str) -> str:
    """Display form of a stored card: `6222 **** **** 1234`.

    The format is fixed whatever the card's real length (13 to 19 digits): the first 4
    digits, two groups of four stars, the last 4 digits. Only `first6` and `last4` are
    stored (never the full number nor its length, SPEC section 5), and the display must
    not leak the length either, so it cannot depend on it. It shows fewer than the 6 + 4
    digits PCI DSS allows: the 5th and 6th digits are starred too.
    """
    if (_ASCII_DIGITS.fullmatch(first6 or "") is None or len(first6) != 6
            or _ASCII_DIGITS.fullmatch(last4 or "") is None or len(last4) != 4):
        raise ValueError("masked() takes the first 6 and last 4 digits of a card")
    return f"{first6[:4]} **** **** {last4}"


def is_test_card(digits: str) -> bool:
    """True for the sandbox's test card numbers (spaces and dashes are ignored)."""
    if not isinstance(digits, str):
        return False
    return digits.strip().translate(_SEPARATORS) in TEST_CARDS
