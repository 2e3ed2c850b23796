"""`wxshop cards list | show | unbind | default`, the card's public shape, the fixture
operations and the demo chapters of cards and addresses."""

from __future__ import annotations

import json

from tests.binding_helpers import (
    CMB_CREDIT,
    CMB_DEBIT,
    HOLDER_A,
    ID_A,
    PASSWORD,
    PHONE,
    TEST_CREDIT,
    TEST_DEBIT,
    bind,
    query,
)

SPEC_CARD_FIELDS = {"id", "brand", "bank", "bank_code", "card_type", "first6", "last4",
                    "masked_number", "is_default"}


def test_the_card_shape_has_the_spec_fields_and_no_secrets(cli, backend):
    card = bind(cli, CMB_DEBIT)
    assert set(card) >= SPEC_CARD_FIELDS
    assert set(card) == SPEC_CARD_FIELDS | {
        "display", "status", "holder_masked", "phone_masked", "is_test", "bound_at",
        "unbound_at"}
    assert cli.json("cards", "show", card["id"]) == card
    text = json.dumps(card, ensure_ascii=False)
    for secret in (CMB_DEBIT, ID_A, PHONE, PASSWORD, "fingerprint", HOLDER_A):
        assert secret not in text


def test_list_shows_the_default_first_and_unbound_cards_only_with_all(cli, backend):
    first = bind(cli, TEST_DEBIT)
    second = bind(cli, CMB_DEBIT)
    third = bind(cli, CMB_CREDIT, extra=("--expiry", "12/15"), input=f"{CMB_CREDIT}\n123\n")
    assert [c["id"] for c in cli.json("cards", "list")] == [first["id"], second["id"],
                                                            third["id"]]
    changed = cli.json("cards", "default", third["id"])
    assert changed["is_default"] is True and changed["changed"] is True
    assert cli.json("cards", "default", third["id"])["changed"] is False
    assert [c["id"] for c in cli.json("cards", "list")] == [third["id"], first["id"],
                                                            second["id"]]
    unbound = cli.json("cards", "unbind", third["id"])
    assert unbound["status"] == "unbound" and unbound["unbound"] is True
    assert unbound["is_default"] is False
    assert unbound["new_default"] == first["id"]  # the earliest bound card
    assert unbound["unbound_at"] is not None
    listed = cli.json("cards", "list")
    assert [(c["id"], c["is_default"]) for c in listed] == [(first["id"], True),
                                                            (second["id"], False)]
    everything = cli.json("cards", "list", "--all")
    assert [c["id"] for c in everything] == [first["id"], second["id"], third["id"]]
    assert cli.json("cards", "show", third["id"])["status"] == "unbound"


def test_unbinding_the_last_card_leaves_no_default(cli):
    card = bind(cli, TEST_DEBIT)
    assert cli.json("cards", "unbind", card["id"])["new_default"] is None
    assert cli.json("cards", "list") == []
    assert cli.json("cards", "list", "--all")[0]["is_default"] is False


def test_an_unbound_card_cannot_be_unbound_again_or_made_default(cli):
    card = bind(cli, TEST_DEBIT)
    cli.json("cards", "unbind", card["id"])
    assert cli.fails(5, "cards", "unbind", card["id"])["code"] == "card_unbound"
    assert cli.fails(5, "cards", "default", card["id"])["code"] == "card_unbound"


def test_an_unknown_card_or_another_buyers_card_is_not_found(cli):
    card = bind(cli, TEST_DEBIT)
    for command in ("show", "unbind", "default"):
        assert cli.fails(4, "cards", command, "card_nope")["code"] == "card_not_found"
        error = cli.fails(4, "--buyer", "mallory", "cards", command, card["id"])
        assert error["code"] == "card_not_found"


def test_an_unknown_buyer_has_no_cards_and_is_not_created(cli, backend):
    assert cli.json("--buyer", "ghost", "cards", "list") == []
    assert query("SELECT count(*) FROM buyer WHERE name = 'ghost'")[0][0] == 0


def test_a_pipe_gets_tab_separated_cards(cli):
    bind(cli, TEST_DEBIT)
    result = cli("cards", "list")
    assert result.exit_code == 0
    header, row = result.stdout.splitlines()
    assert header == "id\tcard\tnumber\ttype\tbank_code\tdefault\tstatus"
    assert row.split("\t")[1:] == ["中国工商银行 储蓄卡 (0000)", "6222 **** **** 0000", "debit",
                                   "ICBC_DEBIT", "true", "bound"]


def test_payment_card_resolves_the_default_or_a_named_card(cli, backend):
    from wxshop_cli import config
    from wxshop_cli.core.buyers import require_buyer
    from wxshop_cli.core.cards import card_display, payment_card
    from wxshop_cli.db import engine
    from wxshop_cli.errors import Conflict, NotFound

    first = bind(cli, TEST_DEBIT)
    second = bind(cli, CMB_DEBIT)
    cli.json("cards", "unbind", second["id"])
    config.activate(config.Settings())
    db = engine.database()
    with db.transaction(read_only=True) as session:
        buyer = require_buyer(session, "me")
        assert payment_card(session, buyer.id).id == first["id"]
        assert card_display(payment_card(session, buyer.id, first["id"])) == (
            "中国工商银行 储蓄卡 (0000)")
        for card_id, error in ((second["id"], Conflict), ("card_nope", NotFound)):
            try:
                payment_card(session, buyer.id, card_id)
            except error:
                pass
            else:
                raise AssertionError(card_id)
    engine.forget()


# ---------------------------------------------------------------- fixtures and demo


def _fixture(tmp_path, steps):
    path = tmp_path / "cards.json"
    path.write_text(json.dumps({"steps": steps}, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_fixture_ops_create_buyers_bind_test_cards_and_add_addresses(cli, tmp_path, backend):
    path = _fixture(tmp_path, [
        {"name": "alice", "op": "buyer.create", "args": {"name": "alice"}},
        {"name": "alice-card", "op": "card.bind", "args": {
            "buyer": "${alice.id}", "number": TEST_DEBIT, "holder": HOLDER_A,
            "id_number": ID_A, "phone": PHONE, "pay_password": PASSWORD}},
        {"name": "alice-credit", "op": "card.bind", "args": {
            "buyer": "alice", "number": TEST_CREDIT, "holder": HOLDER_A, "id_number": ID_A,
            "phone": PHONE, "expiry": "12/30", "cvn": "123", "default": True}},
        {"name": "alice-home", "op": "address.add", "args": {
            "buyer": "alice", "region": "310000", "city": "上海市", "street": "世纪大道1号",
            "contact": "张三", "phone": "13912345678"}},
    ])
    ids = cli.json("fixtures", "load", path)
    assert ids["alice"] == "alice"
    assert ids["alice-card"].startswith("card_") and ids["alice-home"].startswith("addr_")
    cards = cli.json("--buyer", "alice", "cards", "list")
    assert [(c["id"], c["is_default"]) for c in cards] == [(ids["alice-credit"], True),
                                                           (ids["alice-card"], False)]
    assert cli.json("--buyer", "alice", "address", "list")[0]["id"] == ids["alice-home"]
    # The SMS was read by the fixture; applying again changes nothing.
    assert cli.json("--buyer", "alice", "inbox") == []
    assert cli.json("fixtures", "load", path) == ids
    assert len(cli.json("--buyer", "alice", "cards", "list")) == 2


def test_fixture_card_bind_refuses_real_numbers_and_a_missing_first_password(cli, tmp_path):
    path = _fixture(tmp_path, [{"name": "real", "op": "card.bind", "args": {
        "buyer": "bob", "number": CMB_DEBIT, "holder": HOLDER_A, "id_number": ID_A,
        "phone": PHONE, "pay_password": PASSWORD}}])
    error = cli.fails(3, "fixtures", "load", path)
    assert (error["step"], error["cause"]) == ("real", "card_number_on_command_line")
    assert CMB_DEBIT not in json.dumps(error)
    path = _fixture(tmp_path, [{"name": "nopw", "op": "card.bind", "args": {
        "buyer": "bob", "number": TEST_DEBIT, "holder": HOLDER_A, "id_number": ID_A,
        "phone": PHONE}}])
    error = cli.fails(3, "fixtures", "load", path)
    assert "pay_password" in error["message"]
    assert cli.json("--buyer", "bob", "cards", "list") == []


def test_the_demo_binds_a_card_and_saves_an_address(cli):
    story = cli.json("demo")
    chapters = {c["title"]: c for c in story["chapters"]}
    card = chapters["Bind a card once"]
    assert card["card"] == "中国工商银行 储蓄卡 (0000)"
    assert card["masked_number"] == "6222 **** **** 0000"
    assert "验证码" in card["sms"]
    address = chapters["Save an address"]
    assert address["phone_masked"] == "139****5678" and address["is_default"] is True
    titles = [c["title"] for c in story["chapters"]]
    assert titles.index("Bind a card once") < titles.index("Save an address")
