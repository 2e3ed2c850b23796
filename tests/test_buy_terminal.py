"""The one-screen buy (issue 14, item 1): on a terminal `wxshop buy` shows the item, the
price and list price, the quantity and total, the address and card it will use and the stock
left, then asks for the payment password; a wrong password is asked again while tries are
left (5 wrong lock payments for 3 hours, counted in the database); Ctrl-C at the prompt
changes nothing; `--yes` skips the panel; the result shows the card and address as a person
reads them. Off a terminal nothing changed (tests/test_paypassword.py, test_checkout.py)."""

from __future__ import annotations

import signal

import pytest

from tests import shop
from tests.binding_helpers import query
from tests.terminal_helpers import finish, nut_shop, spawn

pexpect = pytest.importorskip("pexpect")

WRONG = "000001"
NO_PASSWORD = ("WXSHOP_PAY_PASSWORD",)  # the buy asks on the terminal


@pytest.fixture
def store(cli):
    made = nut_shop()
    shop.forget()
    return made


def state() -> dict:
    return {"orders": query("SELECT count(*) FROM orders")[0][0],
            "sold": query("SELECT sold FROM promo_item")[0][0],
            "failures": query("SELECT pay_failures FROM buyer WHERE name = 'me'")[0][0],
            "locked": query("SELECT pay_locked_until FROM buyer WHERE name = 'me'")[0][0]}


def test_the_panel_then_a_wrong_password_then_the_right_one(store):
    child = spawn("buy", store["item"], "--qty", "2", without=NO_PASSWORD)
    child.expect("Confirm and pay")
    child.expect("Payment password")
    panel = child.before
    for fact in ("三只松鼠 坚果礼盒", "¥79.20", "¥99.00", "¥158.40", "double11",
                 "张三 138****8000", "上海市", "淮海中路 1 号", "中国工商银行 储蓄卡 (0000)",
                 "stock left", "50"):
        assert fact in panel, (fact, panel)
    assert "13800138000" not in panel  # the phone is masked
    assert state()["orders"] == 0  # nothing is claimed before the password
    child.sendline(WRONG)
    child.expect("wrong payment password: 4 tries left")
    child.expect("Payment password")
    assert state()["failures"] == 1
    child.sendline(shop.PASSWORD)
    code, text = finish(child)
    assert code == 0, text
    assert "Paid" in text and "中国工商银行 储蓄卡 (0000)" in text
    assert "张三 138****8000 · 上海市" in text
    assert "card_" not in text and "addr_" not in text
    after = state()
    assert after["orders"] == 1 and after["sold"] == 2 and after["failures"] == 0


def test_five_wrong_passwords_lock_payments(store):
    child = spawn("buy", store["item"], without=NO_PASSWORD)
    for left in (4, 3, 2, 1):
        child.expect("Payment password")
        child.sendline(WRONG)
        child.expect(f"{left} tr(y|ies) left")
    child.expect("Payment password")
    child.sendline(WRONG)
    code, text = finish(child)
    assert code == 6 and "payments are locked until" in text
    assert "Payment password" not in text  # not asked again once locked
    after = state()
    assert after["orders"] == 0 and after["sold"] == 0 and after["locked"] is not None
    # The lock lives in the database: the right password is refused by the next run.
    child = spawn("buy", store["item"], without=NO_PASSWORD)
    child.expect("Payment password")
    child.sendline(shop.PASSWORD)
    code, text = finish(child)
    assert code == 6 and "locked" in text and state()["orders"] == 0


def test_ctrl_c_at_the_password_changes_nothing(store):
    before = state()
    child = spawn("buy", store["item"], without=NO_PASSWORD)
    child.expect("Payment password")
    child.kill(signal.SIGINT)
    code, _text = finish(child)
    assert code == 130
    assert state() == before


def test_a_malformed_password_is_asked_again_without_counting(store):
    child = spawn("buy", store["item"], without=NO_PASSWORD)
    child.expect("Payment password")
    child.sendline("12ab")
    child.expect("exactly 6 digits")
    child.expect("Payment password")
    child.sendline(shop.PASSWORD)
    code, text = finish(child)
    assert code == 0, text
    assert state()["failures"] == 0 and state()["orders"] == 1


def test_yes_skips_the_panel_and_json_keeps_the_ids(store):
    child = spawn("--json", "buy", store["item"], "--yes", without=NO_PASSWORD)
    child.expect("Payment password")
    assert "Confirm and pay" not in child.before
    child.sendline(shop.PASSWORD)
    code, text = finish(child)
    assert code == 0
    assert f'"card_id": "{store["card"]}"' in text
    assert f'"address_id": "{store["address"]}"' in text


def test_a_purchase_that_cannot_go_through_fails_before_the_password(store, cli):
    db = shop.open_db()
    shop.buyer(db, "nobody-home")  # a password, no address and no card
    shop.forget()
    child = spawn("--buyer", "nobody-home", "buy", store["item"], without=NO_PASSWORD)
    code, text = finish(child)
    assert code == 4 and "no saved address" in text and "Payment password" not in text
