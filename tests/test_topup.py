"""Mobile top-up (话费充值, issue 15): a product kind sent to a mobile number instead of an
address, with the same stock, limits, idempotency, refunds and bill, on both engines."""

from __future__ import annotations

import json

import pytest

from tests import shop
from tests.shop import PAY, error, ok
from tests.shop import buy_result as buy
from wxshop_cli.db.models import Order

NUMBER = "13912345678"


@pytest.fixture
def store(cli, backend):
    """¥100 of credit for ¥98 in a Shanghai-only promotion (limit 2), and a phone."""
    db = shop.open_db()
    shop.product(db, "HF-100", 10000, title="话费充值 ¥100", kind="topup", stock=0)
    shop.product(db, "YX-1001", 528800, title="Apple iPhone 5s 16G")
    items = shop.promo(db, "double11", [
        {"sku": "HF-100", "price_fen": 9800, "stock": 3, "limit": 2},
        {"sku": "YX-1001", "price_fen": 399900, "stock": 3},
    ], regions=("310000",))
    me = shop.shopper(db, "me", region="440000")  # outside the promotion's region
    return {"db": db, "items": items, "me": me}


def test_a_topup_goes_to_the_mobile_shown_masked(cli, store):
    order = ok(buy(cli, "HF-100", "--mobile", "+86 139-1234-5678", "--idempotency-key", "t1"))
    assert order["status"] == "paid" and order["amount_fen"] == 9800
    assert order["mobile_masked"] == "139****5678"
    assert order["address_id"] is None and order["region_code"] is None
    with store["db"].transaction(read_only=True) as session:
        assert session.get_one(Order, order["order_no"]).mobile == NUMBER
    shown = cli("--now", shop.DURING, "orders", "show", order["order_no"])
    assert "139****5678" in shown.stdout and NUMBER not in shown.stdout + shown.stderr
    # the same key and number replay; another number under the same key is another request
    assert ok(buy(cli, "HF-100", "--mobile", NUMBER, "--idempotency-key", "t1"))["replayed"]
    assert error(buy(cli, "HF-100", "--mobile", "13800138000", "--idempotency-key", "t1"),
                 5)["code"] == "idempotency_key_reused"


def test_topups_keep_stock_and_limits_and_refund(cli, store):
    for _ in range(2):
        ok(buy(cli, "HF-100", "--mobile", NUMBER))
    assert error(buy(cli, "HF-100", "--mobile", NUMBER), 7)["code"] == "limit_exceeded"
    shop.shopper(store["db"], "b2")
    order = ok(buy(cli, "HF-100", "--mobile", NUMBER, buyer="b2"))
    assert error(buy(cli, "HF-100", "--mobile", NUMBER, buyer="b2"), 7)["code"] == "sold_out"
    refund = cli.json("--buyer", "b2", "--now", shop.DURING, "orders", "refund",
                      order["order_no"])
    assert refund["amount_fen"] == 9800
    funnel = cli.json("report", "funnel", "--by", "region")
    assert funnel["outcomes"]["paid"] == 3 and funnel["outcomes"]["limit"] == 1
    assert [g["label"] for g in funnel["groups"]] == ["(top-up: no region)"]


def test_a_batch_line_takes_a_mobile(cli, store):
    lines = [{"item": "HF-100", "mobile": NUMBER}, {"item": "HF-100", "mobile": "12345"},
             {"item": "HF-100"}]
    result = cli("--json", "--now", shop.DURING, "buy", "--from", "-",
                 input="\n".join(json.dumps(line) for line in lines) + "\n", env=PAY)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows[0]["mobile_masked"] == "139****5678" and rows[0]["exit_code"] == 0
    assert rows[1]["error"]["code"] == "invalid_mobile" and rows[1]["exit_code"] == 3
    assert rows[2]["error"]["code"] == "missing_mobile" and rows[2]["exit_code"] == 2
    assert "12345" not in result.stdout + result.stderr


@pytest.mark.parametrize(("args", "code", "slug"), [
    (("HF-100", "--mobile", "12345678901"), 3, "invalid_mobile"),
    (("HF-100", "--mobile", "010-12345678"), 3, "invalid_mobile"),
    (("YX-1001", "--mobile", NUMBER), 3, "mobile_not_for_goods"),
    (("HF-100",), 2, "missing_mobile"),
    (("HF-100", "--mobile", NUMBER, "--region", "440000"), 3, "address_not_for_topup"),
])
def test_bad_paths_change_nothing_and_never_echo_the_number(cli, store, args, code, slug):
    before = shop.snapshot(("orders", "idempotency_key", "promo_item", "funnel_event"))
    result = buy(cli, *args)
    assert error(result, code)["code"] == slug
    assert "12345678901" not in result.stderr and "12345678" not in result.stderr
    assert shop.snapshot(("orders", "idempotency_key", "promo_item", "funnel_event")) == before


def test_address_on_a_topup_is_refused(cli, store):
    err = error(buy(cli, "HF-100", "--mobile", NUMBER, "--address", store["me"]["address"]), 3)
    assert err["code"] == "address_not_for_topup"


def test_product_add_takes_a_kind(cli, backend):
    added = cli.json("product", "add", "--sku", "HF-50", "--title", "话费 ¥50", "--price",
                     "50", "--stock", "10", "--kind", "topup")
    assert added["kind"] == "topup"
    assert cli.json("product", "add", "--sku", "P-1", "--title", "x", "--price", "1",
                    "--stock", "1")["kind"] == "goods"
    err = error(cli("--json", "product", "add", "--sku", "P-2", "--title", "x", "--price",
                    "1", "--stock", "1", "--kind", "voucher"), 3)
    assert err["code"] == "invalid_product"


@pytest.mark.terminal
def test_the_terminal_panel_shows_the_masked_number_not_an_address(cli):
    from tests.terminal_helpers import finish, spawn

    db = shop.open_db()
    shop.product(db, "HF-100", 10000, title="话费充值 ¥100", kind="topup", stock=0)
    shop.promo(db, "double11", [{"sku": "HF-100", "price_fen": 9800, "stock": 3}])
    shop.shopper(db, "me")
    shop.forget()
    child = spawn("buy", "HF-100", "--mobile", NUMBER, without=("WXSHOP_PAY_PASSWORD",))
    child.expect("Confirm and pay")
    child.expect("Payment password")
    panel = child.before
    assert "top up" in panel and "139****5678" in panel and NUMBER not in panel
    assert "ship to" not in panel
    child.sendline(shop.PASSWORD)
    code, text = finish(child)
    assert code == 0, text
    assert "139****5678" in text and NUMBER not in text
