"""`wxshop promo publish FILE` (SPEC sections 4 and 7): declarative publishing for CI.

Every malformed file exits 3, names the key path of each mistake, and leaves every table
exactly as it was (compared by a dump of all tables before and after)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

DURING = "2013-11-11T10:00:00+08:00"
BEFORE = "2013-11-10T23:59:59+08:00"
AFTER = "2013-11-12T00:00:00+08:00"

BASE: dict[str, Any] = {
    "code": "double11-2013",
    "title": "双11精选商品",
    "starts_at": "2013-11-11T00:00:00+08:00",
    "ends_at": "2013-11-12T00:00:00+08:00",
    "regions": ["310000", "440000"],
    "items": [
        {"sku": "YX-1001", "title": "Apple iPhone 5s 16G", "list_price": "5288.00",
         "image_url": "https://img.example/yx-1001.jpg", "description": "4-inch Retina, A7",
         "price": "3999.00", "stock": 100, "per_buyer_limit": 1},
        {"sku": "YX-2001", "title": "海尔 216升 三门冰箱", "list_price": "2199.99",
         "image_url": "https://img.example/yx-2001.jpg", "description": "三门三温区",
         "percent_off": 15, "stock": 10},
        {"sku": "YX-3001", "title": "三只松鼠 坚果大礼包", "list_price": "168.00",
         "image_url": "https://img.example/yx-3001.jpg", "description": "9 袋装",
         "amount_off": "69.00", "stock": 1},
    ],
}


# ------------------------------------------------------------------ helpers (shared)


def base() -> dict[str, Any]:
    return copy.deepcopy(BASE)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(value)


def to_toml(document: dict[str, Any]) -> str:
    lines = [f"{key} = {_toml_value(value)}" for key, value in document.items()
             if key != "items" or not value]
    for item in document.get("items", []):
        lines += ["", "[[items]]"] + [f"{k} = {_toml_value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, document: dict[str, Any] | str, name: str = "promo.toml") -> str:
    path = tmp_path / name
    if isinstance(document, str):
        text = document
    elif name.endswith(".json"):
        text = json.dumps(document, ensure_ascii=False)
    else:
        text = to_toml(document)
    path.write_text(text, encoding="utf-8")
    return str(path)


def open_db():
    from wxshop_cli.config import Settings, activate
    from wxshop_cli.db.engine import database, forget

    forget()
    activate(Settings())
    return database()


def dump() -> dict[str, list]:
    """Every row of every table (sorted), to prove that nothing changed."""
    from sqlalchemy import select
    from sqlmodel import SQLModel

    import wxshop_cli.db.models  # noqa: F401

    db = open_db()
    out = {}
    with db.transaction(read_only=True) as session:
        for table in SQLModel.metadata.sorted_tables:
            out[table.name] = sorted(repr(tuple(row)) for row in session.execute(select(table)))
    return out


def set_sold(code: str, sku: str, sold: int) -> None:
    """Stand in for sales (the buy command has its own tests)."""
    from sqlmodel import select

    from wxshop_cli.db.models import Promo, PromoItem

    db = open_db()
    with db.transaction() as session:
        item = session.exec(select(PromoItem).join(Promo).where(
            Promo.code == code, PromoItem.sku == sku)).one()
        item.sold = sold
        session.add(item)


def publish(cli, path: str, *args: str, now: str = DURING, exit_code: int = 0):
    return cli.json("--now", now, "promo", "publish", path, *args, exit_code=exit_code)


def entries(report: dict[str, Any], action: str) -> set[tuple]:
    def text(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    return {(e["kind"], e["key"], e.get("field"), text(e.get("old")), text(e.get("new")))
            if action == "changed" else (e["kind"], e["key"]) for e in report[action]}


# ------------------------------------------------------------------ publish / re-publish


def test_publish_creates_products_and_the_promotion_and_reports_it(cli, tmp_path, backend):
    report = publish(cli, write(tmp_path, base()), "--no-notify")
    assert report["code"] == "double11-2013"
    assert report["status"] == "live" and report["dry_run"] is False
    assert report["any_change"] is True
    assert entries(report, "created") == {
        ("product", "YX-1001"), ("product", "YX-2001"), ("product", "YX-3001"),
        ("promo", "double11-2013"),
        ("item", "YX-1001"), ("item", "YX-2001"), ("item", "YX-3001")}
    assert report["changed"] == [] and report["removed"] == [] and report["unchanged"] == []

    promo = cli.json("--now", DURING, "promo", "show", "double11-2013")
    assert promo["status"] == "live"
    assert promo["regions"] == ["310000", "440000"]
    assert promo["starts_at"] == "2013-11-11T00:00:00+08:00"
    items = {item["sku"]: item for item in promo["items"]}
    assert [item["sku"] for item in promo["items"]] == ["YX-1001", "YX-2001", "YX-3001"]
    assert items["YX-1001"]["price_fen"] == 399900
    assert items["YX-1001"]["list_price_fen"] == 528800
    assert items["YX-1001"]["per_buyer_limit"] == 1
    # 219999 × 85% = 186999.15 → 186999 (half-up to the fen)
    assert items["YX-2001"]["price_fen"] == 186999
    assert items["YX-3001"]["price_fen"] == 16800 - 6900
    for item in promo["items"]:
        assert item["id"].startswith("item_")
        assert item["stock_left"] == item["stock_total"]
    product = cli.json("product", "show", "YX-1001")
    assert product == {"sku": "YX-1001", "title": "Apple iPhone 5s 16G",
                       "list_price_fen": 528800, "stock": 0,
                       "image_url": "https://img.example/yx-1001.jpg",
                       "description": "4-inch Retina, A7", "kind": "goods"}


def test_publishing_the_same_file_again_reports_no_change(cli, tmp_path, backend):
    path = write(tmp_path, base())
    publish(cli, path)
    before = dump()
    again = publish(cli, path)
    assert again["any_change"] is False
    assert again["created"] == again["changed"] == again["removed"] == []
    assert entries(again, "unchanged") == {
        ("product", "YX-1001"), ("product", "YX-2001"), ("product", "YX-3001"),
        ("promo", "double11-2013"),
        ("item", "YX-1001"), ("item", "YX-2001"), ("item", "YX-3001")}
    assert again["notified"] == 0
    assert dump() == before


def test_equivalent_spellings_are_no_change(cli, tmp_path, backend):
    publish(cli, write(tmp_path, base()))
    doc = base()
    doc["items"][0]["price"] = "3999"  # same amount, other spelling
    doc["items"][1]["percent_off"] = "15.00"
    doc["items"][2].pop("amount_off")
    doc["items"][2]["amount_off_fen"] = 6900
    doc["regions"] = ["440000", "310000"]
    doc["starts_at"] = "2013-11-10T16:00:00Z"
    assert publish(cli, write(tmp_path, doc, "same.toml"))["any_change"] is False


def test_a_changed_file_gives_a_precise_report(cli, tmp_path, backend):
    publish(cli, write(tmp_path, base()), now=BEFORE)
    doc = base()
    doc["title"] = "双11精选商品 第二波"
    doc["regions"] = ["310000"]
    doc["items"][0]["stock"] = 80
    doc["items"][0]["list_price"] = "5188.00"
    doc["items"][1]["percent_off"] = 20
    del doc["items"][2]  # never sold: removed
    doc["items"].append({"sku": "YX-4001", "title": "德芙 巧克力", "list_price": "45.90",
                         "price": "35.90", "stock": 600})
    report = publish(cli, write(tmp_path, doc, "v2.toml"), now=BEFORE)
    assert report["status"] == "scheduled"
    changed = entries(report, "changed")
    assert changed == {
        ("promo", "double11-2013", "title", '"双11精选商品"', '"双11精选商品 第二波"'),
        ("promo", "double11-2013", "regions", '["310000", "440000"]', '["310000"]'),
        ("product", "YX-1001", "list_price_fen", "528800", "518800"),
        ("item", "YX-1001", "stock_total", "100", "80"),
        ("item", "YX-2001", "pricing", '"15% off"', '"20% off"'),
        ("item", "YX-2001", "price_fen", "186999", "175999"),
    }
    assert entries(report, "removed") == {("item", "YX-3001")}
    assert entries(report, "created") == {("product", "YX-4001"), ("item", "YX-4001")}
    assert ("product", "YX-2001") in entries(report, "unchanged")
    assert ("product", "YX-3001") not in entries(report, "unchanged")  # not in the file
    shown = cli.json("--now", BEFORE, "promo", "show", "double11-2013")
    assert [item["sku"] for item in shown["items"]] == ["YX-1001", "YX-2001", "YX-4001"]
    assert shown["regions"] == ["310000"]
    # The product whose item was removed stays in the catalog.
    assert cli.json("product", "show", "YX-3001")["sku"] == "YX-3001"


def test_the_change_report_in_a_pipe_is_tsv(cli, tmp_path):
    path = write(tmp_path, base())
    publish(cli, path)
    doc = base()
    doc["items"][0]["stock"] = 90
    result = cli("--now", DURING, "promo", "publish", write(tmp_path, doc, "v2.toml"))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "action\tkind\tkey\tfield\told\tnew"
    assert "changed\titem\tYX-1001\tstock_total\t100\t90" in lines
    assert "unchanged\tpromo\tdouble11-2013\t\t\t" in lines


def test_dry_run_reports_the_same_and_writes_nothing(cli, tmp_path, backend):
    path = write(tmp_path, base())
    dry = publish(cli, path, "--dry-run")
    assert dry["dry_run"] is True
    assert cli.json("product", "list") == []
    assert cli.json("promo", "list", "--all") == []
    real = publish(cli, path)
    assert entries(dry, "created") == entries(real, "created")
    doc = base()
    doc["items"][0]["stock"] = 50
    changed = write(tmp_path, doc, "v2.toml")
    before = dump()
    dry2 = publish(cli, changed, "--dry-run")
    assert dump() == before
    real2 = publish(cli, changed)
    for key in ("created", "changed", "removed"):
        assert dry2[key] == real2[key]
    assert dry2["dry_run"] is True and real2["dry_run"] is False


def test_a_dry_run_shows_no_ids_for_items_it_would_create(cli, tmp_path, backend):
    """The rolled-back items' ids would not be the ones a real publish makes: null."""
    path = write(tmp_path, base())
    dry = publish(cli, path, "--dry-run")
    created = [e for e in dry["created"] if e["kind"] == "item"]
    assert len(created) == 3 and all(e["id"] is None for e in created)
    real = publish(cli, path)
    ids = {e["key"]: e["id"] for e in real["created"] if e["kind"] == "item"}
    shown = cli.json("--now", DURING, "promo", "show", "double11-2013")["items"]
    assert ids == {item["sku"]: item["id"] for item in shown}
    # Existing items keep their real ids in a dry run; only a new one is null.
    doc = base()
    doc["items"][0]["stock"] = 90
    doc["items"].append({"sku": "YX-4001", "title": "德芙", "list_price": "45.90",
                         "price": "35.90", "stock": 5})
    dry = publish(cli, write(tmp_path, doc, "v2.toml"), "--dry-run")
    assert [e["id"] for e in dry["changed"] if e["kind"] == "item"] == [ids["YX-1001"]]
    assert [e for e in dry["created"] if e["kind"] == "item"] == [
        {"kind": "item", "key": "YX-4001", "id": None}]
    # The human report of a dry run shows no id either.
    result = cli("--now", DURING, "promo", "publish", write(tmp_path, doc, "v2.toml"),
                 "--dry-run")
    assert result.exit_code == 0 and "item_" not in result.stdout
    assert "dry run" in result.stderr


def test_a_json_file_with_the_same_keys_is_the_same_promotion(cli, tmp_path, backend):
    publish(cli, write(tmp_path, base()))
    again = publish(cli, write(tmp_path, base(), "promo.json"))
    assert again["any_change"] is False
    # A file without a telling suffix is sniffed: `{` means JSON.
    path = tmp_path / "promo.conf"
    path.write_text(json.dumps(base()), encoding="utf-8")
    assert publish(cli, str(path))["any_change"] is False


def test_fen_fields_take_integers(cli, tmp_path):
    doc = base()
    item = doc["items"][0]
    del item["list_price"], item["price"]
    item.update(list_price_fen=528800, price_fen=399900)
    publish(cli, write(tmp_path, doc))
    shown = cli.json("--now", DURING, "promo", "show", "double11-2013")
    assert shown["items"][0]["price_fen"] == 399900
    assert shown["items"][0]["list_price_fen"] == 528800


def test_toml_datetimes_and_naive_times_are_accepted(cli, tmp_path):
    text = to_toml(base()).replace('"2013-11-11T00:00:00+08:00"', "2013-11-11T00:00:00+08:00")
    text = text.replace('"2013-11-12T00:00:00+08:00"', '"2013-11-12T00:00:00"')  # WXSHOP_TZ
    publish(cli, write(tmp_path, text))
    shown = cli.json("promo", "show", "double11-2013")
    assert shown["starts_at"] == "2013-11-11T00:00:00+08:00"
    assert shown["ends_at"] == "2013-11-12T00:00:00+08:00"
    utc = cli.json("promo", "show", "double11-2013", env={"WXSHOP_TZ": "UTC"})
    assert utc["starts_at"] == "2013-11-10T16:00:00+00:00"  # stored in UTC, shown in the zone


def test_existing_products_need_no_product_fields(cli, tmp_path, backend):
    cli.json("product", "add", "--sku", "YX-1001", "--title", "iPhone", "--price", "5288",
             "--stock", "7")
    doc = base()
    doc["items"] = [{"sku": "YX-1001", "percent_off": "10", "stock": 5}]
    report = publish(cli, write(tmp_path, doc))
    assert ("product", "YX-1001") in entries(report, "unchanged")
    assert cli.json("product", "show", "YX-1001")["stock"] == 7
    shown = cli.json("--now", DURING, "promo", "show", "double11-2013")
    assert shown["items"][0]["price_fen"] == 475920


def test_product_stock_in_the_file_sets_the_products_own_stock(cli, tmp_path):
    doc = base()
    doc["items"][0]["product_stock"] = 12
    publish(cli, write(tmp_path, doc))
    assert cli.json("product", "show", "YX-1001")["stock"] == 12
    doc["items"][0]["product_stock"] = 10
    report = publish(cli, write(tmp_path, doc, "v2.toml"))
    assert entries(report, "changed") == {("product", "YX-1001", "stock", "12", "10")}


# ------------------------------------------------------------------ statuses


@pytest.mark.parametrize(("now", "status"), [
    (BEFORE, "scheduled"),
    ("2013-11-11T00:00:00+08:00", "live"),  # starts_at is inside the window
    (DURING, "live"),
    ("2013-11-11T23:59:59+08:00", "live"),
    (AFTER, "ended"),  # ends_at is not
    ("2014-01-01T00:00:00+08:00", "ended"),
])
def test_status_follows_the_clock(cli, tmp_path, backend, now, status):
    publish(cli, write(tmp_path, base()), now=BEFORE)
    assert cli.json("--now", now, "promo", "show", "double11-2013")["status"] == status
    listed = cli.json("--now", now, "promo", "list", "--all")
    assert [p["status"] for p in listed] == [status]


def test_sold_out_when_every_item_is_sold_out(cli, tmp_path, backend):
    publish(cli, write(tmp_path, base()))
    set_sold("double11-2013", "YX-1001", 100)
    set_sold("double11-2013", "YX-2001", 10)
    shown = cli.json("--now", DURING, "promo", "show", "double11-2013")
    assert shown["status"] == "live"  # one item is left
    assert {i["sku"]: i["stock_left"] for i in shown["items"]} == {
        "YX-1001": 0, "YX-2001": 0, "YX-3001": 1}
    set_sold("double11-2013", "YX-3001", 1)
    assert cli.json("--now", DURING, "promo", "show", "double11-2013")["status"] == "sold_out"
    # Before the window it is still scheduled, after it ended.
    assert cli.json("--now", BEFORE, "promo", "show", "double11-2013")["status"] == "scheduled"
    assert cli.json("--now", AFTER, "promo", "show", "double11-2013")["status"] == "ended"


# ------------------------------------------------------------------ rules once live


def test_a_price_change_once_live_needs_force(cli, tmp_path, backend):
    publish(cli, write(tmp_path, base()))
    doc = base()
    doc["items"][0]["price"] = "3899.00"
    path = write(tmp_path, doc, "v2.toml")
    before = dump()
    error = cli.fails(5, "--now", DURING, "promo", "publish", path)
    assert error["code"] == "price_change_needs_force"
    assert "items[0].price" in error["message"]
    assert dump() == before
    report = publish(cli, path, "--force")
    assert entries(report, "changed") >= {("item", "YX-1001", "price_fen", "399900", "389900")}


def test_before_the_start_prices_change_freely(cli, tmp_path):
    publish(cli, write(tmp_path, base()), now=BEFORE)
    doc = base()
    doc["items"][0]["price"] = "3899.00"
    assert publish(cli, write(tmp_path, doc, "v2.toml"), now=BEFORE)["any_change"] is True


def test_a_list_price_change_that_moves_a_live_percent_price_needs_force(cli, tmp_path):
    publish(cli, write(tmp_path, base()))
    doc = base()
    doc["items"][1]["list_price"] = "2099.99"
    error = cli.fails(5, "--now", DURING, "promo", "publish", write(tmp_path, doc, "v2.toml"))
    assert error["code"] == "price_change_needs_force"


def test_stock_never_goes_below_what_is_sold(cli, tmp_path, backend):
    publish(cli, write(tmp_path, base()))
    set_sold("double11-2013", "YX-1001", 40)
    doc = base()
    doc["items"][0]["stock"] = 39
    path = write(tmp_path, doc, "v2.toml")
    before = dump()
    error = cli.fails(5, "--now", DURING, "promo", "publish", path)
    assert error["code"] == "stock_below_sold"
    assert "items[0].stock: 39 is below the 40 already sold" in error["message"]
    assert dump() == before
    doc["items"][0]["stock"] = 40  # exactly what is sold: allowed, and then sold out
    publish(cli, write(tmp_path, doc, "v3.toml"))
    shown = cli.json("--now", DURING, "promo", "show", "double11-2013")
    assert shown["items"][0]["stock_left"] == 0


def test_items_with_sales_cannot_be_removed(cli, tmp_path, backend):
    publish(cli, write(tmp_path, base()))
    set_sold("double11-2013", "YX-3001", 1)
    doc = base()
    del doc["items"][2]
    before = dump()
    error = cli.fails(5, "--now", DURING, "promo", "publish", write(tmp_path, doc, "v2.toml"))
    assert error["code"] == "item_has_sales"
    assert "YX-3001" in error["message"]
    assert dump() == before


def test_every_conflict_is_listed(cli, tmp_path):
    publish(cli, write(tmp_path, base()))
    set_sold("double11-2013", "YX-1001", 5)
    set_sold("double11-2013", "YX-3001", 1)
    doc = base()
    doc["items"][0]["stock"] = 1
    doc["items"][1]["percent_off"] = 30
    del doc["items"][2]
    result = cli("--now", DURING, "promo", "publish", write(tmp_path, doc, "v2.toml"))
    assert result.exit_code == 5
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("items[0].stock: 1 is below the 5 already sold")
    assert lines[1].startswith("items[1].percent_off: changes the price of YX-2001")
    assert lines[2].startswith("items: YX-3001")
    assert lines[3].startswith("error: ")


def test_a_list_price_below_another_promotions_price_is_refused(cli, tmp_path):
    publish(cli, write(tmp_path, base()))
    doc = base()
    doc["code"] = "double12-2013"
    doc["items"] = [dict(base()["items"][0], list_price="3000.00", price="2999.00")]
    error = cli.fails(5, "--now", DURING, "promo", "publish", write(tmp_path, doc, "d12.toml"))
    assert error["code"] == "list_price_below_promo"
    assert "double11-2013" in error["message"]


def test_an_archived_promotion_cannot_be_republished(cli, tmp_path):
    path = write(tmp_path, base())
    publish(cli, path)
    cli.json("promo", "archive", "double11-2013")
    error = cli.fails(5, "--now", DURING, "promo", "publish", path)
    assert error["code"] == "promo_archived"


def test_an_unpublished_promotion_is_published_again_by_its_file(cli, tmp_path):
    path = write(tmp_path, base())
    publish(cli, path, now=BEFORE)
    cli.json("promo", "unpublish", "double11-2013")
    report = publish(cli, path, now=BEFORE)
    assert entries(report, "changed") == {
        ("promo", "double11-2013", "state", '"draft"', '"published"')}


# ------------------------------------------------------------------ malformed files


def _item(**changes: Any) -> dict[str, Any]:
    doc = base()
    doc["items"][0].update(changes)
    return doc


def _without(key: str) -> dict[str, Any]:
    doc = base()
    doc["items"][0].pop(key)
    return doc


def _top(**changes: Any) -> dict[str, Any]:
    doc = base()
    doc.update(changes)
    return doc


def _two_prices() -> dict[str, Any]:
    return _item(percent_off=10)


def _duplicate_sku() -> dict[str, Any]:
    doc = base()
    doc["items"][2]["sku"] = "YX-1001"
    return doc


MALFORMED = {
    "unknown top key": (_top(colour="red"), "colour: unknown key"),
    "invisible title": (_top(title="双11\u200b精选"),
                        "title: contains a control or invisible character (U+200B"),
    "bidi item title": (_item(title="iPhone\u202e5s"),
                        "items[0].title: contains a control or invisible character (U+202E"),
    "spaced percent": (_item(percent_off=" 20", price=None), "items[0].percent_off: not a "),
    "unknown item key": (_item(colour="red"), "items[0].colour: unknown key"),
    "bad time": (_top(starts_at="tomorrow"), "starts_at: not an ISO 8601 time"),
    "time of the wrong type": (_top(ends_at=20131112), "ends_at: expected an ISO 8601 time"),
    "ends before starts": (_top(ends_at="2013-11-10T00:00:00+08:00"),
                           "ends_at: not after starts_at"),
    "ends equal to starts": (_top(ends_at="2013-11-11T00:00:00+08:00"),
                             "ends_at: not after starts_at"),
    "bad price": (_item(price="abc"), "items[0].price: not an amount of yuan"),
    "negative price": (_item(price="-1.00"), "items[0].price: must not be negative"),
    "full-width digits": (_item(price="３９９９"), "items[0].price: not an amount of yuan"),
    "more than two decimals": (_item(price="3999.001"), "items[0].price: more than two decimals"),
    "float price": (_item(price=3999.0), "items[0].price: floats are refused"),
    "integer yuan": (_item(price=3999), "items[0].price: expected a string of yuan"),
    "float list price": (_item(list_price=5288.5), "items[0].list_price: floats are refused"),
    "list price twice": (_item(list_price_fen=528800),
                         "items[0].list_price: give list_price or list_price_fen, not both"),
    "string in a fen field": (_item(list_price=None, list_price_fen="528800"),
                              "items[0].list_price_fen: expected a whole number of fen"),
    "negative stock": (_item(stock=-1), "items[0].stock: must not be negative"),
    "float stock": (_item(stock=1.5), "items[0].stock: expected a whole number"),
    "missing stock": (_without("stock"), "items[0].stock: required"),
    "zero per-buyer limit": (_item(per_buyer_limit=0), "items[0].per_buyer_limit: must be"),
    "unknown region": (_top(regions=["310000", "999999"]),
                       "regions[1]: unknown region code '999999'"),
    "region as a number": (_top(regions=[310000]), "regions[0]: expected a region code"),
    "duplicate region": (_top(regions=["310000", "310000"]), "regions[1]: '310000' is listed"),
    "duplicate SKU": (_duplicate_sku(), "items[2].sku: 'YX-1001' is listed twice (also items[0])"),
    "bad SKU": (_item(sku="iPhone 5s"), "items[0].sku: not a SKU"),
    "price zero": (_item(price="0.00"), "items[0].price: must be at least 0.01"),
    "amount off the whole price": (_item(price=None, amount_off="5288.00"),
                                   "items[0].amount_off: 5288.00 off leaves a price below 0.01"),
    "above list price": (_item(price="6000.00"),
                         "items[0].price: 6000.00 is above the list price 5288.00"),
    "percent off 100": (_top(items=[dict(base()["items"][1], percent_off=100)]),
                        "items[0].percent_off: 100 is out of range"),
    "percent off 0": (_top(items=[dict(base()["items"][1], percent_off=0)]),
                      "items[0].percent_off: 0 is out of range"),
    "percent off float": (_top(items=[dict(base()["items"][1], percent_off=12.5)]),
                          "items[0].percent_off: floats are refused"),
    "percent off three decimals": (_top(items=[dict(base()["items"][1], percent_off="1.125")]),
                                   "items[0].percent_off: more than two decimals"),
    "two price fields": (_two_prices(), "items[0].percent_off: two price fields"),
    "no price": (_without("price"), "items[0]: no price"),
    "no items": (_top(items=[]), "items: at least one item"),
    "missing code": ({k: v for k, v in base().items() if k != "code"}, "code: required"),
    "bad code": (_top(code="double 11"), "code: not a promotion code"),
    "notify not a boolean": (_top(notify="yes"), "notify: expected true or false"),
    "multi-line title": (_item(title="a\nb"), "items[0].title: must be one line"),
    "bad image URL": (_item(image_url="img.example/x.jpg"), "items[0].image_url: not an http"),
}


def _clean(document: dict[str, Any]) -> dict[str, Any]:
    for item in document.get("items", []):
        for key in [k for k, v in item.items() if v is None]:
            del item[key]
    return document


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_each_malformed_file_exits_3_with_its_key_path_and_changes_nothing(
        cli, tmp_path, backend, case):
    document, expected = MALFORMED[case]
    publish(cli, write(tmp_path, base(), "good.toml"))  # a database with data in it
    before = dump()
    for name in ("bad.toml", "bad.json"):
        path = write(tmp_path, _clean(copy.deepcopy(document)), name)
        result = cli("--now", DURING, "promo", "publish", path)
        assert result.exit_code == 3, (name, result.exit_code, result.stderr)
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert any(line.startswith(expected) for line in lines[:-1]), (name, lines)
        assert lines[-1].startswith("error: ") and "mistake" in lines[-1]
        assert dump() == before


def test_every_mistake_is_listed_one_per_line(cli, tmp_path, wx_env):
    doc = base()
    doc["starts_at"] = "soon"
    doc["regions"] = ["999999"]
    doc["items"][0]["price"] = "3999.001"
    doc["items"][1]["stock"] = -3
    doc["items"][2]["sku"] = "YX-1001"
    doc["items"][2]["bogus"] = 1
    result = cli("promo", "publish", write(tmp_path, doc))
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert lines[:-1] == [
        "starts_at: not an ISO 8601 time: 'soon'",
        "regions[0]: unknown region code '999999'",
        "items[0].price: more than two decimals",
        "items[1].stock: must not be negative",
        "items[2].sku: 'YX-1001' is listed twice (also items[0])",
        "items[2].bogus: unknown key",
    ]
    assert lines[-1].startswith("error: ") and "6 mistakes" in lines[-1]
    # Checked before the database is opened: nothing was created at all.
    assert not (wx_env / "wxshop.db").exists()


def test_json_errors_carry_every_mistake_with_its_location(cli, tmp_path):
    doc = base()
    doc["items"][0]["price"] = "3999.001"
    doc["items"][1]["stock"] = -1
    error = cli.fails(3, "promo", "publish", write(tmp_path, doc))
    assert error["code"] == "invalid_promo_file"
    assert error["location"] == "items[0].price"
    assert error["details"] == ["items[0].price: more than two decimals",
                                "items[1].stock: must not be negative"]
    assert error["mistakes"][1] == {"location": "items[1].stock",
                                    "message": "must not be negative"}


def test_mistakes_that_need_the_catalog_are_listed_too(cli, tmp_path, backend):
    publish(cli, write(tmp_path, base()))
    before = dump()
    doc = base()
    doc["items"][0] = {"sku": "YX-1001", "price": "6000.00", "stock": 1}  # stored list 5288
    doc["items"].append({"sku": "YX-9999", "price": "1.00", "stock": 1})  # a new SKU
    result = cli("--now", DURING, "promo", "publish", write(tmp_path, doc, "v2.toml"))
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert lines[:-1] == [
        "items[0].price: 6000.00 is above the list price 5288.00",
        "items[3].title: required for a new product ('YX-9999' is not in the catalog)",
        "items[3].list_price: required for a new product ('YX-9999' is not in the catalog)",
    ]
    assert dump() == before


def test_invalid_input_is_reported_before_conflicts(cli, tmp_path):
    publish(cli, write(tmp_path, base()))
    set_sold("double11-2013", "YX-1001", 50)
    doc = base()
    doc["items"][0]["stock"] = 10  # a conflict ...
    doc["items"][1]["percent_off"] = 120  # ... and a mistake: the mistake wins
    error = cli.fails(3, "--now", DURING, "promo", "publish", write(tmp_path, doc, "v2.toml"))
    assert error["details"] == ["items[1].percent_off: 120 is out of range"]


@pytest.mark.parametrize(("text", "expected"), [
    ("code = \n", "line 1, column 8: not TOML"),
    ("{\"code\": }", "line 1, column 10: not JSON"),
    ("[1, 2]\n", "not TOML"),
])
def test_a_file_that_does_not_parse_is_named_with_its_line(cli, tmp_path, wx_env, text,
                                                           expected):
    result = cli("promo", "publish", write(tmp_path, text, "bad.txt"))
    assert result.exit_code == 3
    assert expected in result.stderr
    assert not (wx_env / "wxshop.db").exists()


def test_duplicate_json_keys_are_refused(cli, tmp_path):
    text = json.dumps(base())[:-1] + ', "title": "again"}'
    result = cli("promo", "publish", write(tmp_path, text, "dup.json"))
    assert result.exit_code == 3
    assert "title: the key appears twice" in result.stderr


def test_a_json_array_is_not_a_promotion(cli, tmp_path):
    error = cli.fails(3, "promo", "publish", write(tmp_path, "[]", "list.json"))
    assert error["code"] == "invalid_promo_file"


def test_a_directory_is_refused_as_a_file(cli, tmp_path, monkeypatch):
    for target in (str(tmp_path), str(tmp_path) + "/", "."):
        monkeypatch.chdir(tmp_path)
        error = cli.fails(2, "promo", "publish", target)
        assert error["code"] == "invalid_file"
        assert "is a directory" in error["message"] and error["hint"]
    # A directory named like a code: the promotion when it exists, else the directory.
    (tmp_path / "double11-2013").mkdir()
    error = cli.fails(2, "promo", "publish", "double11-2013")
    assert (error["code"], "is a directory" in error["message"]) == ("invalid_file", True)
    publish(cli, write(tmp_path, base()))
    assert publish(cli, "double11-2013")["any_change"] is False


def test_dash_reads_the_promotion_file_from_stdin(cli, tmp_path, backend):
    """`promo publish -`: TOML, or JSON when it starts with `{`; same checks, same report."""
    toml = to_toml(base())
    dry = cli.json("--now", DURING, "promo", "publish", "-", "--dry-run", input=toml)
    assert dry["dry_run"] is True and dry["any_change"] is True
    assert cli.json("promo", "list", "--all") == []
    report = cli.json("--now", DURING, "promo", "publish", "-", input=toml)
    assert report["status"] == "live" and len(report["created"]) == 7
    again = cli.json("--now", DURING, "promo", "publish", "-",
                     input=json.dumps(base(), ensure_ascii=False))
    assert again["any_change"] is False
    # Mistakes name stdin and their key paths, as for a file.
    doc = base()
    doc["items"][0]["price"] = "3999.001"
    error = cli.fails(3, "promo", "publish", "-", input=to_toml(doc))
    assert error["code"] == "invalid_promo_file"
    assert error["message"].startswith("<stdin>: 1 mistake")
    assert error["details"] == ["items[0].price: more than two decimals"]
    error = cli.fails(3, "promo", "publish", "-", input="{not json")
    assert error["details"][0].startswith("line 1, column 2: not JSON")
    # Nothing on stdin is a usage error.
    error = cli.fails(2, "promo", "publish", "-", input="")
    assert error["code"] == "missing_value" and "stdin" in error["message"]


def test_an_unreadable_file_is_a_usage_error(cli, tmp_path, monkeypatch):
    path = Path(write(tmp_path, base()))
    path.chmod(0)
    real_open = Path.open

    def open_(self, *args, **kwargs):
        # Root (as in CI) reads a mode-0 file anyway: refuse it as the kernel would for others.
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_)
    error = cli.fails(2, "promo", "publish", str(path))
    assert error["code"] == "invalid_file" and "cannot read" in error["message"]


def test_a_target_that_is_neither_file_nor_code_is_not_found(cli, tmp_path):
    error = cli.fails(4, "promo", "publish", str(tmp_path / "missing.toml"))
    assert error["code"] == "promo_not_found"
    error = cli.fails(4, "promo", "publish", "no-such-code")
    assert error["code"] == "promo_not_found"


# ------------------------------------------------------------------ fixtures


def test_fixture_ops_add_products_and_publish_inline_promotions(cli, tmp_path, backend):
    doc = base()
    doc["items"] = [{"sku": "YX-1001", "percent_off": 10, "stock": 5, "per_buyer_limit": 1}]
    fixture = write(tmp_path, json.dumps({"steps": [
        {"name": "iphone", "op": "product.add",
         "args": {"sku": "YX-1001", "title": "Apple iPhone 5s", "price": "5288.00",
                  "stock": 3, "image_url": "https://img.example/yx-1001.jpg"}},
        {"name": "d11", "op": "promo.publish", "args": doc},
    ]}), "f.json")
    assert cli.json("--now", DURING, "fixtures", "load", fixture) == {
        "iphone": "YX-1001", "d11": "double11-2013"}
    shown = cli.json("--now", DURING, "promo", "show", "double11-2013")
    assert shown["status"] == "live" and shown["items"][0]["price_fen"] == 475920
    # Applied again: skipped by name, nothing changes.
    assert cli.json("--now", DURING, "fixtures", "load", fixture)["d11"] == "double11-2013"

    from wxshop_cli.core.fixtures import apply_steps, load_steps

    results = apply_steps(open_db(), load_steps(fixture), dt.datetime.fromisoformat(DURING))
    item_id = shown["items"][0]["id"]
    assert results["d11"]["items"] == {"YX-1001": item_id}
    assert results["d11"]["item_YX_1001"] == item_id


def test_a_bad_promotion_step_names_the_step_and_every_mistake(cli, tmp_path):
    doc = base()
    doc["items"][0]["price"] = "1.001"
    doc["regions"] = ["1"]
    fixture = write(tmp_path, json.dumps({"steps": [
        {"name": "d11", "op": "promo.publish", "args": doc}]}), "f.json")
    error = cli.fails(3, "fixtures", "load", fixture)
    assert error["code"] == "fixture_step_failed" and error["step"] == "d11"
    assert "regions[0]: unknown region code '1'" in error["message"]
    assert "items[0].price: more than two decimals" in error["message"]


def test_the_shipped_double11_fixture(cli, backend):
    loaded = cli.json("--now", BEFORE, "fixtures", "load", "double11")
    assert loaded["double11"] == "double11-2013"
    promo = cli.json("--now", DURING, "promo", "show", "double11-2013")
    assert promo["title"] == "双11精选商品" and promo["status"] == "live"
    assert promo["starts_at"] == "2013-11-11T00:00:00+08:00"
    assert promo["ends_at"] == "2013-11-12T00:00:00+08:00"
    items = promo["items"]
    assert len(items) == 12
    assert any(item["stock_total"] == 1 for item in items)
    assert any(item["per_buyer_limit"] == 1 for item in items)
    assert {item["price_rule"] for item in items} == {"price", "percent_off", "amount_off"}
    for item in items:
        assert 1 <= item["price_fen"] < item["list_price_fen"]
        assert item["image_url"] == f"https://img.example/{item['sku'].lower()}.jpg"
        assert item["description"] and "\n" not in item["description"]
    assert len(cli.json("product", "list")) == 12
    # The fixture's buyers in the target regions got the push; the one in Beijing did not.
    assert [m["kind"] for m in cli.json("--buyer", "lilei", "inbox")] == ["promo"]
    assert cli.json("--buyer", "zhangwei", "inbox") == []
