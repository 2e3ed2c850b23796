"""Orders after checkout: refunds, cancel, close-expired, lists (SPEC section 8)."""

import datetime as dt

import pytest
from sqlalchemy import select

from tests import shop
from tests.test_checkout import PAY, buy, error, ok
from wxshop_cli.core import checkout
from wxshop_cli.db.models import GatewayRefund, Order, Refund
from wxshop_cli.gateway import get_gateway


@pytest.fixture
def store(cli, backend):
    db = shop.open_db()
    shop.product(db, "YX-2001", 9900, title="三只松鼠 坚果礼盒")
    items = shop.promo(db, "double11", [{"sku": "YX-2001", "price_fen": 7920, "stock": 10,
                                         "limit": 5}])
    shop.shopper(db, "me")
    return {"db": db, "item": items["YX-2001"]}


def paid_order(cli, store, qty=1):
    return ok(buy(cli, store["item"], "--qty", str(qty)))


def refund(cli, order_no, *args, now=shop.DURING):
    return cli("--json", "--now", now, "orders", "refund", order_no, *args)


def test_partial_then_full_refund(cli, store):
    order = paid_order(cli, store, qty=2)  # 158.40
    first = ok(refund(cli, order["order_no"], "--amount", "50", "--reason", "dented box"))
    assert first["amount_fen"] == 5000 and first["status"] == "success"
    assert first["refund_no"].startswith("R20131111")
    shown = cli.json("orders", "show", order["order_no"])
    assert shown["status"] == "partially_refunded" and shown["refunded_fen"] == 5000
    rest = ok(refund(cli, order["order_no"]))
    assert rest["amount_fen"] == 15840 - 5000
    shown = cli.json("orders", "show", order["order_no"])
    assert shown["status"] == "refunded" and shown["refunded_fen"] == 15840
    assert [r["amount_fen"] for r in shown["refunds"]] == [5000, 10840]
    # Refunds do not give stock or limit back.
    assert shop.stock_left(store["db"], store["item"]) == 8


def test_refunds_never_exceed_what_is_left(cli, store):
    order = paid_order(cli, store)
    err = error(refund(cli, order["order_no"], "--amount", "79.21"), 5)
    assert err["code"] == "refund_exceeds_paid"
    ok(refund(cli, order["order_no"]))
    err = error(refund(cli, order["order_no"], "--amount", "0.01"), 5)
    assert err["code"] in {"refund_exceeds_paid", "order_not_refundable"}


def test_a_refund_number_refunds_once(cli, store):
    order = paid_order(cli, store)
    first = ok(refund(cli, order["order_no"], "--amount", "10", "--refund-no", "RF-1"))
    again = ok(refund(cli, order["order_no"], "--amount", "10", "--refund-no", "RF-1"))
    assert again["refund_no"] == "RF-1" and again["replayed"] is True
    assert first["replayed"] is False
    with store["db"].transaction(read_only=True) as session:
        assert session.get_one(Order, order["order_no"]).refunded_fen == 1000
        assert len(session.execute(select(GatewayRefund)).all()) == 1
    err = error(refund(cli, order["order_no"], "--amount", "11", "--refund-no", "RF-1"), 5)
    assert err["code"] == "refund_no_reused"


@pytest.mark.parametrize(("amount", "code"), [("12.345", 3), ("-1", 3), ("0", 3), ("1e3", 3),
                                            (" 5", 3), ("abc", 2)])
def test_bad_refund_amounts_are_invalid_input(cli, store, amount, code):
    order = paid_order(cli, store)
    error(refund(cli, order["order_no"], "--amount", amount), code)
    assert cli.json("orders", "show", order["order_no"])["refunded_fen"] == 0


def test_refund_of_an_unknown_order_is_not_found(cli, store):
    assert error(refund(cli, "D2013111100000000999"), 4)["code"] == "order_not_found"


def test_refunds_end_after_365_days(cli, store):
    order = paid_order(cli, store)
    err = error(refund(cli, order["order_no"], now="2014-11-12T10:00:00+08:00"), 5)
    assert err["code"] == "refund_window_passed"


def test_at_most_50_refunds_per_order(cli, store):
    order = paid_order(cli, store, qty=5)
    for _ in range(50):
        ok(refund(cli, order["order_no"], "--amount", "0.01"))
    assert error(refund(cli, order["order_no"], "--amount", "0.01"), 5)["code"] == \
        "too_many_refunds"


def test_unpaid_orders_cannot_be_refunded(cli, store):
    shop.shopper(store["db"], "unlucky", "decline")
    err = error(buy(cli, store["item"], buyer="unlucky"), 6)
    assert error(refund(cli, err["order_no"]), 5)["code"] == "order_not_refundable"


def pending_order(store, created=shop.DURING_AT):
    """An order claimed by transaction one whose process never reached the bank."""
    db = store["db"]
    request = checkout.BuyRequest(item=store["item"])
    claim = checkout._claim(db, "me", request, "crashed", False, created)
    return claim.order.order_no


def test_cancel_gives_stock_and_limit_back(cli, store):
    order_no = pending_order(store)
    assert shop.stock_left(store["db"], store["item"]) == 9
    cancelled = cli.json("--now", shop.DURING, "orders", "cancel", order_no)
    assert cancelled["status"] == "closed" and cancelled["close_reason"] == "cancelled"
    assert shop.stock_left(store["db"], store["item"]) == 10
    err = error(cli("--json", "orders", "cancel", order_no), 5)
    assert err["code"] == "order_not_cancellable"


def test_cancel_is_only_for_the_buyers_own_unpaid_orders(cli, store):
    order = paid_order(cli, store)
    assert error(cli("--json", "orders", "cancel", order["order_no"]), 5)["code"] == \
        "order_not_cancellable"
    shop.shopper(store["db"], "li")
    assert error(cli("--json", "--buyer", "li", "orders", "cancel", order["order_no"]), 4)[
        "code"] == "order_not_found"


def test_close_expired_closes_unpaid_orders_after_15_minutes(cli, store):
    order_no = pending_order(store)
    early = cli.json("--now", "2013-11-11T10:14:59+08:00", "orders", "close-expired")
    assert early["closed"] == []
    swept = cli.json("--now", "2013-11-11T10:15:00+08:00", "orders", "close-expired")
    assert swept["closed"] == [order_no]
    assert shop.stock_left(store["db"], store["item"]) == 10
    again = cli.json("--now", "2013-11-11T10:20:00+08:00", "orders", "close-expired")
    assert again["closed"] == [] and again["keys_purged"] == 0
    assert shop.stock_left(store["db"], store["item"]) == 10  # given back once


def test_reads_close_expired_orders_lazily(cli, store):
    order_no = pending_order(store)
    shown = cli.json("--now", "2013-11-11T10:30:00+08:00", "orders", "show", order_no)
    assert shown["status"] == "closed" and shown["close_reason"] == "payment_timeout"


def test_a_payment_for_a_closed_order_is_recorded_and_refunded(cli, store):
    """The buyer's process was slow: the order closed, then the bank charged it."""
    db = store["db"]
    order_no = pending_order(store)
    cli.json("--now", "2013-11-11T10:15:00+08:00", "orders", "close-expired")
    with db.transaction(read_only=True) as session:
        order = session.get_one(Order, order_no)
    gateway = get_gateway(db)
    late = dt.datetime(2013, 11, 11, 2, 16, tzinfo=dt.UTC)
    result = gateway.charge(out_trade_no=order_no, card_token=order.card_id,
                            amount_fen=order.amount_fen, openid="oWXSHOP_me", product="x",
                            now=late)
    from wxshop_cli.core.orders import apply_charge

    after = apply_charge(db, gateway, order_no, result, late)
    assert after.status == "refunded"
    assert after.transaction_id == result.transaction_id
    with db.transaction(read_only=True) as session:
        refunds = session.execute(select(Refund).where(Refund.order_no == order_no)).scalars()
        assert [r.amount_fen for r in refunds] == [order.amount_fen]
    assert shop.stock_left(db, store["item"]) == 10  # the close gave it back, once


def test_an_unknown_charge_on_a_cancelled_order_is_asked_again_and_refunded(cli, store):
    """Cancelled before its charge reached the bank, whose answer was then "unknown": the
    order stays closed, and the charge the bank took after all is refunded."""
    db = store["db"]
    slow = shop.shopper(db, "slow", "timeout")
    request = checkout.BuyRequest(item=store["item"])
    order_no = checkout._claim(db, "slow", request, "late", False, shop.DURING_AT).order.order_no
    cli.json("--buyer", "slow", "--now", shop.DURING, "orders", "cancel", order_no)
    gateway = get_gateway(db)
    result = gateway.charge(out_trade_no=order_no, card_token=slow["card"], amount_fen=7920,
                            openid="oWXSHOP_slow", product="x", now=shop.DURING_AT)
    assert result.unknown
    from wxshop_cli.core.orders import apply_charge

    after = apply_charge(db, gateway, order_no, result, shop.DURING_AT)
    assert after.close_reason == "cancelled" and after.transaction_id is not None
    assert after.refunded_fen == 7920
    with db.transaction(read_only=True) as session:
        refunds = session.execute(select(Refund).where(Refund.order_no == order_no)).scalars()
        assert [r.amount_fen for r in refunds] == [7920]
    assert shop.stock_left(db, store["item"]) == 10  # the cancel gave it back, once


def test_orders_list_filters(cli, store):
    paid_order(cli, store)
    shop.shopper(store["db"], "li")
    ok(buy(cli, store["item"], buyer="li"))
    mine = cli.json("orders", "list")
    assert [o["buyer"] for o in mine] == ["me"]
    assert len(cli.json("orders", "list", "--all")) == 2
    assert cli.json("orders", "list", "--all", "--status", "closed") == []
    assert len(cli.json("orders", "list", "--promo", "double11")) == 1
    assert len(cli.json("orders", "list", "--date", "2013-11-11")) == 1
    assert cli.json("orders", "list", "--date", "2013-11-12") == []
    assert cli.json("--buyer", "nobody", "orders", "list") == []
    assert cli("orders", "list", "--status", "lost").exit_code == 2
    assert cli("orders", "list", "--date", "11/11/2013").exit_code == 2
    assert error(cli("--json", "orders", "list", "--promo", "nope"), 4)["code"] == \
        "promo_not_found"


def test_orders_show_unknown_is_not_found(cli, store):
    assert error(cli("--json", "orders", "show", "D1"), 4)["code"] == "order_not_found"


def test_a_pipe_gets_tab_separated_orders(cli, store):
    paid_order(cli, store)
    result = cli("orders", "list", env=PAY)
    lines = result.stdout.splitlines()
    assert lines[0].split("\t")[:3] == ["order_no", "status", "buyer"]
    assert "\t79.20\t" in lines[1]


def test_the_sweep_drops_idempotency_keys_after_24_hours(cli, store):
    paid_order(cli, store)
    assert cli.json("--now", "2013-11-12T09:59:59+08:00", "orders", "close-expired"
                    )["keys_purged"] == 0
    assert cli.json("--now", "2013-11-12T10:00:00+08:00", "orders", "close-expired"
                    )["keys_purged"] == 1


@pytest.mark.parametrize("reason", ["dented\u200bbox", "x" * 201, "two\nlines"])
def test_refund_reasons_are_plain_text(cli, store, reason):
    order = paid_order(cli, store)
    assert error(refund(cli, order["order_no"], "--reason", reason), 3)["code"] == \
        "invalid_reason"
    assert cli.json("orders", "show", order["order_no"])["refunded_fen"] == 0


def test_refunding_an_order_whose_payment_is_unknown_settles_it_first(cli, store):
    shop.shopper(store["db"], "slow", "timeout")
    err = error(buy(cli, store["item"], buyer="slow"), 9)
    done = ok(refund(cli, err["order_no"], "--amount", "10"))
    assert done["status"] == "success"
    assert cli.json("orders", "show", err["order_no"])["status"] == "partially_refunded"


def test_a_refund_cannot_precede_its_payment(cli, store):
    order = paid_order(cli, store)
    err = error(refund(cli, order["order_no"], now="2013-11-11T09:00:00+08:00"), 5)
    assert err["code"] == "refund_before_payment"


def test_a_refund_the_gateway_refuses_is_closed_and_gives_the_amount_back_once(cli, store):
    """Transaction two's refusal branch: the refund is closed and what it claimed is free to
    refund again, once — recording the same answer again gives nothing back twice."""
    from wxshop_cli.core import refunds
    from wxshop_cli.errors import WxError
    from wxshop_cli.gateway.base import RefundResult

    order = paid_order(cli, store, qty=2)  # 158.40
    db = store["db"]

    class Refusing:
        """A payment platform that answers every refund FAILED (as a bank may)."""

        answers: list[RefundResult] = []

        def refund(self, *, out_trade_no, out_refund_no, amount_fen, now):
            self.answers.append(RefundResult(
                out_refund_no=out_refund_no, out_trade_no=out_trade_no, refund_id=None,
                amount_fen=amount_fen, status="FAILED", failure_code="SYSTEMERROR"))
            return self.answers[-1]

    refusing = Refusing()
    with pytest.raises(WxError) as refused:
        refunds.refund_order(db, refusing, order["order_no"], 5000, "R-no-1", "dented",
                             dt.datetime(2013, 11, 11, 3, 0, tzinfo=dt.UTC))
    assert refused.value.slug == "refund_refused" and "SYSTEMERROR" in str(refused.value)
    with db.transaction(read_only=True) as session:
        assert session.get_one(Refund, "R-no-1").status == "closed"
        assert session.get_one(Order, order["order_no"]).refunded_fen == 0
    with db.transaction() as session:  # the same answer again: the guard gives back nothing
        again = refunds._record_answer(session, session.get_one(Refund, "R-no-1"),
                                       refusing.answers[-1])
    assert again.status == "closed"
    shown = cli.json("orders", "show", order["order_no"])
    assert shown["refunded_fen"] == 0 and shown["status"] == "paid"
    # The whole amount is still refundable, through the real sandbox.
    assert ok(refund(cli, order["order_no"]))["amount_fen"] == 15840
