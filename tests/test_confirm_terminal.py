"""Confirmations before destructive actions (issue 14, item 6): on a terminal `promo
archive`, `cards unbind` and `orders refund` ask first, `--yes`/`-y` skips the question, a
"no" changes nothing (exit 130, `not_confirmed`); off a terminal or with `--no-input` they
never ask and need no `--yes`."""

from __future__ import annotations

import pytest

from tests import shop
from tests.binding_helpers import query
from tests.terminal_helpers import finish, nut_shop, spawn

pexpect = pytest.importorskip("pexpect")

PAY = {"WXSHOP_PAY_PASSWORD": shop.PASSWORD}


@pytest.fixture
def store(cli):
    me = nut_shop()
    order = cli.json("--now", shop.DURING, "buy", me["item"], env=PAY)
    shop.forget()
    return {"card": me["card"], "order_no": order["order_no"]}


def promo_state() -> str:
    return query("SELECT state FROM promo WHERE code = 'double11'")[0][0]


def card_status(card: str) -> str:
    return query("SELECT status FROM card WHERE id = :id", id=card)[0][0]


def refunded(order_no: str) -> int:
    return query("SELECT refunded_fen FROM orders WHERE order_no = :no", no=order_no)[0][0]


def test_archive_asks_and_a_no_changes_nothing(store):
    child = spawn("promo", "archive", "double11")
    child.expect(r"Archive promotion double11\? It stops selling")
    child.sendline("n")
    code, text = finish(child)
    assert code == 130 and "error: not confirmed: nothing was changed" in text
    assert promo_state() == "published"
    child = spawn("--json", "promo", "archive", "double11")
    child.expect(r"Archive promotion double11\?")
    child.sendline("y")
    code, text = finish(child)
    assert code == 0 and '"archived"' in text
    assert promo_state() == "archived"


def test_yes_skips_the_question_on_a_terminal(store):
    code, text = finish(spawn("promo", "archive", "-y", "double11"))
    assert code == 0 and "?" not in text
    assert promo_state() == "archived"
    code, text = finish(spawn("orders", "refund", store["order_no"], "--amount", "1.00",
                              "--yes"))
    assert code == 0 and "?" not in text and refunded(store["order_no"]) == 100


def test_no_input_never_asks(store):
    code, text = finish(spawn("--no-input", "cards", "unbind", store["card"]))
    assert code == 0 and "?" not in text
    assert card_status(store["card"]) == "unbound"


def test_unbind_names_the_card_and_ctrl_d_is_a_no(store):
    child = spawn("cards", "unbind", store["card"])
    child.expect(r"Unbind 中国工商银行 储蓄卡 \(0000\) \(card_\w+\)\? It can no longer pay")
    child.sendeof()
    code, text = finish(child)
    assert code == 130 and "not confirmed" in text
    assert card_status(store["card"]) == "bound"
    child = spawn("cards", "unbind", store["card"])
    child.expect("Unbind")
    child.sendline("y")
    assert finish(child)[0] == 0 and card_status(store["card"]) == "unbound"


def test_an_unknown_card_fails_before_any_question(store):
    code, text = finish(spawn("cards", "unbind", "card_nope"))
    assert code == 4 and "?" not in text


def test_refund_asks_with_the_amount(store):
    child = spawn("orders", "refund", store["order_no"], "--amount", "10.00")
    child.expect(rf"Refund ¥10.00 of order {store['order_no']}\?")
    child.sendline("n")
    assert finish(child)[0] == 130 and refunded(store["order_no"]) == 0
    child = spawn("orders", "refund", store["order_no"])
    child.expect(rf"Refund all that is left of order {store['order_no']}\?")
    child.sendline("y")
    assert finish(child)[0] == 0 and refunded(store["order_no"]) == 7920


def test_off_a_terminal_nothing_asks_and_yes_is_accepted(cli, store):
    """CliRunner's stdin is not a terminal: the actions run at once, as scripts expect."""
    now = ("--now", shop.DURING)
    refund = cli.json(*now, "orders", "refund", store["order_no"], "--amount", "1.00", "-y")
    assert refund["amount_fen"] == 100
    result = cli("--json", *now, "orders", "refund", store["order_no"], "--amount", "1.00")
    assert result.exit_code == 0 and "?" not in result.stderr
    assert cli.json("cards", "unbind", store["card"])["unbound"] is True
    assert cli("promo", "archive", "double11", "--yes").exit_code == 0
    assert promo_state() == "archived"
