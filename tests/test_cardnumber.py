"""Card numbers and the BIN table (SPEC section 5). No database."""

from __future__ import annotations

import csv

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wxshop_cli.core import bins, cardnumber
from wxshop_cli.core.cardnumber import (
    TEST_CARDS,
    brand_of,
    check_card_number,
    is_test_card,
    luhn_check_digit,
    luhn_ok,
    masked,
    normalize,
)
from wxshop_cli.errors import INVALID, InvalidInput
from wxshop_cli.resources import fixtures_dir


def with_check_digit(partial: str) -> str:
    return partial + luhn_check_digit(partial)


def refused(text: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        check_card_number(text)
    assert info.value.exit_code == INVALID
    return info.value


# --- Luhn -----------------------------------------------------------------------------------

@pytest.mark.parametrize("number", [
    "79927398713", "4111111111111111", "5555555555554444", "378282246310005",
    "3530111333300000", "6222020000000000000",
])
def test_luhn_accepts_known_good_numbers(number):
    assert luhn_ok(number)


@pytest.mark.parametrize("number", [
    "79927398710", "4111111111111112", "6222020000000000001", "", "12a4", "４１１１",
])
def test_luhn_refuses_bad_numbers_and_non_digits(number):
    assert not luhn_ok(number)


def test_luhn_check_digit_matches_the_textbook_example():
    assert luhn_check_digit("7992739871") == "3"


# --- test cards -----------------------------------------------------------------------------

def test_the_seven_test_cards_of_the_spec():
    assert TEST_CARDS == {
        "6222020000000000000": "approve",
        "6258000000000006": "approve",
        "4111111111111111": "approve",
        "6222020000000004002": "decline",
        "6222020000000009951": "insufficient_funds",
        "6222020000000000695": "frozen",
        "6222020000000001198": "timeout",
    }


@pytest.mark.parametrize("number", sorted(TEST_CARDS))
def test_every_test_card_passes_luhn_and_the_brand_rules(number):
    assert luhn_ok(number)
    assert check_card_number(number) == number
    assert brand_of(number) == ("visa" if number.startswith("4") else "unionpay")


@pytest.mark.parametrize(("number", "bank_code", "card_type"), [
    ("6222020000000000000", "ICBC_DEBIT", "debit"),
    ("6258000000000006", "CMB_CREDIT", "credit"),
    ("4111111111111111", "BOC_CREDIT", "credit"),
    ("6222020000000004002", "ICBC_DEBIT", "debit"),
    ("6222020000000009951", "ICBC_DEBIT", "debit"),
    ("6222020000000000695", "ICBC_DEBIT", "debit"),
    ("6222020000000001198", "ICBC_DEBIT", "debit"),
])
def test_every_test_card_resolves_in_the_bin_table(number, bank_code, card_type):
    row = bins.lookup(number)
    assert (row.bank_code, row.card_type) == (bank_code, card_type)
    assert row.length == len(number)
    assert number.startswith(row.prefix)


def test_test_card_spec_types_debit_and_credit():
    # SPEC: the first is debit; 6258… and 4111… are credit cards (asked expiry and CVN).
    assert bins.lookup("6222020000000000000").card_type == "debit"
    assert bins.lookup("6258000000000006").card_type == "credit"
    assert bins.lookup("4111111111111111").card_type == "credit"


def test_is_test_card():
    assert is_test_card("6222020000000004002")
    assert is_test_card("6222 0200 0000 0000 695")
    assert is_test_card("4111-1111-1111-1111")
    assert not is_test_card(with_check_digit("622202000000000001"))
    assert not is_test_card("")
    assert not is_test_card("６２２２０２００００００００００６９５")


# --- normalisation and the checks, by example ----------------------------------------------

def test_normalize_removes_spaces_and_dashes():
    assert normalize(" 6222 0200-0000 0000 000\n") == "6222020000000000000"


@pytest.mark.parametrize("text", [
    "６２２２０２００００００００００６９５",   # full-width digits
    "6222020000000000ab0",
    "6222.0200.0000.0000.000",
    "٦٢٢٢٠٢٠٠٠٠٠٠٠٠٠٠٠٠٠",               # Arabic-Indic digits
    "",
    "  - -  ",
])
def test_normalize_refuses_anything_but_ascii_digits(text):
    with pytest.raises(InvalidInput) as info:
        normalize(text)
    assert info.value.slug == "invalid_card_number"


def test_check_card_number_returns_normalized_digits():
    assert check_card_number("4111 1111 1111 1111") == "4111111111111111"


def test_failed_luhn_is_refused():
    error = refused("6222020000000000001")
    assert error.slug == "invalid_card_number"
    assert "Luhn" in error.message


@pytest.mark.parametrize(("prefix", "length", "brand_name"), [
    ("4", 14, "Visa"), ("4", 15, "Visa"), ("4", 17, "Visa"), ("4", 18, "Visa"),
    ("4", 20, "Visa"), ("4", 5, "Visa"),
    ("55", 15, "Mastercard"), ("51", 19, "Mastercard"), ("2221", 17, "Mastercard"),
    ("37", 14, "American Express"), ("34", 16, "American Express"),
    ("3530", 15, "JCB"), ("3589", 20, "JCB"),
    ("62", 13, "UnionPay"), ("62", 15, "UnionPay"), ("62", 20, "UnionPay"),
    ("81000000", 15, "UnionPay"),
])
def test_wrong_length_for_the_brand_is_refused(prefix, length, brand_name):
    number = with_check_digit(prefix + "0" * (length - 1 - len(prefix)))
    assert luhn_ok(number)
    assert brand_of(number) is None
    error = refused(number)
    assert error.slug == "invalid_card_number"
    assert "wrong length" in error.message
    assert brand_name in error.message


@pytest.mark.parametrize("partial", [
    "601100000000000",     # Discover
    "30000000000000",      # Diners Club
    "350000000000000",     # below JCB's 3528
    "359000000000000",     # above JCB's 3589
    "222000000000000",     # below Mastercard's 2221
    "272100000000000",     # above Mastercard's 2720
    "561234567890123",     # 56 is not Mastercard
    "818000000000000",     # above 81719999
    "900000000000000000",  # 18 digits, nobody's
])
def test_unsupported_brand_is_refused(partial):
    error = refused(with_check_digit(partial))
    assert error.slug == "brand_not_supported"


@pytest.mark.parametrize("text", ["1", "123456789012", "12345678901234567890123"])
def test_numbers_of_no_card_length_are_refused(text):
    assert refused(text).slug == "invalid_card_number"


def test_discover_co_branded_range_is_unionpay():
    for prefix in ("622126", "622500", "622925"):
        number = with_check_digit(prefix + "0" * 9)
        assert brand_of(number) == "unionpay"


@pytest.mark.parametrize(("number_prefix", "brand"), [
    ("62", "unionpay"), ("81000000", "unionpay"), ("81719999", "unionpay"),
    ("4", "visa"), ("51", "mastercard"), ("55", "mastercard"), ("2221", "mastercard"),
    ("2720", "mastercard"), ("34", "amex"), ("37", "amex"), ("3528", "jcb"), ("3589", "jcb"),
])
def test_range_edges(number_prefix, brand):
    length = min(cardnumber.BRAND_LENGTHS[brand])
    number = with_check_digit(number_prefix + "0" * (length - 1 - len(number_prefix)))
    assert brand_of(number) == brand
    assert check_card_number(number) == number


@pytest.mark.parametrize(("number_prefix", "length"), [
    ("81720000", 16), ("80999999", 16), ("2220", 16), ("2721", 16), ("3527", 16),
    ("3590", 16), ("50", 16), ("56", 16), ("35", 15), ("6011", 16),
])
def test_just_outside_the_ranges_is_no_brand(number_prefix, length):
    number = with_check_digit(number_prefix + "0" * (length - 1 - len(number_prefix)))
    assert brand_of(number) is None


def test_error_messages_never_contain_the_number():
    for text in ("6222020000000000001", with_check_digit("41111111111111"),
                 with_check_digit("601100000000000")):
        error = refused(text)
        assert text not in error.line()
        assert text[-4:] not in error.message


# --- property tests -------------------------------------------------------------------------

# (brand, prefix, lengths) for every range the SPEC lists.
_RANGES = [
    ("unionpay", st.just("62"), range(16, 20)),
    ("unionpay", st.integers(81000000, 81719999).map(str), range(16, 20)),
    ("visa", st.just("4"), (13, 16, 19)),
    ("mastercard", st.integers(51, 55).map(str), (16,)),
    ("mastercard", st.integers(2221, 2720).map(str), (16,)),
    ("amex", st.sampled_from(["34", "37"]), (15,)),
    ("jcb", st.integers(3528, 3589).map(str), range(16, 20)),
]


@st.composite
def valid_numbers(draw):
    brand, prefixes, lengths = draw(st.sampled_from(_RANGES))
    prefix = draw(prefixes)
    length = draw(st.sampled_from(list(lengths)))
    body = draw(st.text("0123456789", min_size=length - 1 - len(prefix),
                        max_size=length - 1 - len(prefix)))
    return brand, with_check_digit(prefix + body)


@given(valid_numbers())
def test_a_valid_prefix_with_a_luhn_digit_always_passes(case):
    brand, number = case
    assert luhn_ok(number)
    assert brand_of(number) == brand
    assert check_card_number(number) == number


@given(valid_numbers(), st.data())
def test_every_single_digit_change_fails_luhn(case, data):
    _, number = case
    position = data.draw(st.integers(0, len(number) - 1))
    new = data.draw(st.sampled_from([d for d in "0123456789" if d != number[position]]))
    changed = number[:position] + new + number[position + 1:]
    assert not luhn_ok(changed)
    with pytest.raises(InvalidInput):
        check_card_number(changed)


@given(valid_numbers(), st.lists(st.sampled_from([" ", "-", "  "]), max_size=25), st.data())
def test_spaces_and_dashes_anywhere_are_ignored(case, separators, data):
    _, number = case
    chars = list(number)
    for sep in separators:
        chars.insert(data.draw(st.integers(0, len(chars))), sep)
    assert check_card_number("".join(chars)) == number


@given(valid_numbers(), st.data())
def test_one_full_width_digit_is_refused(case, data):
    _, number = case
    position = data.draw(st.integers(0, len(number) - 1))
    wide = chr(ord(number[position]) - ord("0") + ord("０"))
    with pytest.raises(InvalidInput) as info:
        check_card_number(number[:position] + wide + number[position + 1:])
    assert info.value.slug == "invalid_card_number"


@given(st.text("0123456789", min_size=13, max_size=19))
def test_masking_never_reveals_more_than_first6_and_last4(number):
    shown = masked(number[:6], number[-4:])
    digits = "".join(c for c in shown if c.isdigit())
    assert len(digits) <= 10
    assert shown.startswith(number[:4])
    assert shown.endswith(number[-4:])
    middle = shown[len(number[:4]):-4]
    assert set(middle) <= {" ", "*"}
    # The display depends on first6 and last4 only, so it cannot reveal the length.
    for length in range(13, 20):
        other = (number[:6] + "0" * 19)[: length - 4] + number[-4:]
        assert masked(other[:6], other[-4:]) == shown


def test_masked_format():
    assert masked("622202", "1234") == "6222 **** **** 1234"
    assert masked("411111", "1111") == "4111 **** **** 1111"
    assert len(masked("370247", "0005")) == len(masked("622202", "0000"))


@pytest.mark.parametrize(("first6", "last4"), [
    ("62220", "1234"), ("622202", "123"), ("62220a", "1234"), ("６２２２０２", "1234"),
    ("6222020", "1234"),
])
def test_masked_refuses_anything_but_6_and_4_digits(first6, last4):
    with pytest.raises(ValueError):
        masked(first6, last4)


# --- the BIN table --------------------------------------------------------------------------

def test_longest_prefix_wins(monkeypatch, tmp_path):
    table = tmp_path / "bins.csv"
    table.write_text(
        "prefix,length,bank,bank_code,card_type,single_limit_fen,daily_limit_fen\n"
        "6222,19,短前缀银行,SHORT_DEBIT,debit,500000,2000000\n"
        "622202,19,长前缀银行,LONG_DEBIT,debit,500000,2000000\n"
        "622202,16,十六位银行,SIXTEEN_CREDIT,credit,5000000,10000000\n",
        encoding="utf-8")
    monkeypatch.setattr(bins, "bins_path", lambda: table)
    bins.all_rows.cache_clear()
    bins._by_length.cache_clear()
    try:
        assert bins.lookup("6222020000000000000").bank_code == "LONG_DEBIT"
        assert bins.lookup("6222990000000000000").bank_code == "SHORT_DEBIT"
        assert bins.lookup(with_check_digit("622202000000000")).bank_code == "SIXTEEN_CREDIT"
        with pytest.raises(InvalidInput) as info:
            bins.lookup(with_check_digit("62229900000000000"))  # 18 digits: no row
        assert info.value.slug == "bank_not_supported"
    finally:
        bins.all_rows.cache_clear()
        bins._by_length.cache_clear()


@pytest.mark.parametrize("number", [
    with_check_digit("622202000000000"),     # ICBC debit prefix, but 16 digits
    with_check_digit("62220200000000000"),   # ... 18 digits
    with_check_digit("411112000000000"),     # a Visa nobody issued here
    with_check_digit("6299990000000000"),    # UnionPay, unknown bank
])
def test_unknown_bank_or_wrong_length_is_bank_not_supported(number):
    assert check_card_number(number) == number  # a well-formed card ...
    with pytest.raises(InvalidInput) as info:
        bins.lookup(number)                    # ... of a bank we do not know
    assert info.value.slug == "bank_not_supported"
    assert info.value.message == "bank not supported"
    assert info.value.exit_code == INVALID


_BANKS = {"ICBC", "ABC", "BOC", "CCB", "COMM", "CMB", "PSBC", "CIB", "SPDB", "CITIC", "CMBC",
          "CEB", "HXB", "GDB", "PAB"}


def test_the_shipped_table_covers_the_major_banks():
    rows = bins.all_rows()
    assert len(rows) >= 30
    codes = {row.bank_code for row in rows}
    for bank in _BANKS:
        assert f"{bank}_DEBIT" in codes, bank
        assert f"{bank}_CREDIT" in codes, bank


def test_every_row_of_the_shipped_table_is_consistent():
    for row in bins.all_rows():
        number = with_check_digit(row.prefix + "0" * (row.length - 1 - len(row.prefix)))
        assert check_card_number(number) == number, row  # fits the brand rules
        assert bins.lookup(number) == row, row           # and resolves to itself
        assert row.bank_code == f"{row.bank_code.split('_')[0]}_{row.card_type.upper()}"
        assert any("\u4e00" <= c <= "\u9fff" for c in row.bank), row
        assert 0 < row.single_limit_fen <= row.daily_limit_fen


def test_default_limits():
    assert (bins.lookup("6222020000000000000").single_limit_fen,
            bins.lookup("6222020000000000000").daily_limit_fen) == (500000, 2000000)
    assert (bins.lookup("6258000000000006").single_limit_fen,
            bins.lookup("6258000000000006").daily_limit_fen) == (5000000, 10000000)


def test_the_csv_header_and_bank_names_agree_per_code():
    with open(fixtures_dir() / "bins.csv", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["prefix", "length", "bank", "bank_code", "card_type",
                                     "single_limit_fen", "daily_limit_fen"]
        names: dict[str, set[str]] = {}
        for raw in reader:
            names.setdefault(raw["bank_code"].split("_")[0], set()).add(raw["bank"])
    assert all(len(v) == 1 for v in names.values()), names
    assert names["ICBC"] == {"中国工商银行"}
    assert names["CMB"] == {"招商银行"}


@pytest.mark.parametrize(("line", "problem"), [
    ("62220x,19,银行,X_DEBIT,debit,1,2", "prefix"),
    ("622202,12,银行,X_DEBIT,debit,1,2", "length"),
    ("622202,19,银行,X_DEBIT,prepaid,1,2", "card_type"),
    ("622202,19,银行,X_DEBIT,debit,3,2", "limits"),
    ("622202,19,银行,X_DEBIT,debit,one,2", "malformed"),
])
def test_a_broken_table_is_a_packaging_error_not_invalid_input(monkeypatch, tmp_path, line,
                                                               problem):
    table = tmp_path / "bins.csv"
    table.write_text(
        "prefix,length,bank,bank_code,card_type,single_limit_fen,daily_limit_fen\n"
        + line + "\n", encoding="utf-8")
    monkeypatch.setattr(bins, "bins_path", lambda: table)
    bins.all_rows.cache_clear()
    try:
        with pytest.raises(ValueError, match=problem):
            bins.all_rows()
    finally:
        bins.all_rows.cache_clear()


def test_the_table_is_read_once(monkeypatch):
    bins.all_rows.cache_clear()
    bins._by_length.cache_clear()
    opened = []
    real_open = open

    def counting_open(*args, **kwargs):
        opened.append(args[0])
        return real_open(*args, **kwargs)

    monkeypatch.setattr("builtins.open", counting_open)
    bins.lookup("6222020000000000000")
    bins.lookup("4111111111111111")
    bins.lookup("6258000000000006")
    assert [p for p in opened if str(p).endswith("bins.csv")] == [bins.bins_path()]


def test_type_label():
    assert bins.lookup("6222020000000000000").type_label == "储蓄卡"
    assert bins.lookup("6258000000000006").type_label == "信用卡"
