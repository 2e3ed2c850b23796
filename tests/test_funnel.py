"""`wxshop report funnel` (issue 15): shown → tried → reserved → paid, and how each attempt
ended, on SQLite and PostgreSQL; replays are not new attempts."""

from __future__ import annotations

import json

import pytest

from tests import shop
from tests.shop import PAY, error, ok
from tests.shop import buy_result as buy
from wxshop_cli.core import checkout

WRONG = {"WXSHOP_PAY_PASSWORD": "314159"}


@pytest.fixture
def store(cli, backend):
    """double11: a phone (2 units, limit 1 per buyer) and a snack box; four buyers."""
    db = shop.open_db()
    shop.product(db, "YX-1001", 528800, title="Apple iPhone 5s 16G")
    shop.product(db, "YX-2001", 9900, title="三只松鼠 坚果礼盒")
    items = shop.promo(db, "double11", [
        {"sku": "YX-1001", "price_fen": 399900, "stock": 2, "limit": 1},
        {"sku": "YX-2001", "price_fen": 7920, "stock": 100},
    ])
    shop.shopper(db, "me")
    shop.shopper(db, "b2", region="440000")
    shop.shopper(db, "b3", "decline")
    shop.shopper(db, "b4")
    return {"db": db, "items": items}


def morning(cli, store) -> None:
    """Three buyers look; seven attempts reach the claim (one replayed), one wrong password."""
    phone, snacks = store["items"]["YX-1001"], store["items"]["YX-2001"]
    for name in ("me", "b2", "b3", "me"):  # me looks twice: one buyer shown
        ok(cli("--json", "--buyer", name, "--now", shop.DURING, "promo", "list"))
    ok(buy(cli, phone))                                        # paid
    error(buy(cli, phone), 7)                                  # limit
    ok(buy(cli, phone, buyer="b2"))                            # paid: the last unit
    error(buy(cli, phone, buyer="b3"), 7)                      # sold out
    error(buy(cli, snacks, buyer="b3"), 6)                     # refused: declined
    error(buy(cli, snacks, buyer="b4", env=WRONG), 6)          # wrong password
    ok(buy(cli, snacks, "--idempotency-key", "k9"))            # paid
    assert ok(buy(cli, snacks, "--idempotency-key", "k9"))["replayed"]  # not a new try
    request = checkout.BuyRequest(item=snacks)
    claim = checkout._claim(store["db"], "b2", request, "left", False, shop.DURING_AT)
    ok(cli("--json", "--buyer", "b2", "--now", shop.DURING, "orders", "cancel",
           claim.order.order_no))                              # gave up


def steps(document) -> dict[str, tuple]:
    return {s["step"]: (s["buyers"], s["attempts"], s["drop"]) for s in document["steps"]}


def test_the_funnel_counts_each_step_and_how_attempts_ended(cli, store):
    morning(cli, store)
    report = cli.json("report", "funnel", "--promo", "double11")
    assert steps(report) == {"shown": (3, None, None), "tried": (3, 7, 0),
                             "reserved": (3, 5, 0), "paid": (2, 3, 1)}
    assert report["outcomes"] == {"paid": 3, "open": 0, "sold_out": 1, "limit": 1,
                                  "refused": 1, "gave_up": 1, "wrong_password": 1}
    assert report["reasons"] == {"refused": {"declined": 1}, "gave_up": {"cancelled": 1}}
    paid = next(s for s in report["steps"] if s["step"] == "paid")
    assert paid["conversion"] == round(2 / 3, 4)
    # the same numbers for the day, and for every promotion (there is one)
    assert steps(cli.json("report", "funnel", "--date", "2013-11-11")) == steps(report)
    empty = cli.json("report", "funnel", "--date", "2013-11-12")
    assert steps(empty)["tried"] == (0, 0, 0) and steps(empty)["shown"][0] == 0


def test_by_item_region_and_hour(cli, store):
    morning(cli, store)
    by_item = cli.json("report", "funnel", "--by", "item")
    groups = {g["key"]: g for g in by_item["groups"]}
    assert steps(groups["YX-1001"])["tried"] == (3, 4, None)
    assert groups["YX-1001"]["outcomes"]["sold_out"] == 1
    assert steps(groups["YX-2001"])["tried"] == (3, 3, None)
    assert groups["YX-2001"]["outcomes"]["wrong_password"] == 1
    assert steps(groups["YX-1001"])["shown"][0] is None  # a push shows the promotion
    by_region = cli.json("report", "funnel", "--by", "region")
    regions = {g["key"]: g["outcomes"]["paid"] for g in by_region["groups"]}
    assert regions["310000"] == 2 and regions["440000"] == 1
    by_hour = cli.json("report", "funnel", "--by", "hour")
    assert [g["label"] for g in by_hour["groups"]] == ["2013-11-11 10:00"]
    assert steps(by_hour["groups"][0]) == steps(by_hour)


def test_a_push_counts_as_shown(cli, store):
    from wxshop_cli.core.inbox import push_promo_to
    from wxshop_cli.core.promos import require_promo

    db = store["db"]
    with db.transaction() as session:
        promo = require_promo(session, "double11")
        push_promo_to(session, [1, 2, 3, 4], promo.id, "双11精选商品 is live", shop.DURING_AT)
    assert steps(cli.json("report", "funnel"))["shown"][0] == 4


def test_a_pipe_gets_tsv_rows(cli, store):
    morning(cli, store)
    result = cli("report", "funnel", "--promo", "double11")
    assert result.exit_code == 0, result.stderr
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert lines[0] == ["group", "step", "reason", "buyers", "attempts", "drop", "conversion"]
    rows = {(r[1], r[2]): r for r in lines[1:]}
    assert rows[("tried", "")][4] == "7"
    assert rows[("ended:refused", "declined")][4] == "1"
    assert rows[("ended:wrong_password", "")][4] == "1"


def test_bulk_buys_feed_the_funnel_without_counting_replays(cli, store):
    snacks, phone = store["items"]["YX-2001"], store["items"]["YX-1001"]
    lines = [{"item": snacks, "idempotency_key": "a"}, {"item": snacks, "idempotency_key": "a"},
             {"item": phone, "buyer": "b2"}, {"item": phone, "buyer": "b2"},
             {"item": snacks, "buyer": "b4", "pay_password": "314159"},
             {"item": snacks, "buyer": "b3"}]
    result = cli("--json", "--now", shop.DURING, "buy", "--from", "-", "--group", "3",
                 input="\n".join(json.dumps(line) for line in lines) + "\n", env=PAY)
    assert result.exit_code != 0  # some lines were refused
    report = cli.json("report", "funnel")
    assert report["outcomes"] == {"paid": 2, "open": 0, "sold_out": 0, "limit": 1,
                                  "refused": 1, "gave_up": 0, "wrong_password": 1}
    assert steps(report)["tried"] == (3, 4, 0)


def test_bad_paths(cli, store):
    assert error(cli("--json", "report", "funnel", "--promo", "nope"), 4)["code"] == \
        "promo_not_found"
    cli.fails(2, "report", "funnel", "--by", "colour")
    cli.fails(2, "report", "funnel", "--date", "11/11/2013")


@pytest.mark.slow
def test_a_rehearsed_day_has_a_funnel(cli, tmp_path):
    db = tmp_path / "rehearsed.db"
    result = cli("--json", "--db", str(db), "rehearse", "--seed", "1", "--buyers", "40",
                 "--duration", "1.5", "--workers", "2")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    report = cli.json("--db", str(db), "report", "funnel")
    sales = cli.json("--db", str(db), "report", "sales", "--by", "day")
    assert report["outcomes"]["paid"] == sum(row["orders"] for row in sales) > 0
    assert steps(report)["tried"][1] >= report["outcomes"]["paid"] + \
        report["outcomes"]["sold_out"] + report["outcomes"]["refused"]
    assert report["outcomes"]["refused"] > 0  # the refusals storm
    assert summary["paid"] > 0


def test_a_terminal_gets_a_chart(cli, store, monkeypatch):
    from wxshop_cli import output

    morning(cli, store)
    monkeypatch.setattr(output, "stdout_is_terminal", lambda: True)
    result = cli("report", "funnel", "--promo", "double11", env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.stderr
    chart = result.stdout
    assert "Funnel of double11" in chart and "refused: declined 1" in chart
    bars = {line.split("│")[1].strip(): line.count("█") for line in chart.splitlines()
            if line.startswith("│")}
    assert bars["shown"] == bars["tried"] > bars["paid"] > 0


def test_a_buyer_who_tried_unseen_counts_as_shown(cli, store):
    """b4 was neither pushed to nor looked, yet bought by SKU: the funnel never widens."""
    ok(cli("--json", "--buyer", "me", "--now", shop.DURING, "promo", "list"))
    ok(buy(cli, "YX-2001", buyer="b4"))
    report = steps(cli.json("report", "funnel"))
    assert report["shown"][0] == 2 and report["tried"] == (1, 1, 1)


@pytest.mark.slow
def test_racing_replays_of_a_key_count_one_attempt(cli, backend):
    """Three buyers race for one unit, each key sent by two processes at once: three
    attempts (one paid, two sold out), however the duplicates were answered (a replay, or
    "still running")."""
    from tests.test_races import assert_overlapped, race

    db = shop.open_db()
    shop.product(db, "YX-1001", 528800)
    items = shop.promo(db, "double11", [{"sku": "YX-1001", "price_fen": 399900, "stock": 1}])
    names = ["r1", "r2", "r3"]
    for name in names:
        shop.shopper(db, name)
    results = race([["--json", "--buyer", name, "--now", shop.DURING, "buy", items["YX-1001"],
                     "--idempotency-key", f"race-{name}"] for name in names for _ in range(2)],
                   {"WXSHOP_SANDBOX_CHARGE_DELAY": "0.5"})
    assert_overlapped(results)
    assert {r[0] for r in results} <= {0, 7, 9}, [(r[0], r[2]) for r in results]
    report = cli.json("report", "funnel")
    assert report["outcomes"]["paid"] == 1 and report["outcomes"]["sold_out"] == 2
    assert steps(report)["tried"] == (3, 3, 0)
