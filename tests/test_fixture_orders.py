"""The `order.place` fixture operation."""

import json

from tests import shop


def fixture(tmp_path, steps):
    path = tmp_path / "orders.json"
    path.write_text(json.dumps({"steps": steps}), encoding="utf-8")
    return str(path)


def test_fixtures_place_orders_once(cli, tmp_path, backend):
    db = shop.open_db()
    shop.product(db, "YX-2001", 9900)
    items = shop.promo(db, "double11", [{"sku": "YX-2001", "price_fen": 7920, "stock": 10}])
    shop.shopper(db, "li")
    path = fixture(tmp_path, [{"name": "li-snacks", "op": "order.place",
                               "args": {"buyer": "li", "item": items["YX-2001"], "qty": 2,
                                        "pay_password": shop.PASSWORD}}])
    first = cli.json("--now", shop.DURING, "fixtures", "load", path)
    assert first["li-snacks"].startswith("D20131111")
    again = cli.json("--now", shop.DURING, "fixtures", "load", path)
    assert again == first
    assert shop.stock_left(db, items["YX-2001"]) == 8


def test_a_refused_payment_fails_its_step(cli, tmp_path):
    db = shop.open_db()
    shop.product(db, "YX-2001", 9900)
    shop.shopper(db, "unlucky", "decline")
    path = fixture(tmp_path, [{"name": "buy", "op": "order.place",
                               "args": {"buyer": "unlucky", "item": "YX-2001",
                                        "pay_password": shop.PASSWORD}}])
    error = cli.fails(3, "--now", shop.DURING, "fixtures", "load", path)
    assert error["step"] == "buy" and error["cause"] == "payment_declined"


def test_a_wrong_password_fails_its_step(cli, tmp_path):
    db = shop.open_db()
    shop.product(db, "YX-2001", 9900)
    shop.shopper(db, "li")
    path = fixture(tmp_path, [{"name": "buy", "op": "order.place",
                               "args": {"buyer": "li", "item": "YX-2001",
                                        "pay_password": "135790"}}])
    assert cli.fails(3, "fixtures", "load", path)["cause"] == "wrong_password"
