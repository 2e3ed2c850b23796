"""`wxshop address add | list | default | remove` (SPEC section 6)."""

from __future__ import annotations

import json

import pytest

from tests.binding_helpers import NOW, query, snapshot

SPEC_FIELDS = {"id", "region_code", "region", "city", "street", "contact", "phone_masked",
               "is_default"}


def add(cli, region="310000", city="上海市", street="浦东新区世纪大道100号", contact="张三",
        phone="13912345678", *extra, buyer=None):
    args = ["--now", NOW] + (["--buyer", buyer] if buyer else [])
    return cli.json(*args, "address", "add", "--region", region, "--city", city, "--street",
                    street, "--contact", contact, "--phone", phone, *extra)


def test_the_first_address_is_the_default_and_the_mobile_is_masked(cli, backend):
    address = add(cli)
    assert set(address) >= SPEC_FIELDS
    assert address["id"].startswith("addr_")
    assert {k: address[k] for k in SPEC_FIELDS - {"id"}} == {
        "region_code": "310000", "region": "上海市", "city": "上海市",
        "street": "浦东新区世纪大道100号", "contact": "张三", "phone_masked": "139****5678",
        "is_default": True}
    assert "13912345678" not in json.dumps(address)
    assert cli.json("address", "list") == [address]
    # The mobile is kept (a courier needs it), in the database only.
    assert query("SELECT phone FROM address")[0][0] == "13912345678"


def test_default_and_remove_keep_exactly_one_default(cli, backend):
    home = add(cli)
    office = add(cli, "110000", "北京市", "海淀区中关村大街1号", "李四", "+86 138 0013 8000")
    assert office["is_default"] is False and office["phone_masked"] == "138****8000"
    third = add(cli, "440000", "深圳市", "南山区科技园", "王五", "13700137000", "--default")
    assert third["is_default"] is True
    listed = cli.json("address", "list")
    assert [(a["id"], a["is_default"]) for a in listed] == [
        (third["id"], True), (home["id"], False), (office["id"], False)]
    changed = cli.json("address", "default", office["id"])
    assert changed["is_default"] is True and changed["changed"] is True
    assert cli.json("address", "default", office["id"])["changed"] is False
    removed = cli.json("--now", NOW, "address", "remove", office["id"])
    assert removed["removed"] is True and removed["new_default"] == home["id"]
    listed = cli.json("address", "list")
    assert [(a["id"], a["is_default"]) for a in listed] == [(home["id"], True),
                                                            (third["id"], False)]
    # Removed addresses keep their row for order history.
    rows = query("SELECT id, removed_at FROM address WHERE id = :i", i=office["id"])
    assert rows[0][1] is not None


def test_removing_the_last_address_leaves_no_default(cli):
    only = add(cli)
    assert cli.json("address", "remove", only["id"])["new_default"] is None
    assert cli.json("address", "list") == []
    assert add(cli)["is_default"] is True


def test_removed_unknown_and_other_buyers_addresses_are_not_found(cli):
    mine = add(cli)
    gone = add(cli)
    cli.json("address", "remove", gone["id"])
    for command in ("default", "remove"):
        for target, buyer in ((gone["id"], "me"), ("addr_nope", "me"), (mine["id"], "eve")):
            error = cli.fails(4, "--buyer", buyer, "address", command, target)
            assert error["code"] == "address_not_found"


BAD = [
    ({"--region": "999999"}, "invalid_region"),
    ({"--region": "31"}, "invalid_region"),
    ({"--phone": "02164281234"}, "invalid_mobile"),
    ({"--phone": "138001380"}, "invalid_mobile"),
    ({"--city": "  "}, "invalid_address"),
    ({"--street": ""}, "invalid_address"),
    ({"--contact": "张\u200b三"}, "invalid_address"),
    ({"--street": "x" * 201}, "invalid_address"),
]


@pytest.mark.parametrize(("options", "slug"), BAD, ids=[b[1] + str(i) for i, b in
                                                        enumerate(BAD)])
def test_bad_input_exits_3_and_stores_nothing(cli, options, slug):
    add(cli)
    before = snapshot()
    values = {"--region": "310000", "--city": "上海市", "--street": "世纪大道1号",
              "--contact": "张三", "--phone": "13912345678", **options}
    args = ["address", "add"]
    for option, value in values.items():
        args += [option, value]
    assert cli.fails(3, *args)["code"] == slug
    result = cli(*args)
    assert result.exit_code == 3 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("error: ")
    assert snapshot() == before


def test_a_missing_option_is_a_usage_error(cli, wx_env):
    result = cli("address", "add", "--region", "310000", "--city", "上海市")
    assert result.exit_code == 2
    assert not (wx_env / "wxshop.db").exists()


def test_a_pipe_gets_tab_separated_addresses(cli):
    add(cli)
    result = cli("address", "list")
    header, row = result.stdout.splitlines()
    assert header == "id\tregion\tcity\tstreet\tcontact\tphone\tdefault"
    assert row.split("\t")[1:] == ["上海市", "上海市", "浦东新区世纪大道100号", "张三",
                                   "139****5678", "true"]


def test_default_address_for_checkout(cli, backend):
    from wxshop_cli import config
    from wxshop_cli.core.addresses import default_address, get_address
    from wxshop_cli.core.buyers import require_buyer
    from wxshop_cli.db import engine
    from wxshop_cli.errors import NotFound

    sh = add(cli)
    bj = add(cli, "110000", "北京市", "海淀区", "李四", "13800138000")
    bj2 = add(cli, "110000", "北京市", "朝阳区", "李四", "13800138000")
    cli.json("address", "default", bj2["id"])
    config.activate(config.Settings())
    db = engine.database()
    with db.transaction(read_only=True) as session:
        buyer = require_buyer(session, "me")
        assert default_address(session, buyer.id).id == bj2["id"]
        assert default_address(session, buyer.id, "110000").id == bj2["id"]
        assert default_address(session, buyer.id, "310000").id == sh["id"]
        assert default_address(session, buyer.id, "440000") is None
        assert get_address(session, buyer.id, bj["id"]).city == "北京市"
        with pytest.raises(NotFound):
            get_address(session, buyer.id, "addr_nope")
    engine.forget()
