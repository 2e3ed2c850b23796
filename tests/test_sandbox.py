"""`wxshop sandbox cards | identities` (issue 14, item 4): every test card with the behaviour
the sandbox bank really gives it, and identities that really bind."""

from __future__ import annotations

import datetime as dt

import pytest

from tests import shop
from tests.binding_helpers import bind
from wxshop_cli.core import cardnumber, identity
from wxshop_cli.lazy import COMMANDS

TODAY = dt.date(2013, 11, 11)


def test_every_test_card_is_listed_once_with_its_behaviour(cli):
    cards = cli.json("sandbox", "cards")
    assert [c["number"] for c in cards] == list(cardnumber.TEST_CARDS)
    assert {c["behaviour"] for c in cards} == set(cardnumber.TEST_CARDS.values())
    for card in cards:
        assert card["description"] and card["bank"] and card["display"].endswith(
            f"({card['number'][-4:]})")
        assert card["card_type"] in ("debit", "credit")
        assert (card["asks"] != "") == (card["card_type"] == "credit")
        assert 0 < card["single_limit_fen"] <= card["daily_limit_fen"]
        assert card["description"] == cardnumber.TEST_CARD_BEHAVIOURS[card["behaviour"]]
        if card["buy_error"]:  # the listed outcome is the one the words say
            assert f"exit {card['buy_exit_code']}, `{card['buy_error']}`" in card["description"]
        assert cardnumber.check_card_number(card["number"]) == card["number"]


def test_every_identity_passes_the_binding_checks(cli):
    people = cli.json("sandbox", "identities")
    assert len(people) >= 3 and len({p["id_number"] for p in people}) == len(people)
    for person in people:
        assert identity.check_id_number(person["id_number"], TODAY) == person["id_number"]
        assert identity.check_mobile(person["mobile"]) == person["mobile"]
        assert identity.check_holder_name(person["holder"])
        assert person["id_number"].startswith(person["region_code"][:2])


def test_a_pipe_gets_tsv_with_one_header(cli):
    lines = cli("sandbox", "cards").stdout.splitlines()
    assert lines[0].startswith("number\tcard\tbrand\ttype\tbehaviour")
    assert len(lines) == 1 + len(cardnumber.TEST_CARDS)
    assert "\tdecline\tdeclined by the bank (exit 6, `payment_declined`)\t6\tpayment_declined\t" \
        in "\n".join(lines)
    lines = cli("sandbox", "identities").stdout.splitlines()
    assert lines[0] == "holder\tid_number\tmobile\tregion\tbirth_date"


def test_the_group_is_in_the_command_table_and_runs_without_a_database(cli, wx_env):
    assert "sandbox" in COMMANDS
    assert cli("sandbox", "cards").exit_code == 0
    assert not wx_env.exists()  # nothing created: no database behind this listing


def test_each_card_binds_with_a_listed_identity_and_buys_as_listed(cli):
    """The table is the truth: bind each card with an identity of `sandbox identities`, buy,
    and get the listed exit code and error."""
    cards = cli.json("sandbox", "cards")
    people = cli.json("sandbox", "identities")
    db = shop.open_db()
    shop.product(db, "YX-2001", 9900, stock=100)
    item = shop.promo(db, "double11", [{"sku": "YX-2001", "price_fen": 7920,
                                       "stock": 50}])["YX-2001"]
    for n, card in enumerate(cards):
        person = people[n % len(people)]
        buyer = f"b{n}"
        extra = ("--expiry", "12/30", "--cvn", "123") if card["asks"] else ()
        bound = bind(cli, card["number"], buyer=buyer, holder=person["holder"],
                     id_number=person["id_number"], phone=person["mobile"], extra=extra,
                     password=shop.PASSWORD)
        assert bound["display"] == card["display"]
        cli.json("--buyer", buyer, "address", "add", "--region", "310000", "--city", "上海市",
                 "--street", "淮海中路 1 号", "--contact", person["holder"],
                 "--phone", person["mobile"])
        result = cli("--json", "--buyer", buyer, "--now", shop.DURING, "buy", item,
                     env={"WXSHOP_PAY_PASSWORD": shop.PASSWORD})
        assert result.exit_code == card["buy_exit_code"], (card["number"], result.stderr)
        if card["buy_error"]:
            import json

            assert json.loads(result.stderr)["error"]["code"] == card["buy_error"]


@pytest.mark.parametrize("args", [["sandbox", "cards", "extra"], ["sandbox", "nope"]])
def test_bad_paths_are_usage_errors(cli, args):
    assert cli.fails(2, *args)["code"] == "usage"
