"""The smaller output items of issue 14 (item 8): refunds shown by `orders show` in every
mode, false booleans said (not left blank), counts with thousands separators in human output
only, singular and plural, chapter facts without Python reprs, one hint per error."""

from __future__ import annotations

import sys

import pytest

from tests.shop import DURING, PAY, buy, open_db, product, promo, shopper

ORDER = "D201311110000000001"


@pytest.fixture
def terminal(monkeypatch):
    """`emit` draws for a 100-column terminal, without colour."""
    from rich.console import Console

    from wxshop_cli import output

    monkeypatch.setattr(output, "stdout_is_terminal", lambda: True)
    monkeypatch.setattr(output, "out_console", lambda: Console(
        file=sys.stdout, width=100, color_system=None, highlight=False))


def _refunded_order(cli) -> str:
    db = open_db()
    shopper(db, "me")
    product(db, "S1")
    items = promo(db, "d11", [{"sku": "S1", "price_fen": 150000, "stock": 5}])
    order = buy(cli, items["S1"])
    assert order["order_no"] == ORDER
    for amount, no in (("100", "RF-1"), ("20.50", "RF-2")):
        cli.json("--now", DURING, "orders", "refund", ORDER, "--amount", amount,
                 "--refund-no", no, "--reason", "价保")
    return ORDER


def test_orders_show_lists_refunds_in_tsv_and_json(cli):
    order_no = _refunded_order(cli)
    shown = cli.json("--buyer", "me", "--now", DURING, "orders", "show", order_no)
    assert [r["amount_fen"] for r in shown["refunds"]] == [10000, 2050]
    result = cli("--buyer", "me", "--now", DURING, "orders", "show", order_no)
    header, row = result.stdout.splitlines()
    cells = dict(zip(header.split("\t"), row.split("\t"), strict=True))
    numbers = [r["refund_no"] for r in shown["refunds"]]
    assert cells["refunds"] == (f"{numbers[0]}:100.00:{shown['refunds'][0]['status']},"
                                f"{numbers[1]}:20.50:{shown['refunds'][1]['status']}")
    assert cells["refunded"] == "120.50"
    assert cells["replayed"] == "false"  # a false is said in TSV


def test_orders_show_draws_its_refunds_on_a_terminal(cli, terminal):
    order_no = _refunded_order(cli)
    shown = cli.json("--buyer", "me", "--now", DURING, "orders", "show", order_no)
    text = cli("--buyer", "me", "--now", DURING, "orders", "show", order_no).stdout
    assert "Refunds" in text
    for refund in shown["refunds"]:
        assert refund["refund_no"] in text
    assert "¥100.00" in text and "¥20.50" in text and "价保" in text
    assert "¥1,500.00" in text  # money and counts read with separators on a terminal


def test_an_order_without_refunds_draws_no_refund_table(cli, terminal):
    db = open_db()
    shopper(db, "me")
    product(db, "S1")
    items = promo(db, "d11", [{"sku": "S1", "price_fen": 1000, "stock": 5}])
    order = buy(cli, items["S1"])
    text = cli("--buyer", "me", "--now", DURING, "orders", "show", order["order_no"]).stdout
    assert order["order_no"] in text and "Refunds" not in text


def test_false_booleans_are_said_on_a_terminal_and_in_tsv(cli, terminal, monkeypatch):
    db = open_db()
    shopper(db, "me")
    shopper(db, "me2")
    from wxshop_cli import output

    text = cli("--buyer", "me", "address", "list").stdout
    assert "yes" in text
    cli.json("--buyer", "me", "address", "add", "--region", "440000", "--city", "广州市",
             "--street", "天河路 1 号", "--contact", "我", "--phone", "13800138000")
    rows = cli("--buyer", "me", "address", "list").stdout
    assert " no " in rows or rows.rstrip().endswith("no") or "│ no" in rows
    monkeypatch.setattr(output, "stdout_is_terminal", lambda: False)
    tsv = cli("--buyer", "me", "address", "list").stdout.splitlines()
    assert [line.split("\t")[-1] for line in tsv] == ["default", "true", "false"]


def test_counts_have_thousands_separators_on_a_terminal_only(cli, terminal, monkeypatch):
    product(open_db(), "BIG", list_price_fen=100, stock=12345)
    text = cli("product", "list").stdout
    assert "12,345" in text
    from wxshop_cli import output

    monkeypatch.setattr(output, "stdout_is_terminal", lambda: False)
    tsv = cli("product", "list").stdout
    assert "\t12345\t" in tsv
    assert cli.json("product", "show", "BIG")["stock"] == 12345


@pytest.mark.parametrize("number,noun,said", [(0, "row", "0 rows"), (1, "row", "1 row"),
                                               (2, "row", "2 rows"),
                                               (1234, "row", "1,234 rows"),
                                               (1, "refund", "1 refund")])
def test_counted_says_one_row_and_1234_rows(number, noun, said):
    from wxshop_cli.output import counted

    assert counted(number, noun) == said


def test_a_run_of_one_row_says_row_not_rows():
    from wxshop_cli.views.reconcile import _one_line, _verdict

    summary = {"run_id": "run_x", "bill_type": "ALL", "bill_date": "2013-11-11", "rows": 1,
               "matched": 1, "open": 0, "deferred": 0, "resolved": 0}
    assert "1 row," in _one_line(summary) and "1 rows" not in _one_line(summary)
    assert "1 of 1 row matched" in _verdict(summary)
    big = {**summary, "rows": 12345, "matched": 12000, "open": 1234}
    assert "12,345 rows" in _one_line(big) and "1,234 open" in _one_line(big)


def test_demo_facts_in_tsv_have_no_python_reprs():
    from wxshop_cli.views.demo import fact_line

    line = fact_line({"regions": ["310000", "440000"], "is_default": True, "kinds": [],
                      "note": None, "open": False, "count": 3,
                      "steps": {"shown": 4, "paid": 2},
                      "reasons": {"refused": {"declined": 1}, "gave_up": {}}})
    assert line == ("regions=310000,440000; is_default=true; kinds=; note=; open=false; "
                    "count=3; steps=shown:4,paid:2; reasons=refused:(declined:1),gave_up:none")


@pytest.mark.slow
def test_the_demo_in_a_pipe_prints_no_python_reprs(cli):
    result = cli("demo")
    assert result.exit_code == 0, result.stderr
    assert "['" not in result.stdout and "{'" not in result.stdout
    assert "True" not in result.stdout
    assert "regions=310000,440000" in result.stdout


def test_a_forced_price_change_error_gives_its_hint_once(cli):
    db = open_db()
    shopper(db, "me")
    product(db, "S1")
    promo(db, "d11", [{"sku": "S1", "price_fen": 1000, "stock": 5}])
    result = cli("--now", DURING, "promo", "add-item", "d11", "--sku", "S1", "--price", "9",
                 "--stock", "5", env=PAY)
    assert result.exit_code == 5
    line = result.stderr.strip().splitlines()[-1]
    assert line.count("--force") == 1, line
    assert "(use --force)" not in result.stderr
