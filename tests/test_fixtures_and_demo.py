"""`wxshop fixtures load` (SPEC section 11) and `wxshop demo`."""

import json

import pytest


def write(tmp_path, name, document):
    path = tmp_path / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document,
                    encoding="utf-8")
    return str(path)


def test_a_fixture_applies_in_order_and_prints_name_to_id(cli, tmp_path, backend):
    path = write(tmp_path, "shop.json", {"steps": [
        {"name": "shop", "op": "merchant.set",
         "args": {"app_id": "wx8888888888888888", "mch_id": "1230000109"}},
        {"name": "rate", "op": "merchant.set", "args": {"fee_rate": "0.38%"}},
    ]})
    assert cli.json("fixtures", "load", path) == {"shop": "1230000109", "rate": "1230000109"}
    assert cli.json("merchant", "show")["fee_rate"] == "0.38%"


def test_steps_are_idempotent_by_name(cli, tmp_path, backend):
    path = write(tmp_path, "shop.json", {"steps": [
        {"name": "rate", "op": "merchant.set", "args": {"fee_rate": "0.38%"}}]})
    cli.json("fixtures", "load", path)
    cli.json("merchant", "set", "--fee-rate", "1%")
    # Applying again skips the named step, so the later manual change stays.
    assert cli.json("fixtures", "load", path) == {"rate": cli.json("merchant", "show")["mch_id"]}
    assert cli.json("merchant", "show")["fee_rate"] == "1.00%"


def test_references_to_earlier_results_are_substituted(cli, tmp_path):
    path = write(tmp_path, "ref.json", {"steps": [
        {"name": "first", "op": "merchant.set", "args": {"mch_id": "1230000109"}},
        {"name": "second", "op": "merchant.set", "args": {"mch_id": "${first.mch_id}",
                                                          "fee_rate": "${first.fee_rate}"}},
    ]})
    assert cli.json("fixtures", "load", path)["second"] == "1230000109"


def test_a_failing_step_is_named_and_earlier_steps_stay(cli, tmp_path):
    path = write(tmp_path, "bad.json", {"steps": [
        {"name": "good", "op": "merchant.set", "args": {"fee_rate": "0.38%"}},
        {"name": "broken", "op": "merchant.set", "args": {"mch_id": "12"}},
    ]})
    error = cli.fails(3, "fixtures", "load", path)
    assert error["code"] == "fixture_step_failed"
    assert error["step"] == "broken"
    assert "'broken'" in error["message"]
    assert cli.json("merchant", "show")["fee_rate"] == "0.38%"


def test_a_reference_to_an_unknown_field_fails_its_step(cli, tmp_path):
    path = write(tmp_path, "ref.json", {"steps": [
        {"name": "first", "op": "merchant.set", "args": {"fee_rate": "1%"}},
        {"name": "x", "op": "merchant.set", "args": {"mch_id": "${first.bogus}"}}]})
    error = cli.fails(3, "fixtures", "load", path)
    assert error["step"] == "x" and "${first.bogus}" in error["message"]


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"steps": 3}', "", "\xff"])
def test_a_file_that_is_not_a_fixture_exits_3_and_creates_nothing(cli, tmp_path, wx_env,
                                                                   content):
    path = tmp_path / "bad.json"
    path.write_bytes(content.encode("latin-1"))
    result = cli("fixtures", "load", str(path))
    assert result.exit_code == 3, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert not (wx_env / "wxshop.db").exists()


def test_every_mistake_in_the_steps_is_listed(cli, tmp_path, wx_env):
    path = write(tmp_path, "bad.json", {"steps": [
        {"name": "a", "op": "no.such.op"}, {"name": "a", "op": "merchant.set", "extra": 1}]})
    result = cli("fixtures", "load", path)
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert any("steps[0].op: unknown operation 'no.such.op'" in line for line in lines)
    assert any("steps[1].name: 'a' is used twice" in line for line in lines)
    assert any("steps[1]: unknown keys extra" in line for line in lines)
    assert lines[-1].startswith("error: ")
    assert not (wx_env / "wxshop.db").exists()


def test_a_missing_fixture_is_not_found(cli):
    error = cli.fails(4, "fixtures", "load", "no-such-fixture")
    assert error["code"] == "fixture_not_found"


def test_demo_runs_on_its_own_database(cli, wx_env, tmp_path):
    mine = tmp_path / "mine.db"
    result = cli("--json", "demo", env={"WXSHOP_DB": str(mine)})
    assert result.exit_code == 0, result.stderr
    story = json.loads(result.stdout)
    assert story["database"].endswith("/demo.db")
    assert story["chapters"][0]["title"] == "The shop opens"
    chapters = {c["title"]: c for c in story["chapters"]}
    assert chapters["双11精选商品 is published with a push"]["notified"] >= 1
    assert chapters["The red dot and the promo strips"]["unread"] == 1
    bought = chapters["Buy in one step"]
    assert bought["status"] == "paid" and bought["transaction_id"].startswith("42")
    assert chapters["The last unit: sold out"]["loser_exit_code"] == 7
    declined = chapters["A declined card"]
    assert declined["exit_code"] == 6 and declined["status"] == "closed"
    funnel = chapters["The morning's funnel of 双11精选商品"]
    # the chapters before it: two paid, the last unit sold out, the declined card refused,
    # and one mistyped password (lilei, who had paid: no new buyer tried)
    assert funnel["outcomes"] == {"paid": 2, "open": 0, "sold_out": 1, "limit": 0,
                                  "refused": 1, "gave_up": 0, "wrong_password": 1}
    assert funnel["reasons"]["refused"] == {"declined": 1}
    assert funnel["steps"]["shown"] >= funnel["steps"]["tried"] == 3
    assert funnel["steps"]["paid"] == 2
    assert (wx_env / "demo.db").exists()
    assert not mine.exists()  # never the database of WXSHOP_DB
    again = cli("--json", "demo")  # recreated each run
    assert again.exit_code == 0, again.stderr


def test_demo_refuses_a_database_that_is_not_empty_unless_forced(cli, tmp_path):
    target = str(tmp_path / "used.db")
    assert cli.json("--db", target, "demo")["chapters"]  # an empty database is fine
    fixture = write(tmp_path, "f.json", {"steps": [
        {"name": "rate", "op": "merchant.set", "args": {"fee_rate": "1%"}}]})
    cli.json("--db", target, "fixtures", "load", fixture)
    error = cli.fails(5, "--db", target, "demo")
    assert error["code"] == "demo_not_empty"
    assert cli.json("--db", target, "demo", "--force")["chapters"]
    # --force wiped it: the fixture's change is gone, defaults are back.
    assert cli.json("--db", target, "merchant", "show")["fee_rate"] == "0.60%"


def test_argument_names_and_references_are_checked_before_any_step_runs(cli, tmp_path, wx_env):
    path = write(tmp_path, "bad.json", {"steps": [
        {"name": "ok", "op": "merchant.set", "args": {"fee_rate": "1%"}},
        {"name": "typo", "op": "merchant.set", "args": {"fee_rte": "1%"}},
        {"name": "ref", "op": "merchant.set", "args": {"mch_id": "${later.id}"}},
        {"name": "later", "op": "order.place", "args": {"buyer": "me", "item": "x"}},
    ]})
    result = cli("fixtures", "load", path)
    assert result.exit_code == 3
    text = result.stderr
    assert "steps[1].args: unknown argument(s) fee_rte" in text
    assert "steps[2].args.mch_id: ${later.id} refers to no earlier step" in text
    assert "steps[3].args: missing argument(s) pay_password" in text
    assert not (wx_env / "wxshop.db").exists()  # not even the first step ran
