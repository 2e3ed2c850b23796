"""`wxshop buy` and the order lifecycle (SPEC section 8), on SQLite and PostgreSQL."""

import pytest
from sqlalchemy import func, select

from tests import shop
from tests.shop import PAY, error, ok
from tests.shop import buy_result as buy
from wxshop_cli.db.models import BuyerItemUsage, GatewayPayment, IdempotencyKey, Order


@pytest.fixture
def store(cli, backend):
    """A live Double 11 promotion in Shanghai and Guangdong with a phone (limit 1 per buyer),
    a snack box, and a product outside any promotion; buyer `me` can pay."""
    db = shop.open_db()
    shop.product(db, "YX-1001", 528800, title="Apple iPhone 5s 16G")
    shop.product(db, "YX-2001", 9900, title="三只松鼠 坚果礼盒")
    shop.product(db, "YX-3001", 19900, stock=2, title="小米 移动电源")
    items = shop.promo(db, "double11", [
        {"sku": "YX-1001", "price_fen": 399900, "stock": 3, "limit": 1},
        {"sku": "YX-2001", "price_fen": 7920, "stock": 100},
    ], regions=("310000", "440000"))
    me = shop.shopper(db, "me")
    return {"db": db, "items": items, "me": me}




def count(db, model, *where):
    with db.transaction(read_only=True) as session:
        return session.execute(select(func.count()).select_from(model).where(*where)
                               ).scalar_one()


def test_buy_in_one_step_with_the_saved_address_and_default_card(cli, store):
    item = store["items"]["YX-1001"]
    order = ok(buy(cli, item, "--idempotency-key", "k1"))
    assert order["status"] == "paid"
    assert order["buyer"] == "me"
    assert order["item_id"] == item and order["sku"] == "YX-1001"
    assert order["qty"] == 1 and order["amount_fen"] == 399900
    assert order["card_id"] == store["me"]["card"]
    assert order["address_id"] == store["me"]["address"]
    assert len(order["transaction_id"]) == 28 and order["transaction_id"].startswith("42")
    assert order["order_no"].startswith("D20131111") and len(order["order_no"]) == 19
    assert order["paid_at"] == "2013-11-11T10:00:00+08:00"
    assert order["idempotency_key"] == "k1" and order["replayed"] is False
    assert shop.stock_left(store["db"], item) == 2


def test_a_sku_in_one_live_promotion_buys_the_promo_item(cli, store):
    order = ok(buy(cli, "YX-2001", "--qty", "3"))
    assert order["item_id"] == store["items"]["YX-2001"]
    assert order["amount_fen"] == 3 * 7920


def test_a_generated_key_is_printed(cli, store):
    result = buy(cli, "YX-2001")
    order = ok(result)
    assert order["idempotency_key"].startswith("idem_")
    assert order["idempotency_key"] in result.stderr


def test_a_sku_in_no_promotion_buys_at_list_price_from_product_stock(cli, store):
    order = ok(buy(cli, "YX-3001", "--qty", "2"))
    assert order["item_id"] is None and order["amount_fen"] == 39800
    err = error(buy(cli, "YX-3001"), 7)
    assert err["code"] == "sold_out"


def test_same_key_same_request_replays_without_charging_again(cli, store):
    item = store["items"]["YX-2001"]
    first = ok(buy(cli, item, "--idempotency-key", "same"))
    again = ok(buy(cli, item, "--idempotency-key", "same"))
    assert again["order_no"] == first["order_no"]
    assert again["replayed"] is True and first["replayed"] is False
    assert count(store["db"], GatewayPayment) == 1
    assert shop.stock_left(store["db"], item) == 99


def test_same_key_other_request_is_a_conflict(cli, store):
    item = store["items"]["YX-2001"]
    ok(buy(cli, item, "--idempotency-key", "k"))
    err = error(buy(cli, item, "--qty", "2", "--idempotency-key", "k"), 5)
    assert err["code"] == "idempotency_key_reused"
    assert err["idempotency_key"] == "k"
    # The fingerprint is the options as given, not what they resolved to.
    err = error(buy(cli, item, "--region", "310000", "--idempotency-key", "k"), 5)
    assert err["code"] == "idempotency_key_reused"


def test_keys_are_per_buyer(cli, store):
    shop.shopper(store["db"], "li")
    item = store["items"]["YX-2001"]
    mine = ok(buy(cli, item, "--idempotency-key", "shared"))
    theirs = ok(buy(cli, item, "--idempotency-key", "shared", buyer="li"))
    assert mine["order_no"] != theirs["order_no"] and theirs["buyer"] == "li"


def test_keys_expire_after_24_hours(cli, store):
    first = ok(buy(cli, "YX-3001", "--idempotency-key", "old"))
    same_day = ok(buy(cli, "YX-3001", "--idempotency-key", "old",
                      now="2013-11-12T09:59:59+08:00"))
    assert same_day["replayed"] is True
    later = ok(buy(cli, "YX-3001", "--idempotency-key", "old", now="2013-11-12T10:00:01+08:00"))
    assert later["order_no"] != first["order_no"] and later["replayed"] is False


def test_the_per_buyer_limit_is_enforced_and_its_refusal_replays(cli, store):
    item = store["items"]["YX-1001"]
    ok(buy(cli, item))
    err = error(buy(cli, item, "--idempotency-key", "second"), 7)
    assert err["code"] == "limit_exceeded"
    assert err["idempotency_key"] == "second"
    replay = error(buy(cli, item, "--idempotency-key", "second"), 7)
    assert replay["code"] == "limit_exceeded" and replay["replayed"] is True
    assert shop.stock_left(store["db"], item) == 2
    assert count(store["db"], Order) == 1


def test_quantity_over_the_limit_at_once_is_refused(cli, store):
    err = error(buy(cli, store["items"]["YX-1001"], "--qty", "2"), 7)
    assert err["code"] == "limit_exceeded"
    assert shop.stock_left(store["db"], store["items"]["YX-1001"]) == 3


def test_sold_out(cli, store):
    item = store["items"]["YX-1001"]
    for name in ("a", "b", "c"):
        shop.shopper(store["db"], name)
        ok(buy(cli, item, buyer=name))
    shop.shopper(store["db"], "d")
    err = error(buy(cli, item, buyer="d"), 7)
    assert err["code"] == "sold_out"
    assert shop.stock_left(store["db"], item) == 0


@pytest.mark.parametrize(("behaviour", "slug"), [
    ("decline", "payment_declined"), ("insufficient_funds", "payment_insufficient_funds"),
    ("frozen", "payment_card_frozen")])
def test_refusing_cards_close_the_order_and_give_stock_and_limit_back(cli, store, behaviour,
                                                                      slug):
    db = store["db"]
    shop.shopper(db, "unlucky", behaviour)
    item = store["items"]["YX-1001"]
    err = error(buy(cli, item, "--idempotency-key", "r", buyer="unlucky"), 6)
    assert err["code"] == slug
    with db.transaction(read_only=True) as session:
        order = session.get_one(Order, err["order_no"])
        assert order.status == "closed" and order.close_reason is not None
        usage = session.execute(select(BuyerItemUsage.used).where(
            BuyerItemUsage.item_id == item)).scalar_one()
    assert usage == 0
    assert shop.stock_left(db, item) == 3
    # The refusal replays with its exit code, and gives nothing back twice.
    again = error(buy(cli, item, "--idempotency-key", "r", buyer="unlucky"), 6)
    assert again["order_no"] == err["order_no"]
    assert shop.stock_left(db, item) == 3


def test_bank_limits_refuse_like_a_decline(cli, store):
    shop.shopper(store["db"], "capped", single_limit_fen=100000)
    err = error(buy(cli, store["items"]["YX-1001"], buyer="capped"), 6)
    assert err["code"] == "payment_single_limit"
    assert shop.stock_left(store["db"], store["items"]["YX-1001"]) == 3


def test_a_bank_timeout_is_unknown_until_settled_by_orders_show(cli, store):
    shop.shopper(store["db"], "slow", "timeout")
    item = store["items"]["YX-2001"]
    err = error(buy(cli, item, "--idempotency-key", "t", buyer="slow"), 9)
    assert err["code"] == "payment_unknown"
    order_no = err["order_no"]
    shown = cli.json("--buyer", "slow", "--now", shop.DURING, "orders", "show", order_no)
    assert shown["status"] == "paid"
    assert shown["transaction_id"].startswith("42")


def test_a_retry_of_the_same_key_settles_an_unknown_payment(cli, store):
    shop.shopper(store["db"], "slow", "timeout")
    item = store["items"]["YX-2001"]
    err = error(buy(cli, item, "--idempotency-key", "t", buyer="slow"), 9)
    retried = ok(buy(cli, item, "--idempotency-key", "t", buyer="slow"))
    assert retried["order_no"] == err["order_no"]
    assert retried["status"] == "paid" and retried["replayed"] is True
    assert count(store["db"], GatewayPayment) == 1


def test_close_expired_settles_paying_orders_with_the_gateway(cli, store):
    shop.shopper(store["db"], "slow", "timeout")
    err = error(buy(cli, store["items"]["YX-2001"], buyer="slow"), 9)
    swept = cli.json("--now", shop.DURING, "orders", "close-expired")
    assert swept["paid"] == [err["order_no"]]
    assert swept["closed"] == []


def test_wrong_password_five_times_locks_payments_for_three_hours(cli, store):
    item = store["items"]["YX-2001"]
    wrong = {"WXSHOP_PAY_PASSWORD": "135790"}
    for tries_left in (4, 3, 2, 1):
        err = error(buy(cli, item, "--idempotency-key", "pw", env=wrong), 6)
        assert err["code"] == "wrong_password"
        assert str(tries_left) in err["message"]
    err = error(buy(cli, item, "--idempotency-key", "pw", env=wrong), 6)
    assert err["code"] == "password_locked"
    err = error(buy(cli, item, "--idempotency-key", "pw"), 6)
    assert err["code"] == "password_locked"
    assert count(store["db"], Order) == 0
    # Wrong passwords did not use up the key; three hours later the lock has ended.
    order = ok(buy(cli, item, "--idempotency-key", "pw", now="2013-11-11T13:00:01+08:00"))
    assert order["replayed"] is False


def test_no_password_without_a_terminal_is_a_usage_error(cli, store):
    result = buy(cli, "YX-2001", env={})
    assert result.exit_code == 2
    assert count(store["db"], Order) == 0


@pytest.mark.parametrize(("args", "code", "slug"), [
    (["YX-9999"], 4, "item_not_found"),
    (["YX-2001", "--qty", "0"], 3, "invalid_qty"),
    (["YX-2001", "--region", "999999"], 3, "invalid_region"),
    (["YX-2001", "--address", "addr_nope"], 4, "address_not_found"),
    (["YX-2001", "--card", "card_nope"], 4, "card_not_found"),
    (["YX-2001", "--idempotency-key", "has space"], 3, "invalid_idempotency_key"),
    (["YX-2001", "--region", "110000"], 4, "address_not_found"),
])
def test_bad_requests_change_nothing_and_do_not_use_the_key(cli, store, args, code, slug):
    err = error(buy(cli, *args), code)
    assert err["code"] == slug
    assert count(store["db"], Order) == 0
    assert count(store["db"], IdempotencyKey) == 0
    assert shop.stock_left(store["db"], store["items"]["YX-2001"]) == 100


def test_mistyped_quantity_is_a_usage_error(cli, store):
    assert buy(cli, "YX-2001", "--qty", "abc").exit_code == 2


def test_a_region_the_promotion_does_not_serve_is_a_conflict(cli, store):
    shop.shopper(store["db"], "beijing", region="110000")
    err = error(buy(cli, store["items"]["YX-2001"], buyer="beijing"), 5)
    assert err["code"] == "region_not_served"


def test_the_default_address_in_a_region_is_chosen(cli, store):
    second = shop.address(store["db"], store["me"]["buyer_id"], "440000", default=False)
    order = ok(buy(cli, "YX-2001", "--region", "440000"))
    assert order["address_id"] == second and order["region_code"] == "440000"


def test_a_promotion_outside_its_window_is_not_live(cli, store):
    err = error(buy(cli, store["items"]["YX-2001"], now="2013-11-12T00:00:00+08:00"), 5)
    assert err["code"] == "promo_not_live"
    # By SKU, outside the window the product sells at list price.
    order = ok(buy(cli, "YX-2001", now="2013-11-12T00:00:00+08:00"))
    assert order["amount_fen"] == 9900 and order["item_id"] is None


def test_a_sku_in_two_live_promotions_is_ambiguous(cli, store):
    ids = shop.promo(store["db"], "flash", [{"sku": "YX-2001", "price_fen": 5000,
                                             "stock": 5}])
    err = error(buy(cli, "YX-2001"), 3)
    assert err["code"] == "ambiguous_item"
    assert ids["YX-2001"] in err["message"] and store["items"]["YX-2001"] in err["message"]


def test_unbound_cards_cannot_pay(cli, store):
    from sqlalchemy import update

    from wxshop_cli.db.models import Card

    with store["db"].transaction() as session:
        session.execute(update(Card).values(status="unbound"))
    err = error(buy(cli, "YX-2001"), 4)
    assert err["code"] == "no_card"
    err = error(buy(cli, "YX-2001", "--card", store["me"]["card"]), 5)
    assert err["code"] == "card_unbound"


def test_a_refusal_with_a_generated_key_is_one_stderr_line_carrying_the_key(cli, store):
    shop.shopper(store["db"], "unlucky", "decline")
    result = cli("--buyer", "unlucky", "--now", shop.DURING, "buy", "YX-2001", env=PAY)
    assert result.exit_code == 6
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "idempotency key idem_" in lines[0]


def test_asking_for_more_than_is_left_says_how_many_are_left(cli, store):
    err = error(buy(cli, "YX-3001", "--qty", "3"), 7)
    assert err["code"] == "sold_out" and err["left"] == 2
    assert "only 2" in err["message"]
