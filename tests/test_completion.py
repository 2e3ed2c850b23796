"""Shell completion (issue 14, item 5): the scripts install, promo codes, item ids, order
numbers and card ids complete from the database, quietly, and completion never errors nor
creates anything."""

from __future__ import annotations

import json

import pytest

from tests import shop
from tests.conftest import run_wxshop
from wxshop_cli import completion
from wxshop_cli.lazy import COMMANDS, load

PAY = {"WXSHOP_PAY_PASSWORD": shop.PASSWORD}


def complete(*words: str, env: dict[str, str] | None = None) -> list[str]:
    """What bash would offer after `wxshop WORDS…` (the last word is the one being typed)."""
    line = ["wxshop", *words]
    result = run_wxshop(env={"_WXSHOP_COMPLETE": "complete_bash", "COMP_WORDS": " ".join(line),
                             "COMP_CWORD": str(len(line) - 1), **(env or {})})
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout.split()


def test_every_completer_names_a_real_argument(monkeypatch):
    monkeypatch.setenv("_WXSHOP_COMPLETE", "complete_bash")
    for (top, verb, name), _ in completion.COMPLETERS.items():
        command = load(top, COMMANDS[top])
        target = command if verb is None else command.commands[verb]
        params = {p.name: p for p in target.params}
        assert name in params, (top, verb, name)
        assert params[name]._custom_shell_complete is not None


def test_completers_are_attached_only_when_completing():
    command = load("orders", COMMANDS["orders"])
    assert command.commands["show"].params[0]._custom_shell_complete is None


def test_show_completion_prints_a_script_for_the_shell():
    # Name the shell (Typer's switch for it): detection reads the parent process, which under
    # pytest-xdist is a Python worker, not a shell.
    result = run_wxshop("--show-completion", "bash",
                        env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert result.returncode == 0
    assert "_WXSHOP_COMPLETE" in result.stdout and "complete" in result.stdout


@pytest.fixture
def store(cli, backend):
    db = shop.open_db()
    shop.product(db, "YX-2001", 9900, stock=100, title="三只松鼠 坚果礼盒")
    items = shop.promo(db, "double11", [{"sku": "YX-2001", "price_fen": 7920, "stock": 50}])
    shop.promo(db, "dragon-boat", [{"sku": "YX-2001", "price_fen": 8900, "stock": 5}],
               state="archived")
    shop.shopper(db, "me")
    order = cli.json("--now", shop.DURING, "buy", items["YX-2001"], env=PAY)
    return {"item": items["YX-2001"], "order_no": order["order_no"], "card": order["card_id"]}


def test_codes_items_orders_and_cards_complete_from_the_database(store):
    assert complete("promo", "show", "") == ["double11"]  # archived ones are not offered
    assert complete("promo", "archive", "dou") == ["double11"]
    assert complete("promo", "show", "zzz") == []
    assert complete("buy", "item_") == [store["item"]]
    assert complete("orders", "refund", "") == [store["order_no"]]
    assert complete("orders", "show", store["order_no"][:6]) == [store["order_no"]]
    assert complete("cards", "unbind", "card_") == [store["card"]]


def test_orders_and_cards_are_the_acting_buyers(store):
    assert complete("--buyer", "eve", "orders", "show", "") == []
    assert complete("orders", "show", "", env={"WXSHOP_BUYER": "eve"}) == []
    assert complete("--buyer", "me", "cards", "show", "") == [store["card"]]


def test_completion_without_a_database_offers_nothing_and_creates_nothing(tmp_path, wx_env):
    target = tmp_path / "none.db"
    assert complete("--db", str(target), "promo", "show", "") == []
    assert complete("orders", "show", "") == []
    assert not target.exists() and not wx_env.exists()
    # A file that is not a database, an unreachable server: still nothing, still no error.
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 10)
    assert complete("--db", str(junk), "promo", "show", "") == []
    assert junk.read_bytes() == b"not a database at all" * 10
    assert complete("--db", "postgresql+psycopg://nobody@127.0.0.1:1/none",
                    "orders", "show", "") == []


def test_choices_and_commands_complete_without_the_database(tmp_path):
    assert complete("ord") == ["orders"]
    assert "paid" in complete("orders", "list", "--status", "pa")
    result = run_wxshop("--json", "orders", "list", "--status", "bogus")
    assert json.loads(result.stderr)["error"]["reason"] == "invalid_choice"
