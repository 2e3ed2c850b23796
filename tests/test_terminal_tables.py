"""Terminal tables and promo strips at 80 columns (and narrower): ids, amounts, stock and
times are never cut; titles, descriptions and URLs fold or give way instead."""

from __future__ import annotations

import os
import re
import sys

import pytest

from tests.binding_helpers import CMB_CREDIT, TEST_DEBIT, bind
from tests.conftest import REPO
from tests.test_promofile import DURING, base, publish, set_sold, write

ELLIPSIS = "…"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def terminal(monkeypatch):
    """Make `emit` render for a terminal of a given width; returns a runner of commands."""
    from rich.console import Console

    from wxshop_cli import output

    state = {"width": 80}
    monkeypatch.setattr(output, "stdout_is_terminal", lambda: True)
    monkeypatch.setattr(output, "out_console", lambda: Console(
        file=sys.stdout, width=state["width"], color_system=None, highlight=False))

    def run(cli, *args: str, width: int = 80) -> str:
        state["width"] = width
        result = cli("--now", DURING, *args)
        assert result.exit_code == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines, result.stderr
        assert max(len_cells(line) for line in lines) <= width, result.stdout
        return result.stdout

    return run


def len_cells(line: str) -> int:
    from rich.cells import cell_len

    return cell_len(line)


def shop(cli, tmp_path) -> dict:
    """The promotion of the file tests, published; returns `promo show` as JSON."""
    publish(cli, write(tmp_path, base()))
    return cli.json("--now", DURING, "promo", "show", "double11-2013")


def assert_whole(text: str, *words: str) -> None:
    flat = text.replace("\n", " ")
    for word in words:
        assert word in flat, (word, text)


@pytest.mark.parametrize("width", [200, 120, 80, 60, 40])
def test_strips_never_cut_prices_stock_or_the_item_id(cli, tmp_path, terminal, width):
    promo = shop(cli, tmp_path)
    set_sold("double11-2013", "YX-3001", 1)
    text = terminal(cli, "promo", "list", width=width)
    for item in promo["items"]:
        assert_whole(text, item["id"])
    assert_whole(text, "¥3,999.00", "¥5,288.00", "100 left", "¥1,869.99", "¥2,199.99",
                 "10 left", "¥99.00", "¥168.00", "sold out")
    # What may give way: the description ends in "…" when it has to; an id or price never.
    for line in text.splitlines():
        if ELLIPSIS in line:
            assert not re.search(r"(item_|¥)[0-9a-f,.]*…", line), line
    if width >= 120:  # wide: one line per strip, as SPEC section 7 shows them
        assert len([line for line in text.splitlines() if "item_" in line]) == 3
        assert_whole(text, "https://img.example/yx-1001.jpg")


def test_strips_at_80_columns_keep_title_and_url_whole_by_folding(cli, tmp_path, terminal):
    shop(cli, tmp_path)
    text = terminal(cli, "promo", "list", width=80)
    joined = "".join(line.strip() for line in text.splitlines())
    assert "https://img.example/yx-1001.jpg" in joined
    assert "Apple iPhone 5s 16G" in text


@pytest.mark.parametrize("width", [120, 80, 50])
def test_promo_show_and_list_all_keep_ids_and_money_whole(cli, tmp_path, terminal, width):
    promo = shop(cli, tmp_path)
    text = terminal(cli, "promo", "show", "double11-2013", width=width)
    for item in promo["items"]:
        assert_whole(text, item["id"], item["sku"])
    assert_whole(text, "¥3,999.00", "¥5,288.00", "¥1,869.99", "¥2,199.99", "¥99.00")
    assert not re.search(r"(item_|¥|YX-)[0-9a-fX,.-]*…", text)
    text = terminal(cli, "promo", "list", "--all", width=width)
    assert_whole(text, "double11-2013", "2013-11-11 00:00:00", "2013-11-12 00:00:00", "live")


@pytest.mark.parametrize("width", [120, 80, 50])
def test_cards_list_keeps_card_ids_and_numbers_whole(cli, terminal, width):
    first = bind(cli, TEST_DEBIT)
    second = bind(cli, CMB_CREDIT, extra=("--expiry", "12/15"), input=f"{CMB_CREDIT}\n123\n")
    cli.json("cards", "unbind", second["id"])
    text = terminal(cli, "cards", "list", "--all", width=width)
    assert_whole(text, first["id"], second["id"], "6222 **** **** 0000",
                 "6225 **** **** 3451", "default", "unbound")
    assert ELLIPSIS not in text


def test_addresses_inbox_products_and_reports_keep_ids_whole(cli, tmp_path, terminal):
    bind(cli, TEST_DEBIT)
    address = cli.json("address", "add", "--region", "310000", "--city", "上海市", "--street",
                       "徐汇区漕溪北路 88 号 3 号楼 1201 室（请放快递柜）", "--contact",
                       "张三", "--phone", "13800138000")
    text = terminal(cli, "address", "list")
    assert_whole(text, address["id"], "138****8000")
    messages = cli.json("inbox", "--all")
    text = terminal(cli, "inbox", "--all")
    assert_whole(text, messages[0]["id"], messages[0]["code"])
    promo = shop(cli, tmp_path)
    text = terminal(cli, "product", "list")
    assert_whole(text, "YX-1001", "YX-2001", "¥5,288.00", "¥2,199.99")
    doc = base()
    doc["items"][0]["description"] = "A much longer description " * 4
    doc["items"][0]["stock"] = 90
    text = terminal(cli, "promo", "publish", write(tmp_path, doc, "v2.toml"))
    assert_whole(text, "product YX-1001", "description", "item YX-1001",
                 promo["items"][0]["id"], "stock_total")
    assert ELLIPSIS not in text


def test_markup_in_a_title_prints_as_it_is(cli, tmp_path, terminal):
    doc = base()
    doc["items"][0]["title"] = "iPhone [/] [bold]5s[/bold]"
    publish(cli, write(tmp_path, doc))
    text = terminal(cli, "promo", "list", width=200)
    assert "iPhone [/] [bold]5s[/bold]" in text
    text = terminal(cli, "product", "list", width=200)
    assert "iPhone [/] [bold]5s[/bold]" in text


def test_fit_widths_shares_the_room_and_refuses_what_cannot_fit():
    from wxshop_cli.tables import MIN_FLEX, fit_widths

    assert fit_widths([5, 40, 30], [False, True, True], 100) == [5, 40, 30]
    assert fit_widths([5, 40, 30], [False, True, True], 45) == [5, 20, 20]
    assert fit_widths([5, 40, 8], [False, True, True], 45) == [5, 32, 8]
    assert fit_widths([50, 40], [False, True], 50 + MIN_FLEX) == [50, MIN_FLEX]
    assert fit_widths([50, 40], [False, True], 50 + MIN_FLEX - 1) is None
    assert fit_widths([50, 3], [False, True], 53) == [50, 3]


def test_a_real_terminal_of_80_columns(tmp_path, cli):
    """The same through a pseudo-terminal 80 columns wide (Rich measures it itself)."""
    pexpect = pytest.importorskip("pexpect")
    path = write(tmp_path, base())
    cli.json("--now", DURING, "promo", "publish", path)  # the set-up needs no terminal
    items = cli.json("--now", DURING, "promo", "show", "double11-2013")["items"]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(TERM="xterm", COLUMNS="80", LINES="40")
    env.pop("NO_COLOR", None)
    for args in (["promo", "list"], ["promo", "show", "double11-2013"]):
        child = pexpect.spawn(sys.executable, ["-m", "wxshop_cli", "--now", DURING, *args],
                              env=env, encoding="utf-8", timeout=30, dimensions=(40, 80))
        child.expect(pexpect.EOF)
        child.close()
        text = ANSI.sub("", child.before).replace("\r", "")
        assert child.exitstatus == 0, text
        assert max(len_cells(line) for line in text.splitlines()) <= 80, text
        for item in items:
            assert_whole(text, item["id"])
        assert_whole(text, "¥3,999.00", "¥5,288.00", "¥1,869.99", "¥2,199.99")


def test_orders_and_merchant_panels_keep_ids_whole_and_print_markup_as_text(cli, terminal):
    """`emit`'s own tables (orders list) and panels (a paid order) on an 80-column terminal."""
    from tests import shop as model_shop

    db = model_shop.open_db()
    model_shop.product(db, "YX-9", 9900, title="[/] 坚果 [red]礼盒[/red] with a long title " * 2)
    model_shop.shopper(db, "me")
    order = cli.json("--now", DURING, "buy", "YX-9",
                     env={"WXSHOP_PAY_PASSWORD": model_shop.PASSWORD})
    listed = terminal(cli, "orders", "list")
    assert_whole(listed, order["order_no"], "¥99.00")
    shown = terminal(cli, "orders", "show", order["order_no"])
    assert_whole(shown, order["order_no"], order["transaction_id"], "[/]", "[red]")


def test_reconcile_and_report_keep_ids_and_amounts_whole_when_narrow(cli, terminal, tmp_path):
    target = str(tmp_path / "story.db")
    story = cli.json("--db", target, "demo")
    run_id = story["chapters"][-1]["run_id"]
    found = cli.json("--db", target, "reconciliations", "show", run_id)["discrepancies"][0]
    for width in (120, 80, 60):
        shown = terminal(cli, "--db", target, "reconciliations", "show", run_id, width=width)
        assert_whole(shown, found["id"], found["out_trade_no"], "¥4,989.00", "¥4,988.00")
        report = terminal(cli, "--db", target, "report", "sales", "--by", "item", width=width)
        assert_whole(report, "¥4,988.00", "¥5,187.00")
