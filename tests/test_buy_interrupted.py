"""A buy interrupted or killed while the bank answers (issue 11, point 1): the order number
and the key are on the terminal before the bank is asked, the interrupt says the payment may
have gone through and how to retry, and the suggested retry never pays twice."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time

import pytest
from sqlalchemy import func, select

from tests import shop
from tests.conftest import REPO, Cli
from wxshop_cli.db.models import GatewayPayment

pexpect = pytest.importorskip("pexpect")
LATER = "2013-11-11T10:01:01+08:00"  # past the 60-second claim timeout of shop.DURING


@pytest.fixture
def item(backend):
    db = shop.open_db()
    shop.product(db, "YX-2001", 9900)
    items = shop.promo(db, "double11", [{"sku": "YX-2001", "price_fen": 7920, "stock": 10}])
    shop.shopper(db, "me")
    return {"db": db, "id": items["YX-2001"]}


def spawn_buy(item_id: str):
    env = dict(os.environ, PYTHONPATH=str(REPO), NO_COLOR="1", TERM="dumb",
               WXSHOP_PAY_PASSWORD=shop.PASSWORD, WXSHOP_SANDBOX_CHARGE_DELAY="30")
    child = pexpect.spawn(sys.executable, ["-m", "wxshop_cli", "--now", shop.DURING, "buy",
                                           item_id], env=env, encoding="utf-8", timeout=60,
                          dimensions=(40, 200))
    child.expect(r"order (D\d+) claimed \(idempotency key (idem_\w+)\); asking the bank")
    return child, child.match.group(1), child.match.group(2)


def payments(db) -> int:
    with db.transaction(read_only=True) as session:
        return session.execute(select(func.count()).select_from(GatewayPayment)).scalar_one()


def wait_for_the_bank(db) -> None:
    """The sandbox commits the charge, then waits (the charge delay): interrupt in there."""
    deadline = time.monotonic() + 30
    while payments(db) == 0:
        assert time.monotonic() < deadline, "the bank never charged"
        time.sleep(0.05)


def interrupt(child) -> str:
    """Ctrl-C, then what the terminal showed (whitespace folded)."""
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    return re.sub(r"\s+", " ", child.before)


def retry(item_id: str, key: str, now: str = shop.DURING):
    """The retry the terminal suggested, run in-process: what it meets is the state the
    interrupted (or killed) process left in the database, not the process."""
    return Cli()("--json", "--now", now, "buy", item_id, "--idempotency-key", key,
                 env={"WXSHOP_PAY_PASSWORD": shop.PASSWORD})


def test_ctrl_c_while_the_bank_answers_names_the_order_and_the_safe_retry(item):
    child, order_no, key = spawn_buy(item["id"])
    wait_for_the_bank(item["db"])
    said = interrupt(child)
    assert child.exitstatus == 130
    assert f"order {order_no}" in said and "may have gone through" in said
    assert f"--idempotency-key {key}" in said and f"wxshop orders show {order_no}" in said
    assert "rerun to continue" not in said  # never invites a blind rerun
    assert payments(item["db"]) == 1  # the bank had charged before the interrupt

    # The suggested retry works at once (the claim was released) and pays nothing twice.
    again = retry(item["id"], key)
    assert again.exit_code == 0, again.stderr
    order = json.loads(again.stdout)
    assert order["order_no"] == order_no and order["status"] == "paid"
    assert payments(item["db"]) == 1
    assert shop.stock_left(item["db"], item["id"]) == 9


def test_kill_while_the_bank_answers_then_the_printed_key_pays_once(item):
    child, order_no, key = spawn_buy(item["id"])
    wait_for_the_bank(item["db"])
    os.kill(child.pid, signal.SIGKILL)
    child.expect(pexpect.EOF)
    child.close()
    assert child.signalstatus == signal.SIGKILL
    busy = retry(item["id"], key)  # the dead process's claim still holds for 60 s
    assert busy.exit_code == 9
    assert json.loads(busy.stderr.strip().splitlines()[-1])["error"]["code"] \
        == "request_in_progress"
    again = retry(item["id"], key, LATER)
    assert again.exit_code == 0, again.stderr
    order = json.loads(again.stdout)
    assert order["order_no"] == order_no and order["status"] == "paid"
    assert payments(item["db"]) == 1
    assert shop.stock_left(item["db"], item["id"]) == 9


def test_orders_show_after_an_interrupt_settles_the_payment(item):
    child, order_no, _ = spawn_buy(item["id"])
    wait_for_the_bank(item["db"])
    interrupt(child)
    assert Cli().json("--now", shop.DURING, "orders", "show", order_no)["status"] == "paid"


def test_ctrl_c_before_the_bank_charged_is_retried_safely_too(item):
    """Interrupted inside the bank's own transaction: nothing was charged, and the same
    retry pays once."""
    child, order_no, key = spawn_buy(item["id"])
    interrupt(child)
    assert child.exitstatus == 130
    again = retry(item["id"], key)
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["order_no"] == order_no
    assert payments(item["db"]) == 1
