"""Identity and secret-form checks for card binding (SPEC section 5). No database."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wxshop_cli.core import identity
from wxshop_cli.core.identity import (
    check_expiry,
    check_holder_name,
    check_id_number,
    check_mobile,
    check_pay_password,
    check_security_code,
    is_weak_password,
    mask_holder,
    mask_mobile,
)
from wxshop_cli.errors import INVALID, InvalidInput
from wxshop_cli.resources import fixtures_dir

TODAY = date(2013, 11, 11)

_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]


def id_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2, written out independently of stdnum."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return "10X98765432"[total % 11]


def make_id(region: str, birth: str, seq: str = "123") -> str:
    first17 = region + birth + seq
    return first17 + id_check_char(first17)


def refused(func, *args, slug: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        func(*args)
    assert info.value.slug == slug
    assert info.value.exit_code == INVALID
    return info.value


# --- resident ID numbers --------------------------------------------------------------------

def test_checksum_helper_matches_published_examples():
    # Example numbers from GB 11643 and the stdnum documentation.
    assert id_check_char("11010519491231002") == "X"
    assert id_check_char("36042619910101007") == "1"


@pytest.mark.parametrize("number", [
    "11010519491231002X", "360426199101010071", "310115198001010016",  # Pudong, born 1980
])
def test_valid_id_numbers(number):
    assert check_id_number(number, TODAY) == number


def test_lowercase_x_and_spaces_are_accepted_and_compacted():
    assert check_id_number(" 110105 19491231 002x ", TODAY) == "11010519491231002X"


def test_bad_checksum_is_refused():
    error = refused(check_id_number, "110105194912310021", TODAY, slug="invalid_id_number")
    assert "checksum" in error.message


@pytest.mark.parametrize("birth", ["20130230", "19900229", "19901301", "19900000", "19900132"])
def test_impossible_birth_dates_are_refused(birth):
    error = refused(check_id_number, make_id("110105", birth), TODAY, slug="invalid_id_number")
    assert "birth date" in error.message


def test_leap_day_is_a_real_birth_date():
    number = make_id("110105", "19920229")
    assert check_id_number(number, TODAY) == number


def test_future_birth_date_is_refused():
    error = refused(check_id_number, make_id("110105", "20131112"), TODAY,
                    slug="invalid_id_number")
    assert "future" in error.message
    born_today = make_id("110105", "20131111")
    assert check_id_number(born_today, TODAY) == born_today


def test_birth_before_1900_is_refused():
    refused(check_id_number, make_id("110105", "18991231"), TODAY, slug="invalid_id_number")


@pytest.mark.parametrize("text", [
    "", "11010519491231002", "11010519491231002X1", "X10105194912310021",
    "11010519491231002Y", "１１０１０５１９４９１２３１００２Ｘ", "110105-1949-1231-002X0",
    "110105194912310O2X", "110105 19491231 002",
])
def test_malformed_id_numbers_are_refused(text):
    refused(check_id_number, text, TODAY, slug="invalid_id_number")


@pytest.mark.parametrize("region", ["000000", "990000", "160101", "830000"])
def test_unknown_province_codes_are_refused(region):
    refused(check_id_number, make_id(region, "19900101"), TODAY, slug="invalid_id_number")


def test_error_messages_never_contain_the_id_number():
    for text in ("110105194912310021", make_id("110105", "20130230")):
        error = refused(check_id_number, text, TODAY, slug="invalid_id_number")
        assert text not in error.line()
        assert text[6:14] not in error.line()


def test_province_codes_agree_with_the_shipped_regions():
    path = fixtures_dir() / "regions.json"
    if not path.exists():
        pytest.skip("regions.json not shipped yet")
    regions = json.loads(path.read_text(encoding="utf-8"))
    assert {row["code"][:2] for row in regions} == identity._PROVINCE_CODES


_provinces = st.sampled_from(sorted(identity._PROVINCE_CODES))
_births = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)


@st.composite
def id_numbers(draw):
    region = draw(_provinces) + draw(st.text("0123456789", min_size=4, max_size=4))
    birth = draw(_births).strftime("%Y%m%d")
    seq = draw(st.text("0123456789", min_size=3, max_size=3))
    return make_id(region, birth, seq)


@given(id_numbers())
def test_every_well_built_id_number_is_accepted(number):
    assert check_id_number(number, TODAY) == number
    assert check_id_number(number.lower(), TODAY) == number


@given(id_numbers(), st.data())
def test_every_single_character_change_is_refused(number, data):
    position = data.draw(st.integers(0, 17))
    alphabet = "0123456789X" if position == 17 else "0123456789"
    new = data.draw(st.sampled_from([c for c in alphabet if c != number[position]]))
    with pytest.raises(InvalidInput):
        check_id_number(number[:position] + new + number[position + 1:], TODAY)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
       st.dates(min_value=date(1950, 1, 1), max_value=date(2099, 12, 31)))
def test_birth_date_is_accepted_exactly_when_not_after_today(birth, today):
    number = make_id("310115", birth.strftime("%Y%m%d"))
    if birth <= today:
        assert check_id_number(number, today) == number
    else:
        refused(check_id_number, number, today, slug="invalid_id_number")


# --- mobiles --------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "13800138000", "+86 138 0013 8000", "86 13800138000", "8613800138000", "+8613800138000",
    "0086 13800138000", "138-0013-8000", " 13800138000\n",
])
def test_mobile_forms_are_accepted(text):
    assert check_mobile(text) == "13800138000"


@pytest.mark.parametrize("text", ["19912345678", "16612345678", "15012345678", "18612345678"])
def test_current_mobile_prefixes_are_accepted(text):
    assert check_mobile(text) == text


@pytest.mark.parametrize("text", [
    "", "1380013800", "138001380001", "12345678901", "01012345678", "010 1234 5678",
    "+1 650 253 0000", "+852 9123 4567", "１３８００１３８０００", "138 0013 800O",
    "+86+13800138000", "(138) 0013 8000", "086 13800138000", "1" * 40,
])
def test_invalid_mobiles_are_refused(text):
    refused(check_mobile, text, slug="invalid_mobile")


def test_mask_mobile():
    assert mask_mobile("13800138000") == "138****8000"
    assert mask_mobile(check_mobile("+86 186 1234 5678")) == "186****5678"
    with pytest.raises(ValueError):
        mask_mobile("1380013800")


# --- holder names ---------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("张三", "张三"), ("  张三 ", "张三"), ("阿卜杜·热合曼", "阿卜杜·热合曼"),
    ("ZHANG  SAN", "ZHANG SAN"), ("x" * 64, "x" * 64),
    ("e\u0301", "\u00e9"),  # NFC: the same name always hashes the same
])
def test_holder_names_are_accepted_and_normalized(text, expected):
    assert check_holder_name(text) == expected


@pytest.mark.parametrize("text", [
    "", "   ", "x" * 65, "张\n三", "张\t三", "张\x00三", "张\x1b[31m三", "张\u202e三",
    "张\u200b三", "张\u3000三", "张\u00a0三", "张\u2028三", "张\ue000三",
])
def test_bad_holder_names_are_refused(text):
    refused(check_holder_name, text, slug="invalid_holder")


@pytest.mark.parametrize(("name", "shown"), [
    ("张三", "*三"), ("欧阳娜娜", "***娜"), ("李", "*"), ("ZHANG SAN", "********N"),
])
def test_mask_holder(name, shown):
    assert mask_holder(name) == shown


@given(st.text(min_size=1, max_size=64))
def test_mask_holder_keeps_only_the_last_character(name):
    shown = mask_holder(name)
    assert len(shown) == len(name)
    assert set(shown[:-1]) <= {"*"}
    assert shown[-1] == ("*" if len(name) == 1 else name[-1])


# --- expiry ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["11/13", "12/13", "01/14", "12/99", " 11/13 "])
def test_expiry_this_month_or_later_is_accepted(text):
    assert check_expiry(text, TODAY) is None


def test_card_is_valid_through_the_end_of_its_month():
    assert check_expiry("11/13", date(2013, 11, 30)) is None
    refused(check_expiry, "11/13", date(2013, 12, 1), slug="invalid_expiry")


@pytest.mark.parametrize("text", ["10/13", "12/12", "01/00"])
def test_past_expiry_is_refused(text):
    error = refused(check_expiry, text, TODAY, slug="invalid_expiry")
    assert "expired" in error.message


@pytest.mark.parametrize("text", [
    "", "13/14", "00/14", "1/14", "11/2013", "1113", "11-13", "11 /13", "１１/１３", "aa/bb",
    "11/13/13",
])
def test_malformed_expiry_is_refused(text):
    refused(check_expiry, text, TODAY, slug="invalid_expiry")


@given(st.integers(1, 12), st.integers(0, 99),
       st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_expiry_accepted_exactly_when_its_month_is_not_past(month, yy, today):
    text = f"{month:02d}/{yy:02d}"
    last_day = (date(2000 + yy + month // 12, month % 12 + 1, 1) - timedelta(days=1))
    if today <= last_day:
        assert check_expiry(text, today) is None
    else:
        refused(check_expiry, text, today, slug="invalid_expiry")


# --- security code --------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["123", "000", "999", " 123\n"])
def test_security_code_accepted(text):
    assert check_security_code(text) is None


@pytest.mark.parametrize("text", ["", "12", "1234", "12a", "１２３", "1 23", "-12"])
def test_security_code_refused(text):
    refused(check_security_code, text, slug="invalid_security_code")


# --- payment password -----------------------------------------------------------------------

@pytest.mark.parametrize("text", ["000000", "999999", "123456", "234567", "456789", "012345",
                                  "654321", "987654", "543210", "111111"])
def test_weak_passwords_are_refused(text):
    error = refused(check_pay_password, text, slug="weak_password")
    assert text not in error.line()


@pytest.mark.parametrize("text", ["135790", "112233", "123457", "890123", "209817", "123455"])
def test_ordinary_passwords_are_accepted(text):
    assert check_pay_password(text) is None


@pytest.mark.parametrize("text", ["", "12345", "1234567", "12345a", "１３５７９０", " 135790",
                                  "135790\n", "13579O"])
def test_malformed_passwords_are_refused(text):
    error = refused(check_pay_password, text, slug="invalid_password")
    assert text.strip() == "" or text.strip() not in error.line()


_RUNS_UP = "0123456789"
_RUNS_DOWN = _RUNS_UP[::-1]


@given(st.text("0123456789", min_size=6, max_size=6))
def test_exactly_equal_digits_and_runs_are_weak(text):
    expected_weak = len(set(text)) == 1 or text in _RUNS_UP or text in _RUNS_DOWN
    assert is_weak_password(text) == expected_weak
    if expected_weak:
        refused(check_pay_password, text, slug="weak_password")
    else:
        assert check_pay_password(text) is None


# --- start-up cost --------------------------------------------------------------------------

def test_importing_the_module_does_not_import_stdnum_or_phonenumbers():
    code = ("import sys, wxshop_cli.core.identity, wxshop_cli.core.cardnumber, "
            "wxshop_cli.core.bins; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('stdnum', 'phonenumbers')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
