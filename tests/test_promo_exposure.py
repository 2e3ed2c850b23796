"""The worst case of a promotion (issue 15): `promo publish --dry-run` and the change report of
a real publish show, per item, stock × (list price − promo price), the sum, what one buyer can
take, and the other live or scheduled promotions of the same SKU that meet it."""

from __future__ import annotations

import datetime as dt

import pytest

from tests import shop
from tests.test_promofile import DURING, base, dump, publish, set_sold, write
from tests.test_terminal_tables import ANSI
from tests.test_terminal_tables import terminal as screen  # noqa: F401  (a fixture)

PHONE = 100 * (528800 - 399900)  # 100 × ¥1,289.00
NUTS = 1 * 6900  # ¥69.00 off ¥168.00


def item(report, sku):
    return next(i for i in report["exposure"]["items"] if i["sku"] == sku)


def test_a_dry_run_shows_the_worst_case_and_writes_nothing(cli, tmp_path, backend):
    before = dump()
    report = publish(cli, write(tmp_path, base()), "--dry-run")
    assert dump() == before
    exposure = report["exposure"]
    phone = item(report, "YX-1001")
    assert (phone["stock"], phone["list_price_fen"], phone["price_fen"]) == (100, 528800, 399900)
    assert (phone["discount_fen"], phone["exposure_fen"]) == (128900, PHONE)
    assert (phone["per_buyer_limit"], phone["per_buyer_units"], phone["per_buyer_fen"]) == (
        1, 1, 128900)
    fridge = item(report, "YX-2001")  # 15% off ¥2,199.99, no per-buyer limit
    assert fridge["discount_fen"] == 219999 - fridge["price_fen"] > 0
    assert (fridge["per_buyer_limit"], fridge["per_buyer_units"]) == (None, 10)
    assert fridge["per_buyer_fen"] == fridge["exposure_fen"] == 10 * fridge["discount_fen"]
    nuts = item(report, "YX-3001")
    assert (nuts["exposure_fen"], nuts["per_buyer_units"]) == (NUTS, 1)
    assert exposure["total_fen"] == PHONE + fridge["exposure_fen"] + NUTS
    assert exposure["remaining_fen"] == exposure["total_fen"]
    assert exposure["overlapping_items"] == 0 and all(not i["overlaps"] for i in
                                                       exposure["items"])
    assert all(isinstance(v, int) for i in exposure["items"] for k, v in i.items()
               if k.endswith("_fen"))
    # The real publish reports the same worst case.
    real = publish(cli, write(tmp_path, base()), "--no-notify")
    assert real["exposure"] == exposure


def test_sold_units_leave_the_worst_case_but_lower_what_remains(cli, tmp_path, backend):
    path = write(tmp_path, base())
    publish(cli, path, "--no-notify")
    set_sold("double11-2013", "YX-1001", 40)
    report = publish(cli, path, "--dry-run")
    phone = item(report, "YX-1001")
    assert (phone["sold"], phone["exposure_fen"], phone["remaining_fen"]) == (
        40, PHONE, 60 * 128900)
    assert report["exposure"]["remaining_fen"] == report["exposure"]["total_fen"] - 40 * 128900


def test_a_per_buyer_limit_above_the_stock_is_the_stock(cli, tmp_path, backend):
    doc = base()
    doc["items"][2]["per_buyer_limit"] = 5  # stock 1
    assert item(publish(cli, write(tmp_path, doc), "--dry-run"), "YX-3001")[
        "per_buyer_units"] == 1


def test_overlaps_with_live_and_scheduled_promotions_of_the_same_sku(cli, tmp_path, backend):
    db = shop.open_db()
    publish(cli, write(tmp_path, base()), "--no-notify")
    start = dt.datetime(2013, 11, 11, 20, tzinfo=dt.UTC)  # 2013-11-12 04:00 Beijing
    later = start + dt.timedelta(days=1)
    shop.promo(db, "evening", [{"sku": "YX-1001", "price_fen": 388800, "stock": 5}],
               regions=("440000",), starts=dt.datetime(2013, 11, 10, 16, tzinfo=dt.UTC),
               ends=later)
    shop.promo(db, "beijing-only", [{"sku": "YX-1001", "price_fen": 377700, "stock": 5}],
               regions=("110000",))
    shop.promo(db, "a-draft", [{"sku": "YX-3001", "price_fen": 9900, "stock": 5}],
               state="draft")
    shop.promo(db, "nationwide-later", [{"sku": "YX-3001", "price_fen": 9800, "stock": 5}],
               starts=dt.datetime(2013, 11, 11, 15, tzinfo=dt.UTC), ends=later)
    shop.promo(db, "after-it", [{"sku": "YX-2001", "price_fen": 100000, "stock": 5}],
               starts=start, ends=later)
    doc = base()
    doc["code"] = "flash"
    report = publish(cli, write(tmp_path, doc, "flash.toml"), "--dry-run")
    overlaps = {i["sku"]: [(o["code"], o["status"], o["price_fen"]) for o in i["overlaps"]]
                for i in report["exposure"]["items"]}
    fridge = item(report, "YX-2001")["price_fen"]
    assert overlaps == {
        # Not beijing-only (no region in common), not the draft, not after-it (it starts
        # when flash has ended).
        "YX-1001": [("double11-2013", "live", 399900), ("evening", "live", 388800)],
        "YX-2001": [("double11-2013", "live", fridge)],
        "YX-3001": [("double11-2013", "live", 9900), ("nationwide-later", "scheduled", 9800)],
    }
    assert report["exposure"]["overlapping_items"] == 3
    assert item(report, "YX-1001")["overlaps"][1]["starts_at"].startswith("2013-11-11T00:00")


def test_the_report_in_a_pipe_carries_the_worst_case_rows(cli, tmp_path):
    result = cli("--now", DURING, "promo", "publish", write(tmp_path, base()), "--dry-run")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "action\tkind\tkey\tfield\told\tnew"
    assert "exposure\titem\tYX-1001\texposure_fen\t100 × 1289.00\t128900.00" in lines
    assert "exposure\titem\tYX-1001\tper_buyer_units\tlimit\t1" in lines
    assert "exposure\titem\tYX-2001\tper_buyer_units\tno limit\t10" in lines
    assert sum(line.startswith("exposure\tpromo\tdouble11-2013\texposure_fen\t\t")
               for line in lines) == 1
    assert "worst case ¥" in result.stderr


def test_a_dry_run_says_it_would_push(cli, tmp_path, backend):
    db = shop.open_db()
    shop.shopper(db, "me", region="310000")
    result = cli("--now", DURING, "promo", "publish", write(tmp_path, base()), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "would push to 1 buyer" in result.stderr and "pushed to" not in result.stderr
    result = cli("--now", DURING, "promo", "publish", write(tmp_path, base()))
    assert "pushed to 1 buyer" in result.stderr and "would" not in result.stderr


def test_publishing_a_draft_by_code_reports_its_worst_case(cli, tmp_path, backend):
    db = shop.open_db()
    shop.product(db, "YX-9001", 10000)
    shop.promo(db, "draft-one", [{"sku": "YX-9001", "price_fen": 8000, "stock": 7, "limit": 2}],
               state="draft")
    report = cli.json("--now", DURING, "promo", "publish", "draft-one", "--dry-run")
    only = item(report, "YX-9001")
    assert (only["exposure_fen"], only["per_buyer_units"], only["per_buyer_fen"]) == (
        7 * 2000, 2, 4000)
    assert report["exposure"]["total_fen"] == 14000


def test_unpublish_has_no_worst_case(cli, tmp_path, backend):
    publish(cli, write(tmp_path, base()), "--no-notify")
    report = cli.json("--now", "2013-11-10T10:00:00+08:00", "promo", "unpublish",
                      "double11-2013")
    assert "exposure" not in report


@pytest.mark.parametrize("width", [80, 60])
def test_a_terminal_shows_the_worst_case_table_with_amounts_whole(
        cli, tmp_path, width, screen):  # noqa: F811 (the imported fixture)
    text = screen(cli, "promo", "publish", write(tmp_path, base()), "--dry-run",
                    width=width)
    flat = ANSI.sub("", text)
    assert "Worst case: ¥" in flat and "if every unit sells" in flat
    for whole in ("¥128,900.00", "100 × ¥1,289.00", "YX-1001", "¥69.00"):
        assert whole in flat.replace("\n", " ") or whole in flat, (whole, flat)
    assert "exposure" not in flat.split("Worst case")[0]  # not mixed into the change table
