"""Promotions by command (`promo create | add-item | publish CODE | unpublish | archive | list |
show`), the price rules, and the status derivation (SPEC section 7)."""

from __future__ import annotations

import datetime as dt
import math
import re
import sys
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.test_promofile import AFTER, BEFORE, DURING, base, publish, set_sold, write
from wxshop_cli.core import promos
from wxshop_cli.db.models import Promo, PromoItem
from wxshop_cli.errors import InvalidInput
from wxshop_cli.money import MAX_FEN

WINDOW = ["--starts", "2013-11-11T00:00:00+08:00", "--ends", "2013-11-12T00:00:00+08:00"]


def shop(cli, *, code: str = "d11", regions: tuple[str, ...] = ()) -> None:
    cli.json("product", "add", "--sku", "YX-1001", "--title", "Apple iPhone 5s",
             "--price", "5288", "--stock", "5", "--image-url", "https://img.example/yx-1001.jpg",
             "--description", "4-inch Retina, A7")
    cli.json("product", "add", "--sku", "YX-3003", "--title", "德芙 巧克力", "--price", "9.90",
             "--stock", "0")
    region_args = [arg for code_ in regions for arg in ("--region", code_)]
    cli.json("promo", "create", "--code", code, "--title", "双11精选商品", *WINDOW,
             *region_args)


# ------------------------------------------------------------------ create


def test_create_makes_a_draft(cli, backend):
    shop(cli, regions=("440000", "310000", "310000"))
    promo = cli.json("promo", "show", "d11")
    assert promo["status"] == "draft" and promo["state"] == "draft"
    assert promo["regions"] == ["310000", "440000"]
    assert promo["items"] == []
    assert promo["starts_at"] == "2013-11-11T00:00:00+08:00"
    assert promo["ends_at"] == "2013-11-12T00:00:00+08:00"
    assert set(promo) >= {"code", "title", "status", "starts_at", "ends_at", "regions", "items"}


def test_naive_option_times_are_read_in_the_display_zone(cli):
    cli.json("promo", "create", "--code", "x", "--title", "X", "--starts", "2013-11-11T00:00",
             "--ends", "2013-11-11T12:00", env={"WXSHOP_TZ": "Europe/Paris"})
    shown = cli.json("promo", "show", "x", env={"WXSHOP_TZ": "UTC"})
    assert shown["starts_at"] == "2013-11-10T23:00:00+00:00"


@pytest.mark.parametrize("times", [
    ["--starts", "tomorrow", "--ends", "2013-11-12T00:00:00+08:00"],
    ["--starts", "2013-11-11T00:00:00+08:00", "--ends", "2013-13-01"],
])
def test_a_malformed_time_is_a_usage_error(cli, times):
    result = cli("promo", "create", "--code", "x", "--title", "X", *times)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "not an ISO 8601 time" in result.stderr


@pytest.mark.parametrize(("args", "slug"), [
    (["--starts", "2013-11-12T00:00:00+08:00", "--ends", "2013-11-11T00:00:00+08:00"],
     "invalid_window"),
    (["--starts", "2013-11-11T00:00:00+08:00", "--ends", "2013-11-10T16:00:00Z"],
     "invalid_window"),  # the same instant: an empty window
    ([*WINDOW, "--region", "999999"], "invalid_region"),
])
def test_a_rule_broken_by_create_is_invalid_input(cli, args, slug):
    error = cli.fails(3, "promo", "create", "--code", "x", "--title", "X", *args)
    assert error["code"] == slug


@pytest.mark.parametrize("title", ["双11\u200b精选", "双11\u202e精选", "双11\n精选"])
def test_a_promotion_title_with_invisible_characters_is_refused(cli, wx_env, title):
    error = cli.fails(3, "promo", "create", "--code", "x", "--title", title, *WINDOW)
    assert error["code"] == "invalid_product"
    assert error["message"].startswith("--title: ") and error["hint"]
    assert not (wx_env / "wxshop.db").exists()


def test_a_bad_code_is_invalid_and_a_duplicate_code_a_conflict(cli, backend):
    assert cli.fails(3, "promo", "create", "--code", "双11", "--title", "X",
                     *WINDOW)["code"] == "invalid_promo_code"
    cli.json("promo", "create", "--code", "d11", "--title", "X", *WINDOW)
    assert cli.fails(5, "promo", "create", "--code", "d11", "--title", "Y",
                     *WINDOW)["code"] == "promo_exists"


# ------------------------------------------------------------------ add-item and pricing


def test_add_item_prices_fixed_percent_and_amount(cli, backend):
    shop(cli)
    fixed = cli.json("promo", "add-item", "d11", "--sku", "YX-1001", "--price", "3999",
                     "--stock", "100", "--per-buyer-limit", "1")
    assert fixed["action"] == "created"
    assert fixed["id"].startswith("item_")
    assert (fixed["price_fen"], fixed["list_price_fen"]) == (399900, 528800)
    assert (fixed["stock_total"], fixed["stock_left"], fixed["per_buyer_limit"]) == (100, 100, 1)
    # 990 fen × 75% = 742.5 fen: the price rounds half-up to 743 (not 990 − round(247.5)).
    percent = cli.json("promo", "add-item", "d11", "--sku", "YX-3003", "--percent-off", "25",
                       "--stock", "10")
    assert percent["price_fen"] == 743
    assert percent["per_buyer_limit"] is None
    amount = cli.json("promo", "add-item", "d11", "--sku", "YX-3003", "--amount-off", "9.89",
                      "--stock", "10")
    assert amount["action"] == "changed"
    assert amount["price_fen"] == 1
    assert {c["field"] for c in amount["changed"]} == {"pricing", "price_fen"}
    again = cli.json("promo", "add-item", "d11", "--sku", "YX-3003", "--amount-off", "9.89",
                     "--stock", "10")
    assert again["action"] == "unchanged"
    shown = cli.json("promo", "show", "d11")
    assert [item["sku"] for item in shown["items"]] == ["YX-1001", "YX-3003"]


@pytest.mark.parametrize(("price", "slug", "words"), [
    (["--price", "5288.01"], "invalid_price", "--price: 5288.01 is above the list price"),
    (["--price", "0"], "invalid_amount", "--price: must be at least 0.01"),
    (["--amount-off", "5288"], "invalid_price", "--amount-off: 5288.00 off leaves a price"),
    (["--amount-off", "6000"], "invalid_price", "--amount-off: 6000.00 off leaves a price"),
    (["--percent-off", "100"], "invalid_percent", "--percent-off: 100 is out of range"),
    (["--percent-off", "0"], "invalid_percent", "--percent-off: 0 is out of range"),
    (["--percent-off", "12.345"], "invalid_percent", "--percent-off: more than two decimals"),
    (["--percent-off", " 20"], "invalid_percent", "--percent-off: not a percentage"),
    (["--percent-off", "20 "], "invalid_percent", "--percent-off: not a percentage"),
    (["--percent-off", "２０"], "invalid_percent", "--percent-off: not a percentage"),
    (["--price", " 5"], "invalid_amount", "--price: not an amount"),
    (["--price", "3999.999"], "invalid_amount", "--price: more than two decimals"),
])
def test_prices_outside_the_rules_are_invalid(cli, price, slug, words):
    shop(cli)
    error = cli.fails(3, "promo", "add-item", "d11", "--sku", "YX-1001", *price, "--stock", "1")
    assert error["code"] == slug
    assert error["message"].startswith(words)
    assert cli.json("promo", "show", "d11")["items"] == []


@pytest.mark.parametrize("option", ["--percent-off", "--price", "--amount-off"])
def test_a_price_option_that_is_not_a_number_is_a_usage_error(cli, option):
    shop(cli)
    result = cli("promo", "add-item", "d11", "--sku", "YX-1001", option, "abc", "--stock", "1")
    assert result.exit_code == 2, result.stderr
    assert "not a number" in result.stderr
    assert cli.json("promo", "show", "d11")["items"] == []


def test_a_percent_of_a_tiny_price_rounds_half_up_or_is_refused(cli):
    cli.json("product", "add", "--sku", "P1", "--title", "Penny", "--price", "0.01",
             "--stock", "1")
    cli.json("promo", "create", "--code", "d11", "--title", "X", *WINDOW)
    # 1 fen × 50% = 0.5 fen → 1 fen (half-up); 1 fen × 40% = 0.4 fen → 0: below ¥0.01.
    half = cli.json("promo", "add-item", "d11", "--sku", "P1", "--percent-off", "50",
                    "--stock", "1")
    assert half["price_fen"] == 1
    error = cli.fails(3, "promo", "add-item", "d11", "--sku", "P1", "--percent-off", "60",
                      "--stock", "1")
    assert error["code"] == "invalid_price"


@pytest.mark.parametrize("args", [
    ["--sku", "YX-1001", "--stock", "1"],
    ["--sku", "YX-1001", "--stock", "1", "--price", "1", "--percent-off", "10"],
    ["--sku", "YX-1001", "--price", "1"],
    ["--sku", "YX-1001", "--price", "1", "--stock", "x"],
])
def test_add_item_option_mistakes_are_usage_errors(cli, args):
    shop(cli)
    assert cli("promo", "add-item", "d11", *args).exit_code == 2


@pytest.mark.parametrize(("args", "code", "slug"), [
    (["--sku", "YX-404", "--price", "1", "--stock", "1"], 4, "product_not_found"),
    (["--sku", "YX-1001", "--price", "1", "--stock", "-1"], 3, "invalid_stock"),
    (["--sku", "YX-1001", "--price", "1", "--stock", "1", "--per-buyer-limit", "0"], 3,
     "invalid_limit"),
    (["--sku", "YX-1001", "--price", "1", "--stock", " 1"], 3, "invalid_stock"),
    (["--sku", "YX-1001", "--price", "1", "--stock", "１"], 3, "invalid_stock"),
    (["--sku", "YX-1001", "--price", "1", "--stock", "1", "--per-buyer-limit", " 2"], 3,
     "invalid_limit"),
    (["--sku", "YX-1001", "--price", "1", "--stock", "1", "--per-buyer-limit", "2.5"], 2,
     "usage"),
])
def test_add_item_refusals(cli, args, code, slug):
    shop(cli)
    assert cli.fails(code, "promo", "add-item", "d11", *args)["code"] == slug


def test_add_item_to_an_unknown_promotion_is_not_found(cli):
    error = cli.fails(4, "promo", "add-item", "nope", "--sku", "A", "--price", "1", "--stock", "1")
    assert error["code"] == "promo_not_found"


def test_once_live_stock_never_below_sold_and_price_changes_need_force(cli, backend):
    shop(cli)
    cli.json("promo", "add-item", "d11", "--sku", "YX-1001", "--price", "3999", "--stock", "10")
    cli.json("--now", DURING, "promo", "publish", "d11")
    set_sold("d11", "YX-1001", 4)
    error = cli.fails(5, "--now", DURING, "promo", "add-item", "d11", "--sku", "YX-1001",
                      "--price", "3999", "--stock", "3")
    assert error["code"] == "stock_below_sold"
    error = cli.fails(5, "--now", DURING, "promo", "add-item", "d11", "--sku", "YX-1001",
                      "--price", "3899", "--stock", "10")
    assert error["code"] == "price_change_needs_force"
    assert error["location"] == "--price"
    # A stock change alone is fine; so is a new rule that gives the same price.
    assert cli.json("--now", DURING, "promo", "add-item", "d11", "--sku", "YX-1001", "--price",
                    "3999", "--stock", "4")["stock_left"] == 0
    assert cli.json("--now", DURING, "promo", "add-item", "d11", "--sku", "YX-1001",
                    "--amount-off", "1289", "--stock", "4")["price_fen"] == 399900
    forced = cli.json("--now", DURING, "promo", "add-item", "d11", "--sku", "YX-1001",
                      "--price", "3899", "--stock", "10", "--force")
    assert forced["price_fen"] == 389900 and forced["stock_left"] == 6


# ------------------------------------------------------------------ lifecycle


def test_publish_by_code_unpublish_and_archive(cli, backend):
    shop(cli)
    assert cli.fails(5, "promo", "publish", "d11")["code"] == "promo_empty"
    cli.json("promo", "add-item", "d11", "--sku", "YX-1001", "--price", "3999", "--stock", "10")
    report = cli.json("--now", BEFORE, "promo", "publish", "d11", "--no-notify")
    assert report["changed"] == [{"kind": "promo", "key": "d11", "field": "state",
                                  "old": "draft", "new": "published"}]
    assert report["status"] == "scheduled"
    again = cli.json("--now", BEFORE, "promo", "publish", "d11")
    assert again["any_change"] is False
    assert cli.json("--now", DURING, "promo", "show", "d11")["status"] == "live"

    back = cli.json("--now", DURING, "promo", "unpublish", "d11")
    assert back["changed"][0]["new"] == "draft"
    assert cli.json("--now", DURING, "promo", "show", "d11")["status"] == "draft"
    cli.json("--now", DURING, "promo", "publish", "d11")
    set_sold("d11", "YX-1001", 1)
    error = cli.fails(5, "--now", DURING, "promo", "unpublish", "d11")
    assert error["code"] == "promo_has_sales"

    archived = cli.json("--now", DURING, "promo", "archive", "d11")
    assert archived["status"] == "archived"
    assert cli.json("promo", "archive", "d11")["any_change"] is False
    for args in (["publish", "d11"], ["unpublish", "d11"],
                 ["add-item", "d11", "--sku", "YX-1001", "--price", "1", "--stock", "1"]):
        assert cli.fails(5, "promo", *args)["code"] == "promo_archived"


def test_publish_dry_run_by_code_writes_nothing(cli):
    shop(cli)
    cli.json("promo", "add-item", "d11", "--sku", "YX-1001", "--price", "3999", "--stock", "10")
    dry = cli.json("promo", "publish", "d11", "--dry-run")
    assert dry["dry_run"] is True and dry["changed"][0]["new"] == "published"
    assert cli.json("promo", "show", "d11")["status"] == "draft"


@pytest.mark.parametrize("command", ["show", "unpublish", "archive"])
def test_unknown_codes_are_not_found(cli, command):
    assert cli.fails(4, "promo", command, "nope")["code"] == "promo_not_found"


# ------------------------------------------------------------------ the buyer's view


def test_list_shows_live_promotions_filtered_by_region(cli, tmp_path, backend):
    publish(cli, write(tmp_path, base()), now=BEFORE)  # Shanghai and Guangdong
    nationwide = base()
    nationwide.update(code="everywhere", regions=[],
                      starts_at="2013-11-11T12:00:00+08:00")
    nationwide["items"] = nationwide["items"][:1]
    publish(cli, write(tmp_path, nationwide, "n.toml"), now=BEFORE)

    assert cli.json("--now", BEFORE, "promo", "list") == []  # nothing live yet
    listed = cli.json("--now", DURING, "promo", "list")
    assert [p["code"] for p in listed] == ["double11-2013"]
    assert listed[0]["status"] == "live"
    item = listed[0]["items"][0]
    assert set(item) >= {"id", "sku", "title", "price_fen", "list_price_fen", "stock_total",
                         "stock_left", "per_buyer_limit"}
    later = "2013-11-11T13:00:00+08:00"
    assert [p["code"] for p in cli.json("--now", later, "promo", "list")] == [
        "double11-2013", "everywhere"]
    assert [p["code"] for p in cli.json("--now", later, "promo", "list", "--region",
                                        "110000")] == ["everywhere"]
    assert [p["code"] for p in cli.json("--now", later, "promo", "list", "--region",
                                        "440000")] == ["double11-2013", "everywhere"]
    assert cli.fails(3, "promo", "list", "--region", "12")["code"] == "invalid_region"
    assert cli.json("--now", AFTER, "promo", "list") == []


def test_list_all_is_the_merchants_view_of_every_state(cli, tmp_path):
    publish(cli, write(tmp_path, base()), now=BEFORE)
    cli.json("promo", "create", "--code", "draft-one", "--title", "草稿", *WINDOW)
    cli.json("promo", "create", "--code", "old", "--title", "旧", "--starts",
             "2012-11-11T00:00:00+08:00", "--ends", "2012-11-12T00:00:00+08:00")
    cli.json("promo", "archive", "old")
    listed = cli.json("--now", BEFORE, "promo", "list", "--all")
    assert {p["code"]: p["status"] for p in listed} == {
        "double11-2013": "scheduled", "draft-one": "draft", "old": "archived"}
    result = cli("--now", BEFORE, "promo", "list", "--all")
    assert result.stdout.splitlines()[0].split("\t") == [
        "code", "title", "status", "starts_at", "ends_at", "regions", "items"]
    assert "double11-2013\t双11精选商品\tscheduled\t2013-11-11 00:00:00\t2013-11-12 00:00:00\t" \
           "310000,440000\t3" in result.stdout


def test_sold_out_items_stay_visible_in_the_buyers_view(cli, tmp_path):
    publish(cli, write(tmp_path, base()))
    for sku, sold in (("YX-1001", 100), ("YX-2001", 10), ("YX-3001", 1)):
        set_sold("double11-2013", sku, sold)
    listed = cli.json("--now", DURING, "promo", "list")
    assert listed[0]["status"] == "sold_out"
    assert all(item["stock_left"] == 0 for item in listed[0]["items"])


def test_strips_in_a_pipe_are_one_tsv_row_per_item(cli, tmp_path):
    publish(cli, write(tmp_path, base()))
    result = cli("--now", DURING, "promo", "list")
    lines = result.stdout.splitlines()
    assert lines[0].split("\t") == ["promo", "status", "id", "sku", "title", "price",
                                    "list_price", "stock_left", "per_buyer_limit",
                                    "description", "image_url"]
    first = lines[1].split("\t")
    assert first[0:2] == ["double11-2013", "live"]
    assert first[3:] == ["YX-1001", "Apple iPhone 5s 16G", "3999.00", "5288.00", "100", "1",
                         "4-inch Retina, A7", "https://img.example/yx-1001.jpg"]
    assert len(lines) == 4


def test_strips_on_a_terminal_strike_the_list_price(cli, tmp_path, monkeypatch):
    from rich.console import Console

    from wxshop_cli import output

    publish(cli, write(tmp_path, base()))
    set_sold("double11-2013", "YX-3001", 1)
    monkeypatch.setattr(output, "stdout_is_terminal", lambda: True)
    monkeypatch.setattr(output, "out_console", lambda: Console(
        file=sys.stdout, force_terminal=True, width=200, color_system="standard"))
    result = cli("--now", DURING, "promo", "list")
    assert result.exit_code == 0
    text = result.stdout
    assert re.search(r"\x1b\[(?:[0-9]+;)*9(?:;[0-9]+)*m¥5,288\.00", text)  # struck through
    for words in ("双11精选商品", "Apple iPhone 5s 16G", "¥3,999.00", "¥5,288.00", "100 left",
                  "4-inch Retina, A7", "https://img.example/yx-1001.jpg", "sold out"):
        assert words in text
    strip_lines = [line for line in text.splitlines() if "Apple iPhone" in line]
    assert len(strip_lines) == 1  # one line per item


# ------------------------------------------------------------------ pure functions


def _promo(state: str = "published") -> Promo:
    start = dt.datetime(2013, 11, 10, 16, tzinfo=dt.UTC)
    return Promo(id=1, code="x", title="X", starts_at=start,
                 ends_at=start + dt.timedelta(days=1), state=state, created_at=start,
                 updated_at=start)


def _item(total: int, sold: int) -> PromoItem:
    return PromoItem(id="item_x", promo_id=1, sku="S", price_rule="price",
                     price_rule_value="1.00", price_fen=100, stock_total=total, sold=sold,
                     created_at=dt.datetime(2013, 1, 1, tzinfo=dt.UTC))


@pytest.mark.parametrize(("state", "at", "items", "status"), [
    ("draft", "2013-11-11T10:00:00+08:00", [(1, 0)], "draft"),
    ("archived", "2013-11-11T10:00:00+08:00", [(1, 0)], "archived"),
    ("published", "2013-11-10T23:59:59.999999+08:00", [(1, 1)], "scheduled"),
    ("published", "2013-11-11T00:00:00+08:00", [(1, 0)], "live"),
    ("published", "2013-11-11T10:00:00+08:00", [(1, 1), (2, 1)], "live"),
    ("published", "2013-11-11T10:00:00+08:00", [(1, 1), (2, 2)], "sold_out"),
    ("published", "2013-11-11T10:00:00+08:00", [(0, 0)], "sold_out"),
    ("published", "2013-11-12T00:00:00+08:00", [(1, 1)], "ended"),
])
def test_promo_status(state, at, items, status):
    now = dt.datetime.fromisoformat(at)
    rows = [_item(total, sold) for total, sold in items]
    assert promos.promo_status(_promo(state), rows, now) == status
    assert promos.is_live(_promo(state), rows, now) == (status == "live")


def test_open_for_sale_ignores_stock_and_window_is_half_open():
    promo = _promo()
    assert promos.is_open_for_sale(promo, dt.datetime.fromisoformat("2013-11-11T00:00:00+08:00"))
    assert not promos.is_open_for_sale(promo,
                                       dt.datetime.fromisoformat("2013-11-12T00:00:00+08:00"))
    assert not promos.is_open_for_sale(_promo("draft"),
                                       dt.datetime.fromisoformat("2013-11-11T10:00:00+08:00"))
    assert promos.regions_serve([], "110000")
    assert promos.regions_serve(["310000"], "310000")
    assert not promos.regions_serve(["310000"], "110000")


def test_checkout_lookups(cli, tmp_path, backend):
    from tests.test_promofile import open_db

    publish(cli, write(tmp_path, base()))
    second = base()
    second.update(code="flash", starts_at="2013-11-11T09:00:00+08:00",
                  ends_at="2013-11-11T11:00:00+08:00", regions=[])
    second["items"] = second["items"][:1]
    publish(cli, write(tmp_path, second, "flash.toml"))
    db = open_db()
    at = dt.datetime.fromisoformat(DURING)
    with db.transaction(read_only=True) as session:
        found = promos.find_live_items_for_sku(session, "YX-1001", at)
        assert [promo.code for _, promo in found] == ["double11-2013", "flash"]
        assert promos.find_live_items_for_sku(session, "YX-1001",
                                              at + dt.timedelta(hours=2))[0][1].code == (
            "double11-2013")
        assert promos.find_live_items_for_sku(session, "YX-404", at) == []
        item, promo = promos.require_item(session, found[0][0].id)
        assert promo.code == "double11-2013" and item.sku == "YX-1001"
        assert promos.serves_region(session, promo, "310000")
        assert not promos.serves_region(session, promo, "110000")
        assert promos.serves_region(session, found[1][1], "110000")  # nationwide
        with pytest.raises(Exception) as raised:
            promos.require_item(session, "item_nope")
        assert getattr(raised.value, "slug", None) == "item_not_found"


# ------------------------------------------------------------------ price rules (hypothesis)

list_prices = st.integers(min_value=1, max_value=MAX_FEN)
percents = st.integers(min_value=1, max_value=9999).map(lambda n: Decimal(n) / 100)


def _percent_text(percent: Decimal) -> str:
    return promos._decimal_text(percent)


@given(list_prices, percents)
def test_percent_off_rounds_the_price_half_up_and_stays_in_bounds(list_fen, percent):
    pricing = promos.parse_percent(_percent_text(percent))
    exact = Fraction(list_fen) * (100 - Fraction(percent)) / 100
    half_up = math.floor(exact + Fraction(1, 2))  # half-up, computed exactly
    if half_up < 1:
        with pytest.raises(InvalidInput):
            promos.compute_price(list_fen, pricing)
        return
    price = promos.compute_price(list_fen, pricing)
    assert price == half_up
    assert 1 <= price <= list_fen
    assert abs(Fraction(price) - exact) <= Fraction(1, 2)


@given(list_prices, st.integers(min_value=1, max_value=MAX_FEN))
def test_amount_off_never_goes_below_one_fen(list_fen, off_fen):
    pricing = promos.pricing_for_amount("amount_off", off_fen)
    if list_fen - off_fen < 1:
        with pytest.raises(InvalidInput) as raised:
            promos.compute_price(list_fen, pricing)
        assert raised.value.slug == "invalid_price"
    else:
        assert promos.compute_price(list_fen, pricing) == list_fen - off_fen


@given(list_prices, st.integers(min_value=1, max_value=MAX_FEN))
def test_a_fixed_price_is_never_above_the_list_price(list_fen, price_fen):
    pricing = promos.pricing_for_amount("price", price_fen)
    if price_fen > list_fen:
        with pytest.raises(InvalidInput):
            promos.compute_price(list_fen, pricing)
    else:
        assert promos.compute_price(list_fen, pricing) == price_fen


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99.99"), places=2))
def test_percent_text_is_canonical(percent):
    one = promos.parse_percent(f"{percent:.2f}")
    two = promos.parse_percent(_percent_text(percent))
    assert one == two
    assert Decimal(one.value) == percent


def test_the_demo_publishes_double11_with_a_push_and_shows_the_strips(cli):
    story = cli.json("demo")
    chapters = {chapter["title"]: chapter for chapter in story["chapters"]}
    published = chapters["双11精选商品 is published with a push"]
    assert published["status"] == "live" and published["items"] == 12
    assert published["notified"] >= 1
    strips = chapters["The red dot and the promo strips"]
    assert strips["unread"] >= 1 and strips["strips"] == 12
