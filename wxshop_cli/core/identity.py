"""Identity and secret-form checks for card binding (SPEC section 5): resident ID number,
reserved mobile, holder name, expiry, security code and payment password.

Pure functions, no database. Error messages never repeat the value they refuse (an ID
number, a password), so they are safe to print and to log. `stdnum` and `phonenumbers` are
imported inside the functions that need them: `wxshop --help` must not pay for them.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from wxshop_cli.core.text import describe, invisible_char
from wxshop_cli.errors import InvalidInput

_SEPARATORS = str.maketrans("", "", " -")

#: Provincial-level codes (GB/T 2260, first two digits) an ID number can start with:
#: the 34 divisions, as in fixtures/regions.json.
_PROVINCE_CODES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82",
})

#: The earliest birth date accepted on an ID number.
_EARLIEST_BIRTH = date(1900, 1, 1)

_ID_FORM = re.compile(r"[0-9]{17}[0-9X]", re.ASCII)
_MOBILE_FORM = re.compile(r"\+?[0-9]+", re.ASCII)
_EXPIRY_FORM = re.compile(r"([0-9]{2})/([0-9]{2})", re.ASCII)
_SECURITY_CODE_FORM = re.compile(r"[0-9]{3}", re.ASCII)
_PASSWORD_FORM = re.compile(r"[0-9]{6}", re.ASCII)

#: What to do about a malformed payment password (here and in core/paypassword.py).
PASSWORD_HINT = "six ASCII digits, typed at the prompt or given in WXSHOP_PAY_PASSWORD"

#: Longest holder name accepted, in characters (after normalisation).
HOLDER_MAX_CHARS = 64



def check_id_number(text: str, today: date) -> str:
    """Validate a Chinese resident ID number (居民身份证号码, 18 characters).

    Checks: 17 ASCII digits and a final digit or `X` (a lowercase `x` is accepted; spaces
    are ignored); a provincial-level region code; the ISO 7064 MOD 11-2 check character
    (via `stdnum.cn.ric`); a real birth date (no 30 February), not after `today` and not
    before 1900. Returns the compact, upper-case form.

    Deliberately not checked: the county part of the region code. `stdnum.cn.ric.validate`
    requires the county to have existed in the birth year, which refuses real numbers, e.g.
    people born in Pudong (310115, created 1993) before 1993.
    """
    from stdnum.cn import ric

    hint = "18 characters: 17 digits and a final digit or X"
    if not isinstance(text, str):
        raise InvalidInput("ID number must be text", slug="invalid_id_number", hint=hint)
    number = text.strip().translate(_SEPARATORS).upper()
    if len(number) != 18 or _ID_FORM.fullmatch(number) is None:
        raise InvalidInput("ID number must have 18 characters: 17 digits, then a digit or X",
                           slug="invalid_id_number", hint=hint)
    if number[:2] not in _PROVINCE_CODES:
        raise InvalidInput("ID number has an unknown region code", slug="invalid_id_number",
                           hint="check the first two digits")
    if number[-1] != ric.calc_check_digit(number):
        raise InvalidInput("ID number failed its checksum", slug="invalid_id_number",
                           hint="check for a mistyped digit")
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidInput("ID number has an impossible birth date",
                           slug="invalid_id_number", hint="digits 7-14 are YYYYMMDD") from None
    if birth > today:
        raise InvalidInput("ID number has a birth date in the future",
                           slug="invalid_id_number", hint="digits 7-14 are YYYYMMDD")
    if birth < _EARLIEST_BIRTH:
        raise InvalidInput("ID number has a birth date before 1900",
                           slug="invalid_id_number", hint="digits 7-14 are YYYYMMDD")
    return number


def check_mobile(text: str) -> str:
    """Validate a Chinese mobile number and return its 11-digit national form.

    Accepts `+86`, `86` and `0086` prefixes, spaces and dashes (`+86 138 0013 8000`).
    Refuses non-ASCII digits, landlines and other countries' numbers.
    """
    hint = "an 11-digit Chinese mobile number, e.g. 13800138000"
    if not isinstance(text, str):
        raise InvalidInput("mobile number must be text", slug="invalid_mobile", hint=hint)
    compact = text.strip().translate(_SEPARATORS)
    if _MOBILE_FORM.fullmatch(compact) is None or len(compact) > 20:
        raise InvalidInput("mobile number may contain only the digits 0-9 and a leading +",
                           slug="invalid_mobile", hint=hint)

    import phonenumbers

    try:
        parsed = phonenumbers.parse(compact, "CN")
    except phonenumbers.NumberParseException:
        raise InvalidInput("not a valid mobile number", slug="invalid_mobile",
                           hint=hint) from None
    national = str(parsed.national_number)
    if (parsed.country_code != 86
            or not phonenumbers.is_valid_number(parsed)
            or phonenumbers.number_type(parsed) not in (
                phonenumbers.PhoneNumberType.MOBILE,
                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
            or len(national) != 11 or not national.startswith("1")):
        raise InvalidInput("not a valid Chinese mobile number", slug="invalid_mobile",
                           hint=hint)
    return national


def mask_mobile(mobile: str) -> str:
    """`13800138000` -> `138****8000`. Takes the output of `check_mobile`."""
    if len(mobile) != 11 or not (mobile.isascii() and mobile.isdigit()):
        raise ValueError("mask_mobile() takes an 11-digit national mobile number")
    return f"{mobile[:3]}****{mobile[-4:]}"


def check_holder_name(text: str) -> str:
    """Validate a card holder's name and return it normalized.

    Surrounding whitespace is stripped, the text is put in Unicode NFC form (so that the
    same name always hashes the same) and runs of spaces become one. It must then be
    non-empty, at most 64 characters, and free of control, format (zero-width, bidi
    override), line-separator, unassigned/private-use characters and spaces other than
    U+0020.
    """
    hint = "the holder's name as the bank has it, e.g. 张三"
    if not isinstance(text, str):
        raise InvalidInput("holder name must be text", slug="invalid_holder", hint=hint)
    name = unicodedata.normalize("NFC", text.strip())
    name = re.sub(r" {2,}", " ", name)
    if not name:
        raise InvalidInput("holder name is empty", slug="invalid_holder", hint=hint)
    if len(name) > HOLDER_MAX_CHARS:
        raise InvalidInput(f"holder name is longer than {HOLDER_MAX_CHARS} characters",
                           slug="invalid_holder",
                           hint="give the name as printed on the card, without titles")
    # Other spaces (no-break, ideographic) would make look-alike names hash differently.
    bad = invisible_char(name, plain_spaces_only=True)
    if bad is not None:
        raise InvalidInput(
            f"holder name contains a control, invisible or unusual space character "
            f"({describe(bad)})", slug="invalid_holder",
            hint="retype the name; copying it from a web page or chat can bring hidden "
                 "characters")
    return name


def mask_holder(name: str) -> str:
    """Star all but the last character: `张三` -> `*三`, `欧阳娜娜` -> `***娜`.
    A one-character name becomes `*`."""
    if not name:
        raise ValueError("mask_holder() takes a non-empty name")
    if len(name) == 1:
        return "*"
    return "*" * (len(name) - 1) + name[-1]


def check_expiry(text: str, today: date) -> None:
    """Check a card expiry `MM/YY` for form and that it is not past.

    A card is valid through the last day of its expiry month, so `11/13` is accepted on
    2013-11-30 and refused on 2013-12-01. The value itself is never kept.
    """
    hint = "MM/YY, e.g. 09/27"
    match = _EXPIRY_FORM.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput("expiry must be MM/YY", slug="invalid_expiry", hint=hint)
    month, year = int(match[1]), 2000 + int(match[2])
    if not 1 <= month <= 12:
        raise InvalidInput("expiry month must be 01 to 12", slug="invalid_expiry", hint=hint)
    if (year, month) < (today.year, today.month):
        raise InvalidInput("card has expired", slug="invalid_expiry",
                           hint="use a card that is still valid")


def check_security_code(text: str) -> None:
    """Check a security code (CVN2/CVV2) for form: exactly 3 ASCII digits. Never kept."""
    if not isinstance(text, str) or _SECURITY_CODE_FORM.fullmatch(text.strip()) is None:
        raise InvalidInput("security code must be 3 digits", slug="invalid_security_code",
                           hint="the 3 digits on the back of the card")


def is_weak_password(digits: str) -> bool:
    """Six equal digits, or a run of consecutive digits up or down (123456, 987654)."""
    steps = {ord(b) - ord(a) for a, b in zip(digits, digits[1:], strict=False)}
    return steps in ({0}, {1}, {-1})


def check_pay_password(text: str) -> None:
    """Check a new 6-digit payment password: exactly 6 ASCII digits (nothing stripped), not
    six equal digits, not an ascending or descending run. Slugs `invalid_password` (form)
    and `weak_password`."""
    if not isinstance(text, str) or _PASSWORD_FORM.fullmatch(text) is None:
        raise InvalidInput("payment password must be exactly 6 digits",
                           slug="invalid_password", hint=PASSWORD_HINT)
    if is_weak_password(text):
        raise InvalidInput("payment password is too easy to guess", slug="weak_password",
                           hint="avoid six equal digits and runs of consecutive digits up or down")
