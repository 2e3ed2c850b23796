"""Many real processes racing for the last units (SPEC section 8, issue 5 point 5), and a
process killed during the gateway call. Run on SQLite and PostgreSQL.

The sandbox's charge delay keeps each process inside its purchase long enough for the others
to overlap; each test checks from the recorded wall-clock intervals that they really did.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from tests import shop
from tests.conftest import REPO
from wxshop_cli.db.models import BuyerItemUsage, GatewayPayment, Order

CROWD = 8


def spawn(args, extra_env=None):
    env = dict(os.environ, PYTHONPATH=str(REPO), WXSHOP_PAY_PASSWORD=shop.PASSWORD)
    env.update(extra_env or {})
    return subprocess.Popen([sys.executable, "-m", "wxshop_cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def race(commands, extra_env=None):
    """Start every command at once; returns (exit code, stdout, stderr, start, end) each."""
    started = []
    procs = []
    for args in commands:
        started.append(time.monotonic())
        procs.append(spawn(args, extra_env))
    results = []
    for proc, start in zip(procs, started, strict=True):
        out, err = proc.communicate(timeout=240)
        results.append((proc.returncode, out, err, start, time.monotonic()))
    return results


def assert_overlapped(results):
    last_start = max(r[3] for r in results)
    first_end = min(r[4] for r in results)
    assert last_start < first_end, "the processes did not run at the same time"


@pytest.mark.slow
def test_a_crowd_buying_the_last_units_sells_exactly_the_stock(cli, backend):
    db = shop.open_db()
    shop.product(db, "YX-1001", 528800)
    items = shop.promo(db, "double11", [{"sku": "YX-1001", "price_fen": 399900, "stock": 3}])
    names = [f"buyer{i}" for i in range(CROWD)]
    for name in names:
        shop.shopper(db, name)
    results = race([["--json", "--buyer", name, "--now", shop.DURING, "buy",
                     items["YX-1001"]] for name in names],
                   {"WXSHOP_SANDBOX_CHARGE_DELAY": "0.5"})
    assert_overlapped(results)
    codes = sorted(r[0] for r in results)
    assert codes == [0] * 3 + [7] * (CROWD - 3), [(r[0], r[2]) for r in results]
    for code, out, err, *_ in results:
        if code == 7:
            assert json.loads(err.strip().splitlines()[-1])["error"]["code"] == "sold_out"
            assert out == ""
        else:
            assert json.loads(out)["status"] == "paid"
    assert shop.stock_left(db, items["YX-1001"]) == 0
    with db.transaction(read_only=True) as session:
        assert session.execute(select(func.count()).select_from(Order)).scalar_one() == 3
        paid = session.execute(select(func.count()).select_from(GatewayPayment)).scalar_one()
        assert paid == 3


@pytest.mark.slow
def test_one_buyer_racing_a_limit_of_one_gets_exactly_one(cli, backend):
    db = shop.open_db()
    shop.product(db, "YX-1001", 528800)
    items = shop.promo(db, "double11", [{"sku": "YX-1001", "price_fen": 399900, "stock": 50,
                                         "limit": 1}])
    shop.shopper(db, "me")
    results = race([["--json", "--now", shop.DURING, "buy", items["YX-1001"],
                     "--idempotency-key", f"k{i}"] for i in range(6)],
                   {"WXSHOP_SANDBOX_CHARGE_DELAY": "0.5"})
    assert_overlapped(results)
    codes = sorted(r[0] for r in results)
    assert codes == [0] + [7] * 5, [(r[0], r[2]) for r in results]
    assert shop.stock_left(db, items["YX-1001"]) == 49
    with db.transaction(read_only=True) as session:
        assert session.execute(select(BuyerItemUsage.used)).scalar_one() == 1


@pytest.mark.slow
def test_a_process_killed_during_the_gateway_call_is_settled_by_a_retry(cli, backend):
    """The bank charged, then the process died before writing the outcome. Nothing is
    charged twice: within 60 s the retry says "in progress" (9); `orders show` asks the
    gateway and settles the order; a retry after the claim expired replays it."""
    db = shop.open_db()
    shop.product(db, "YX-2001", 9900)
    items = shop.promo(db, "double11", [{"sku": "YX-2001", "price_fen": 7920, "stock": 10,
                                         "limit": 1}])
    shop.shopper(db, "me")
    args = ["--json", "--now", shop.DURING, "buy", items["YX-2001"], "--idempotency-key", "k"]
    proc = spawn(args, {"WXSHOP_SANDBOX_CHARGE_DELAY": "60"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with db.transaction(read_only=True) as session:
            if session.execute(select(GatewayPayment)).first() is not None:
                break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("the gateway never recorded the charge")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    with db.transaction(read_only=True) as session:
        (order,) = session.execute(select(Order)).scalars()
    assert order.status == "pending_payment"

    busy = cli("--json", "--now", "2013-11-11T10:00:30+08:00", "buy", items["YX-2001"],
               "--idempotency-key", "k", env={"WXSHOP_PAY_PASSWORD": shop.PASSWORD})
    assert busy.exit_code == 9
    assert json.loads(busy.stderr.strip())["error"]["code"] == "request_in_progress"

    after = cli("--json", "--now", "2013-11-11T10:01:01+08:00", "buy", items["YX-2001"],
                "--idempotency-key", "k", env={"WXSHOP_PAY_PASSWORD": shop.PASSWORD})
    assert after.exit_code == 0, after.stderr
    settled = json.loads(after.stdout)
    assert settled["order_no"] == order.order_no and settled["status"] == "paid"
    with db.transaction(read_only=True) as session:
        assert session.execute(select(func.count()).select_from(GatewayPayment)
                               ).scalar_one() == 1
    assert shop.stock_left(db, items["YX-2001"]) == 9


def test_orders_show_settles_an_order_whose_process_died(cli, backend):
    """Same crash, settled by `orders show` instead of a retry."""
    from wxshop_cli.core import checkout
    from wxshop_cli.gateway import get_gateway

    db = shop.open_db()
    shop.product(db, "YX-2001", 9900)
    items = shop.promo(db, "double11", [{"sku": "YX-2001", "price_fen": 7920, "stock": 10}])
    me = shop.shopper(db, "me")
    claim = checkout._claim(db, "me", checkout.BuyRequest(item=items["YX-2001"]), "k", False,
                            shop.DURING_AT)
    get_gateway(db).charge(out_trade_no=claim.order.order_no, card_token=me["card"],
                           amount_fen=7920, openid="oWXSHOP_me", product="x",
                           now=shop.DURING_AT)
    shown = cli.json("--now", shop.DURING, "orders", "show", claim.order.order_no)
    assert shown["status"] == "paid"


def test_a_crash_before_the_bank_call_is_charged_once_by_the_retry(cli, backend):
    from wxshop_cli.core import checkout

    db = shop.open_db()
    shop.product(db, "YX-2001", 9900)
    items = shop.promo(db, "double11", [{"sku": "YX-2001", "price_fen": 7920, "stock": 10}])
    shop.shopper(db, "me")
    claim = checkout._claim(db, "me", checkout.BuyRequest(item=items["YX-2001"]), "k", False,
                            shop.DURING_AT)
    result = cli("--json", "--now", "2013-11-11T10:01:01+08:00", "buy", items["YX-2001"],
                 "--idempotency-key", "k", env={"WXSHOP_PAY_PASSWORD": shop.PASSWORD})
    assert result.exit_code == 0, result.stderr
    order = json.loads(result.stdout)
    assert order["order_no"] == claim.order.order_no and order["status"] == "paid"
    assert shop.stock_left(db, items["YX-2001"]) == 9
