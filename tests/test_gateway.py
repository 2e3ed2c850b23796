"""The sandbox gateway: the bank's behaviour per test card, limits, at-most-once charges."""

import datetime as dt

import pytest

from wxshop_cli.gateway import FAILED, PENDING, SUCCESS, get_gateway

NOW = dt.datetime(2013, 11, 11, 2, 0, tzinfo=dt.UTC)  # 10:00 in Beijing


@pytest.fixture
def gateway(cli, backend):
    from wxshop_cli.db.engine import database

    cli.json("db", "upgrade")
    gw = get_gateway(database())
    for token, behaviour in [("card_ok", "approve"), ("card_decline", "decline"),
                             ("card_poor", "insufficient_funds"), ("card_lost", "frozen"),
                             ("card_slow", "timeout")]:
        gw.register_card(token=token, behaviour=behaviour, bank_code="ICBC_DEBIT",
                         single_limit_fen=500000, daily_limit_fen=800000, now=NOW)
    return gw


def charge(gw, no, token="card_ok", amount=1000, now=NOW):
    return gw.charge(out_trade_no=no, card_token=token, amount_fen=amount, openid="oWXSHOP_me",
                     product="Snack box", now=now)


def test_an_approving_card_is_charged_once_per_order_number(gateway):
    first = charge(gateway, "D1")
    assert first.status == SUCCESS
    assert len(first.transaction_id) == 28 and first.transaction_id.startswith("42")
    assert first.fee_fen == 6  # 10.00 × 0.60%
    assert first.paid_at == NOW
    again = charge(gateway, "D1", amount=999999)
    assert again == first


@pytest.mark.parametrize(("token", "code"), [("card_decline", "declined"),
                                             ("card_poor", "insufficient_funds"),
                                             ("card_lost", "card_frozen"),
                                             ("card_unknown", "unknown_card")])
def test_refusing_cards(gateway, token, code):
    result = charge(gateway, "D2", token=token)
    assert result.status == FAILED
    assert result.failure_code == code
    assert result.transaction_id is None


def test_single_payment_limit(gateway):
    assert charge(gateway, "D3", amount=500001).failure_code == "single_limit"
    assert charge(gateway, "D4", amount=500000).status == SUCCESS


def test_daily_limit_counts_per_card_per_beijing_day(gateway):
    assert charge(gateway, "D5", amount=500000).status == SUCCESS
    assert charge(gateway, "D6", amount=300000).status == SUCCESS
    assert charge(gateway, "D7", amount=1).failure_code == "daily_limit"
    next_day = NOW + dt.timedelta(days=1)
    assert charge(gateway, "D8", amount=1, now=next_day).status == SUCCESS


def test_a_timed_out_charge_is_unknown_until_queried(gateway):
    result = charge(gateway, "D9", token="card_slow")
    assert result.status == PENDING and result.unknown
    queried = gateway.query("D9", NOW)
    assert queried.status == SUCCESS
    assert queried.transaction_id == result.transaction_id
    assert gateway.query("nothing", NOW) is None


def test_refunds_are_idempotent_and_never_exceed_the_payment(gateway):
    charge(gateway, "D10", amount=10000)
    first = gateway.refund(out_trade_no="D10", out_refund_no="R1", amount_fen=6000, now=NOW)
    assert first.status == SUCCESS
    assert len(first.refund_id) == 29 and first.refund_id.startswith("50")
    assert gateway.refund(out_trade_no="D10", out_refund_no="R1", amount_fen=6000,
                          now=NOW) == first
    too_much = gateway.refund(out_trade_no="D10", out_refund_no="R2", amount_fen=4001, now=NOW)
    assert too_much.status == FAILED and too_much.failure_code == "exceeds_payment"
    assert gateway.refund(out_trade_no="D10", out_refund_no="R3", amount_fen=4000,
                          now=NOW).status == SUCCESS


def test_refund_of_an_unpaid_order_fails(gateway):
    charge(gateway, "D11", token="card_decline")
    result = gateway.refund(out_trade_no="D11", out_refund_no="R4", amount_fen=1, now=NOW)
    assert result.status == FAILED
