from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wxshop_cli import money
from wxshop_cli.errors import InvalidInput

fens = st.integers(min_value=1, max_value=money.MAX_FEN)


@given(fens)
def test_yuan_text_round_trips_to_the_same_fen(fen):
    assert money.parse_yuan(money.yuan(fen)) == fen


@given(fens)
def test_display_has_yen_sign_grouping_and_two_decimals(fen):
    text = money.display(fen)
    assert text.startswith("¥")
    assert money.parse_yuan(text[1:].replace(",", "")) == fen
    assert len(text.split(".")[1]) == 2


@given(st.integers(min_value=0, max_value=999_999), st.integers(min_value=0, max_value=99))
def test_one_or_two_decimals_are_read_as_fen(whole, cents):
    assert money.parse_yuan(f"{whole}.{cents:02d}", allow_zero=True) == whole * 100 + cents
    if cents % 10 == 0:
        assert money.parse_yuan(f"{whole}.{cents // 10}", allow_zero=True) == whole * 100 + cents


@pytest.mark.parametrize("text", ["12.345", "-1", "1e3", "NaN", "inf", "1_000", "１２", "",
                                  ".5", "5.", "1,000", "¥5", " ", "0x10", "100000000.00"])
def test_malformed_or_out_of_range_amounts_are_invalid_input(text):
    with pytest.raises(InvalidInput) as info:
        money.parse_yuan(text)
    assert info.value.exit_code == 3


def test_zero_is_refused_unless_allowed():
    with pytest.raises(InvalidInput):
        money.parse_yuan("0.00")
    assert money.parse_yuan("0", allow_zero=True) == 0


def test_largest_amount_is_accepted():
    assert money.parse_yuan("99999999.99") == money.MAX_FEN


@given(st.integers(min_value=-money.MAX_FEN, max_value=money.MAX_FEN),
       st.integers(min_value=0, max_value=1_000_000))
def test_fee_is_amount_times_rate_rounded_half_up(amount, ppm):
    exact = Decimal(abs(amount)) * Decimal(ppm) / Decimal(1_000_000)
    expected = int(exact.to_integral_value(rounding=ROUND_HALF_UP))
    assert money.fee_fen(amount, ppm) == (expected if amount >= 0 else -expected)


def test_fee_examples_from_the_bill_format():
    assert money.fee_fen(399900, 6000) == 2399  # 23.994 → 23.99
    assert money.fee_fen(7920, 6000) == 48  # 0.4752 → 0.48
    assert money.fee_fen(1, 6000) == 0
    assert money.fee_fen(-100000, 6000) == -600


@pytest.mark.parametrize(("text", "ppm"), [("0.60%", 6000), ("0.6", 6000), ("0.38%", 3800),
                                          ("1%", 10000), ("0", 0), ("100%", 1_000_000)])
def test_rates_parse_to_parts_per_million(text, ppm):
    assert money.parse_rate_ppm(text) == ppm


@pytest.mark.parametrize("text", ["abc", "-1%", "101%", "0.123456%", "1e-2"])
def test_bad_rates_are_invalid(text):
    with pytest.raises(InvalidInput):
        money.parse_rate_ppm(text)


@given(st.integers(min_value=0, max_value=1_000_000))
def test_rate_text_round_trips(ppm):
    assert money.parse_rate_ppm(money.format_rate(ppm)) == ppm


@given(st.integers(min_value=1, max_value=money.MAX_FEN), st.integers(min_value=0, max_value=100))
def test_percent_of_matches_decimal_half_up(fen, percent):
    exact = Decimal(fen) * Decimal(percent) / 100
    assert money.percent_of(fen, Decimal(percent)) == int(
        exact.to_integral_value(rounding=ROUND_HALF_UP))
