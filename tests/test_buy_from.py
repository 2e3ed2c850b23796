"""`wxshop buy --from FILE|-`: many purchases in one process through the same checkout
(issue 9). Good paths, every bad path a line can take, group commit, workers, processes
racing on the last units and a batch killed mid-way, on SQLite and PostgreSQL."""

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
from tests.shop import PAY
from tests.test_races import assert_overlapped, race
from wxshop_cli.db.models import Buyer, BuyerItemUsage, GatewayPayment, Order, PromoItem

LATER = "2013-11-11T10:01:01+08:00"  # past the 60-second claim timeout of DURING


@pytest.fixture
def store(backend):
    db = shop.open_db()
    shop.product(db, "YX-1001", 528800)
    shop.product(db, "YX-2001", 9900, stock=100)
    items = shop.promo(db, "double11", [
        {"sku": "YX-1001", "price_fen": 399900, "stock": 3, "limit": 1},
        {"sku": "YX-2001", "price_fen": 7920, "stock": 50}])
    buyers = {name: shop.shopper(db, name) for name in ("b1", "b2", "b3", "b4")}
    return {"db": db, "items": items, "buyers": buyers}


def lines(*rows) -> str:
    return "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows)


def run_batch(cli, text: str, *options: str, now: str = shop.DURING, env=None):
    result = cli("--json", "--now", now, "buy", "--from", "-", *options, input=text,
                 env={**PAY, **(env or {})})
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    return result, rows


def count(db, model, *where) -> int:
    with db.transaction(read_only=True) as session:
        return session.execute(select(func.count()).select_from(model).where(*where)
                               ).scalar_one()


def sold(db, item_id: str) -> int:
    with db.transaction(read_only=True) as session:
        return session.get_one(PromoItem, item_id).sold


@pytest.mark.parametrize("group", ["1", "500"])
def test_every_line_is_bought_and_reported_once(cli, store, group):
    item = store["items"]["YX-2001"]
    text = lines(*({"buyer": f"b{n % 4 + 1}", "item": item, "idempotency_key": f"k{n}"}
                   for n in range(20)))
    result, rows = run_batch(cli, text, "--group", group)
    assert result.exit_code == 0, result.stderr
    assert sorted(row["line"] for row in rows) == list(range(1, 21))
    assert all(row["status"] == "paid" and row["exit_code"] == 0 for row in rows)
    assert len({row["order_no"] for row in rows}) == 20
    assert sold(store["db"], item) == 20
    assert count(store["db"], GatewayPayment) == 20
    assert "20 paid" in result.stderr


def test_the_same_file_again_replays_every_line_and_charges_nothing(cli, store):
    item = store["items"]["YX-2001"]
    text = lines(*({"buyer": "b1", "item": item, "idempotency_key": f"k{n}"}
                   for n in range(5)))
    _, first = run_batch(cli, text, "--group", "3")
    result, again = run_batch(cli, text, "--group", "3")
    assert result.exit_code == 0
    assert [r["order_no"] for r in again] == [r["order_no"] for r in first]
    assert all(row["replayed"] for row in again)
    assert count(store["db"], GatewayPayment) == 5 and sold(store["db"], item) == 5


def test_sold_out_and_limits_mid_batch_are_exact(cli, store):
    """Three units, one per buyer: the fourth buyer finds it sold out, a second unit for
    the same buyer breaks the limit; the batch exits 10, each line with its own code."""
    item = store["items"]["YX-1001"]
    text = lines({"buyer": "b1", "item": item}, {"buyer": "b1", "item": item},
                 {"buyer": "b2", "item": item}, {"buyer": "b3", "item": item},
                 {"buyer": "b4", "item": item})
    result, rows = run_batch(cli, text, "--group", "10")
    assert result.exit_code == 10
    codes = {row["line"]: row["exit_code"] for row in rows}
    assert codes == {1: 0, 2: 7, 3: 0, 4: 0, 5: 7}
    by_line = {row["line"]: row for row in rows}
    assert by_line[2]["error"]["code"] == "limit_exceeded"
    assert by_line[5]["error"]["code"] == "sold_out"
    assert sold(store["db"], item) == 3
    assert count(store["db"], BuyerItemUsage, BuyerItemUsage.used > 1) == 0
    assert "limit_exceeded 1" in result.stderr and "sold_out 1" in result.stderr


def test_a_duplicate_key_in_one_file_replays_the_first_line(cli, store):
    item = store["items"]["YX-2001"]
    text = lines({"buyer": "b1", "item": item, "idempotency_key": "same"},
                 {"buyer": "b1", "item": item, "idempotency_key": "same"},
                 {"buyer": "b1", "item": item, "qty": 2, "idempotency_key": "same"})
    result, rows = run_batch(cli, text, "--group", "10")
    by_line = {row["line"]: row for row in rows}
    assert by_line[1]["exit_code"] == 0 and by_line[1]["replayed"] is False
    assert by_line[2]["exit_code"] == 0 and by_line[2]["replayed"] is True
    assert by_line[2]["order_no"] == by_line[1]["order_no"]
    assert by_line[3]["error"]["code"] == "idempotency_key_reused"
    assert result.exit_code == 10
    assert count(store["db"], GatewayPayment) == 1 and sold(store["db"], item) == 1


def test_malformed_lines_get_their_own_error_and_the_batch_goes_on(cli, store):
    item = store["items"]["YX-2001"]
    text = lines("not json", "[1, 2]", {"item": item, "colour": "red"},
                 {"buyer": "b1", "item": item, "qty": "abc"}, {"buyer": "b1"},
                 {"buyer": "b1", "item": item, "qty": 0},
                 {"buyer": "bad name!", "item": item},
                 {"buyer": "b1", "item": item, "idempotency_key": "ok"})
    result, rows = run_batch(cli, text)
    by_line = {row["line"]: row for row in rows}
    assert [by_line[n]["exit_code"] for n in range(1, 9)] == [3, 3, 3, 2, 2, 3, 3, 0]
    assert by_line[1]["error"]["code"] == "invalid_batch_line"
    assert result.exit_code == 10
    assert count(store["db"], Order) == 1


def test_blank_lines_are_skipped_and_line_numbers_are_the_files(cli, store):
    item = store["items"]["YX-2001"]
    text = "\n" + lines({"buyer": "b1", "item": item}) + "\n\n" + lines({"buyer": "b2",
                                                                           "item": item})
    result, rows = run_batch(cli, text)
    assert result.exit_code == 0
    assert [row["line"] for row in rows] == [2, 5]


def test_unknown_buyer_and_wrong_password(cli, store):
    """A wrong password is verified once per buyer in a batch: it counts one try, not one
    per line; an unknown buyer has no payment password (exit 5)."""
    item = store["items"]["YX-2001"]
    text = lines(*({"buyer": "b1", "item": item, "pay_password": "314159"}
                   for _ in range(3)), {"buyer": "ghost", "item": item},
                 {"buyer": "b2", "item": item})
    result, rows = run_batch(cli, text)
    by_line = {row["line"]: row for row in rows}
    assert [by_line[n]["exit_code"] for n in range(1, 6)] == [6, 6, 6, 5, 0]
    assert by_line[1]["error"]["code"] == "wrong_password"
    assert by_line[4]["error"]["code"] == "pay_password_not_set"
    with store["db"].transaction(read_only=True) as session:
        b1 = session.execute(select(Buyer).where(Buyer.name == "b1")).scalar_one()
        assert b1.pay_failures == 1
    assert count(store["db"], Order) == 1


def test_no_password_anywhere_is_a_usage_error_of_each_line(cli, store):
    result = cli("--json", "--now", shop.DURING, "buy", "--from", "-",
                 input=lines({"buyer": "b1", "item": "YX-2001"}))
    assert result.exit_code == 10
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert row["exit_code"] == 2 and row["error"]["code"] == "missing_value"


def test_batch_level_mistakes_change_nothing(cli, store, tmp_path):
    assert cli.fails(4, "buy", "--from", str(tmp_path / "missing.jsonl"))["code"] \
        == "file_not_found"
    assert cli.fails(2, "buy", "YX-2001", "--from", "-", input="")["code"] == "usage"
    assert cli.fails(2, "buy", "--from", "-", "--group", "0", input="")["code"] == "usage"
    assert cli.fails(2, "buy", "--from", str(tmp_path))["code"] == "invalid_file"
    assert cli.fails(2, "buy", "YX-2001", "--group", "5", env=PAY)["code"] == "usage"
    assert count(store["db"], Order) == 0


def test_odd_bytes_are_that_lines_error_and_a_bom_is_not(cli, store):
    """Each line is decoded on its own: a non-UTF-8 line is refused alone (nothing else
    bought twice or skipped); a byte-order mark at the start of the file is dropped; a field
    given twice is refused, not silently the last one; a card number is never echoed."""
    item = store["items"]["YX-2001"]
    raw = ("\ufeff" + json.dumps({"buyer": "b1", "item": item})).encode() + b"\n" + \
        b'{"buyer": "b2", "item": "caf\xe9"}\n' + \
        f'{{"buyer": "b3", "item": "{item}", "item": "YX-1001"}}\n'.encode() + \
        json.dumps({"buyer": "b4", "item": item, "card": "4111 1111 1111 1111"}).encode()
    result = cli("--json", "--now", shop.DURING, "buy", "--from", "-", input=raw, env=PAY)
    rows = {row["line"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert rows[1]["exit_code"] == 0
    assert rows[2]["error"]["code"] == "invalid_batch_line" and rows[2]["buyer"] == "me"
    assert rows[3]["error"]["code"] == "invalid_batch_line" and rows[3]["buyer"] == "b3"
    assert rows[4]["error"]["code"] == "invalid_card_id" and rows[4]["buyer"] == "b4"
    assert "4111" not in result.stdout and "4111" not in result.stderr
    assert count(store["db"], Order) == 1


def test_no_header_on_stdout_when_the_batch_cannot_run(cli, store, tmp_path):
    result = cli("--now", shop.DURING, "buy", "--from", str(tmp_path / "none.jsonl"), env=PAY)
    assert result.exit_code == 4 and result.stdout == ""


def test_tab_separated_results_in_a_pipe(cli, store):
    item = store["items"]["YX-2001"]
    result = cli("--now", shop.DURING, "buy", "--from", "-", input=lines(
        {"buyer": "b1", "item": item}, {"buyer": "b1", "item": "nope"}), env=PAY)
    header, first, second = result.stdout.splitlines()
    assert header.split("\t")[:4] == ["line", "exit_code", "status", "order_no"]
    assert first.split("\t")[:3] == ["1", "0", "paid"]
    assert second.split("\t")[:2] == ["2", "4"]


def test_workers_share_the_stream_and_sell_exactly_the_stock(cli, store):
    item = store["items"]["YX-1001"]  # 3 units, one per buyer
    text = lines(*({"buyer": f"b{n % 4 + 1}", "item": item} for n in range(12)))
    result, rows = run_batch(cli, text, "--workers", "3", "--group", "2")
    assert sorted(row["line"] for row in rows) == list(range(1, 13))
    assert sum(row["exit_code"] == 0 for row in rows) == 3
    assert sold(store["db"], item) == 3
    assert count(store["db"], BuyerItemUsage, BuyerItemUsage.used > 1) == 0
    assert count(store["db"], GatewayPayment) == 3


@pytest.mark.slow
def test_batches_in_racing_processes_sell_exactly_the_last_units(cli, store):
    item = store["items"]["YX-1001"]
    names = ["b1", "b2", "b3", "b4"]
    files = []
    for n, name in enumerate(names):
        path = shop_file(f"crowd{n}.jsonl", lines(*({"buyer": name, "item": item}
                                                    for _ in range(3))))
        files.append(path)
    results = race([["--json", "--now", shop.DURING, "buy", "--from", str(path), "--group",
                     "2"] for path in files], {"WXSHOP_SANDBOX_CHARGE_DELAY": "0.3"})
    assert_overlapped(results)
    assert {code for code, *_ in results} <= {0, 10}
    paid = [json.loads(line) for _, out, *_ in results for line in out.splitlines()
            if json.loads(line)["exit_code"] == 0]
    assert len(paid) == 3 and len({row["buyer"] for row in paid}) == 3
    assert sold(store["db"], item) == 3
    assert count(store["db"], GatewayPayment) == 3
    assert count(store["db"], BuyerItemUsage, BuyerItemUsage.used > 1) == 0


@pytest.mark.slow
def test_a_batch_killed_mid_way_then_run_again_pays_every_line_once(cli, store):
    item = store["items"]["YX-2001"]
    text = lines(*({"buyer": f"b{n % 4 + 1}", "item": item, "idempotency_key": f"kill-{n}"}
                   for n in range(8)))
    proc = slow_batch(shop_file("kill.jsonl", text), delay="0.4")
    first_line = proc.stdout.readline()  # one purchase committed and reported…
    assert json.loads(first_line)["exit_code"] == 0
    time.sleep(0.2)  # …and the next one inside the bank's answer
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    stock_before = 50
    assert count(store["db"], GatewayPayment) < 8

    result, rows = run_batch(cli, text, now=LATER)
    assert result.exit_code == 0, result.stderr
    assert len(rows) == 8 and all(row["status"] == "paid" for row in rows)
    assert len({row["order_no"] for row in rows}) == 8
    assert count(store["db"], GatewayPayment) == 8  # nothing charged twice
    assert count(store["db"], Order) == 8
    left = shop.stock_left(store["db"], item)
    assert left + sold(store["db"], item) == stock_before and sold(store["db"], item) == 8



def slow_batch(path, *options: str, delay: str) -> subprocess.Popen:
    """`buy --from PATH` in a real process whose bank answers `delay` seconds after it
    charged (the sandbox's knob), to be killed or interrupted mid-batch."""
    env = dict(os.environ, PYTHONPATH=str(REPO), WXSHOP_PAY_PASSWORD=shop.PASSWORD,
               WXSHOP_SANDBOX_CHARGE_DELAY=delay)
    return subprocess.Popen([sys.executable, "-m", "wxshop_cli", "--json", "--now",
                             shop.DURING, "buy", "--from", str(path), *options], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def shop_file(name: str, text: str):
    """A file beside the test's home (each test has its own)."""
    from pathlib import Path

    path = Path(os.environ["WXSHOP_HOME"]).parent / name
    path.write_text(text, encoding="utf-8")
    return path


def test_buy_from_dash_reads_a_real_pipe(store):
    from tests.conftest import run_wxshop

    item = store["items"]["YX-2001"]
    done = run_wxshop("--json", "--now", shop.DURING, "buy", "--from", "-", "--group", "2",
                      input=lines(*({"buyer": "b1", "item": item} for _ in range(3))),
                      env=PAY)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [row["line"] for row in rows] == [1, 2, 3]
    assert all(row["status"] == "paid" for row in rows)


@pytest.mark.slow
def test_ctrl_c_mid_batch_finishes_or_releases_and_the_same_file_pays_once(cli, store):
    """SIGINT while the bank answers a group: the groups under way finish (or give their
    claims up), the rest is not attempted, the message says how to go on, and the same file
    again at once pays every line exactly once."""
    item = store["items"]["YX-2001"]
    text = lines(*({"buyer": f"b{n % 4 + 1}", "item": item, "idempotency_key": f"int-{n}"}
                   for n in range(12)))
    proc = slow_batch(shop_file("interrupt.jsonl", text), "--group", "3", delay="0.5")
    assert json.loads(proc.stdout.readline())["exit_code"] == 0  # a group is done…
    proc.send_signal(signal.SIGINT)  # …and the next is with the bank
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    error = json.loads(err.strip().splitlines()[-1])["error"]
    assert error["code"] == "interrupted" and "rerun the same file" in error["hint"]
    assert "rerun to continue" not in err
    assert count(store["db"], GatewayPayment) < 12

    result, rows = run_batch(cli, text)  # the same clock: claims were finished or given up
    assert result.exit_code == 0, result.stderr
    assert len({row["order_no"] for row in rows}) == 12
    assert count(store["db"], GatewayPayment) == 12 and sold(store["db"], item) == 12


def test_control_characters_from_the_file_never_reach_the_terminal_raw(cli, store):
    evil = "\x1b]0;PWN\x07\x1b[2J"
    text = lines({"buyer": "b1", "item": evil}, {"buyer": "b1", "item": "x", "colour": evil})
    for json_flag in ((), ("--json",)):
        result = cli(*json_flag, "--now", shop.DURING, "buy", "--from", "-", input=text,
                     env=PAY)
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout
        assert "\x1b" not in result.stderr
