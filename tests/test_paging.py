"""Paging on every list (issue 14, item 3; docs/decisions-cli.md "Paging"): `--limit N`
(default 100, 1-1000), `--after CURSOR` (keyset: stable under inserts), and `--page-info`
for scripts; a cut list always says so on stderr. A script pages through 5,000 orders on
both engines and sees each exactly once, in order."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import insert

from tests import shop
from wxshop_cli.db.models import Discrepancy, InboxMessage, Order, ReconcileRun

T0 = shop.WINDOW_START


def _orders(db, buyer_id: int, card: str, address: str, numbers: range, *,
            start: dt.datetime = T0) -> list[dict]:
    """Orders straight into the table: ten share each second (ties broken by number)."""
    rows = [{"order_no": f"D{n:08d}", "buyer_id": buyer_id, "sku": "YX-1", "title": "坚果",
             "qty": 1, "unit_price_fen": 100, "amount_fen": 100, "refunded_fen": 0,
             "card_id": card, "address_id": address, "region_code": "310000",
             "status": "paid", "stock_returned": False,
             "created_at": start + dt.timedelta(seconds=n // 10)} for n in numbers]
    with db.transaction() as session:
        session.execute(insert(Order), rows)
    return rows


def _page_through(cli, *args: str, limit: int) -> tuple[list[str], int]:
    """What a script does: --page-info pages until next_cursor is null."""
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        extra = ("--after", cursor) if cursor else ()
        page = cli.json(*args, "--limit", str(limit), "--page-info", *extra)
        assert set(page) == {"data", "has_more", "next_cursor"}
        assert len(page["data"]) <= limit
        seen += [row["order_no"] for row in page["data"]]
        pages += 1
        assert page["has_more"] == (page["next_cursor"] is not None)
        if not page["has_more"]:
            return seen, pages
        cursor = page["next_cursor"]


def test_a_script_pages_through_5000_orders_each_once_in_order(cli, backend):
    cli.json("db", "upgrade")
    db = shop.open_db()
    me = shop.shopper(db, "me")
    rows = _orders(db, me["buyer_id"], me["card"], me["address"], range(5000))
    shop.forget()
    expected = [r["order_no"] for r in sorted(rows, key=lambda r: (r["created_at"],
                                                                   r["order_no"]),
                                              reverse=True)]
    seen, pages = _page_through(cli, "orders", "list", "--all", limit=1000)
    assert seen == expected and pages == 5
    mine, _ = _page_through(cli, "orders", "list", "--status", "paid", limit=333)
    assert mine == expected


def test_orders_inserted_while_paging_never_shift_the_pages(cli, backend):
    cli.json("db", "upgrade")
    db = shop.open_db()
    me = shop.shopper(db, "me")
    rows = _orders(db, me["buyer_id"], me["card"], me["address"], range(250))
    shop.forget()
    first = cli.json("orders", "list", "--all", "--limit", "100", "--page-info")
    db = shop.open_db()  # newer orders arrive between the pages
    _orders(db, me["buyer_id"], me["card"], me["address"], range(250, 300),
            start=T0 + dt.timedelta(hours=1))
    shop.forget()
    seen = [r["order_no"] for r in first["data"]]
    cursor = first["next_cursor"]
    while cursor:
        page = cli.json("orders", "list", "--all", "--after", cursor, "--page-info")
        seen += [r["order_no"] for r in page["data"]]
        cursor = page["next_cursor"]
    assert sorted(seen) == sorted(r["order_no"] for r in rows)
    assert len(seen) == len(set(seen)) == 250


def test_no_silent_cap_the_array_stays_and_stderr_names_the_next_page(cli):
    db = shop.open_db()
    me = shop.shopper(db, "me")
    _orders(db, me["buyer_id"], me["card"], me["address"], range(1500))
    shop.forget()
    result = cli("--json", "orders", "list", "--all")
    assert result.exit_code == 0
    listed = json.loads(result.stdout)
    assert isinstance(listed, list) and len(listed) == 100  # the default
    (note,) = result.stderr.strip().splitlines()
    assert note.startswith("more: 100 shown; next page: --after c1.")
    cursor = note.rsplit(" ", 1)[1]
    nxt = cli.json("orders", "list", "--all", "--after", cursor, "--limit", "1000")
    assert len(nxt) == 1000 and nxt[0]["order_no"] < listed[-1]["order_no"]
    # --quiet drops talk, never the note of a cut list; TSV pipes get it too.
    quiet = cli("--quiet", "orders", "list", "--all", "--limit", "1000", "--after", cursor)
    assert quiet.stderr.startswith("more: 1,000 shown; next page: --after c1.")
    assert len(quiet.stdout.strip().splitlines()) == 1 + 1000  # header and rows
    last = cli("orders", "list", "--all", "--limit", "1000", "--after",
               quiet.stderr.strip().rsplit(" ", 1)[1])
    assert last.exit_code == 0 and last.stderr == ""  # the last page says nothing
    assert len(last.stdout.strip().splitlines()) == 1 + 400


@pytest.mark.parametrize("value", ["0", "-1", "1001", "abc", "1.5", ""])
def test_a_bad_limit_is_a_usage_error(cli, value):
    result = cli("orders", "list", "--limit", value)
    assert result.exit_code == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: --limit")
    error = cli.fails(2, "product", "list", "--limit", value)
    assert error["code"] in ("invalid_page_size", "usage")


def _cursor_of(cli, *args: str) -> str:
    page = cli.json(*args, "--limit", "1", "--page-info")
    assert page["next_cursor"], page
    return page["next_cursor"]


def test_bad_cursors_are_usage_errors_that_change_nothing(cli):
    db = shop.open_db()
    me = shop.shopper(db, "me")
    _orders(db, me["buyer_id"], me["card"], me["address"], range(3))
    shop.product(db, "A-1")
    shop.product(db, "A-2")
    shop.forget()
    products = _cursor_of(cli, "product", "list")
    orders = _cursor_of(cli, "orders", "list")
    for bad in ("garbage", "c1.!!!", "c1." + "A" * 40, "c1.WzFd", products, "c1." + "x" * 2000):
        result = cli("orders", "list", "--after", bad)
        assert result.exit_code == 2 and result.stdout == "", (bad, result.stderr)
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("error: --after: ")
        error = cli.fails(2, "orders", "list", "--after", bad)
        assert error["code"] == "invalid_cursor" and error["param"] == "--after"
    error = cli.fails(2, "product", "list", "--after", orders)
    assert "another list ('orders')" in error["message"]
    # A buyer with no rows at all still checks the cursor.
    assert cli.fails(2, "--buyer", "nobody", "inbox", "--after", orders)["code"] == \
        "invalid_cursor"


# ---------------------------------------------------------------- every list pages


def _store(db) -> dict:
    """Three rows in every list."""
    me = shop.shopper(db, "me")
    shop.card(db, me["buyer_id"], default=False)
    shop.card(db, me["buyer_id"], default=False)
    shop.address(db, me["buyer_id"], default=False)
    shop.address(db, me["buyer_id"], "440000", default=False)
    for sku in ("A-1", "A-2", "A-3"):
        shop.product(db, sku, 9900, stock=10)
    for n, code in enumerate(("d11a", "d11b", "d11c")):
        shop.promo(db, code, [{"sku": f"A-{n + 1}", "price_fen": 100, "stock": 5}])
    with db.transaction() as session:
        for n in range(3):
            session.add(InboxMessage(id=f"msg_{n:04d}", buyer_id=me["buyer_id"], kind="sms",
                                     text=f"code {n}", created_at=T0))
            session.add(ReconcileRun(id=f"run_{n:04d}", content_sha256="0" * 64,
                                     bill_date=dt.date(2013, 11, 11), bill_type="ALL",
                                     rows=0, matched=0, created_at=T0))
        session.flush()
        for n, line in enumerate((None, 7, 3)):
            session.add(Discrepancy(id=f"dsc_{n:04d}", run_id="run_0000", kind="missing",
                                    status="open", line_no=line, created_at=T0))
    return me


LISTS = {
    "orders list": (("orders", "list"), "order_no"),
    "product list": (("product", "list"), "sku"),
    "promo list --all": (("promo", "list", "--all"), "code"),
    "promo list": (("promo", "list"), "code"),
    "cards list": (("cards", "list"), "id"),
    "address list": (("address", "list"), "id"),
    "inbox --all": (("inbox", "--all"), "id"),
    "reconciliations list": (("reconciliations", "list"), "run_id"),
}


@pytest.mark.parametrize("name", sorted(LISTS))
def test_every_list_pages_one_row_at_a_time(cli, backend, name):
    cli.json("db", "upgrade")
    db = shop.open_db()
    me = _store(db)
    _orders(db, me["buyer_id"], me["card"], me["address"], range(3))
    shop.forget()
    args, key = LISTS[name]
    everything = [row[key] for row in cli.json("--now", shop.DURING, *args)]
    assert len(everything) == 3
    seen, cursor = [], None
    for _ in range(3):
        extra = ("--after", cursor) if cursor else ()
        page = cli.json("--now", shop.DURING, *args, "--limit", "1", "--page-info", *extra)
        seen += [row[key] for row in page["data"]]
        cursor = page["next_cursor"]
    assert seen == everything and cursor is None and page["has_more"] is False


def test_a_runs_discrepancies_page(cli, backend):
    cli.json("db", "upgrade")
    _store(shop.open_db())
    shop.forget()
    whole = cli.json("reconciliations", "show", "run_0000")
    ids = [d["id"] for d in whole["discrepancies"]]
    assert ids == ["dsc_0002", "dsc_0001", "dsc_0000"]  # bill-line order, the book's last
    first = cli.json("reconciliations", "show", "run_0000", "--limit", "2", "--page-info")
    assert first["data"]["run_id"] == "run_0000" and first["has_more"]
    assert [d["id"] for d in first["data"]["discrepancies"]] == ids[:2]
    rest = cli.json("reconciliations", "show", "run_0000", "--limit", "2", "--after",
                    first["next_cursor"])
    assert [d["id"] for d in rest["discrepancies"]] == ids[2:]
    result = cli("--json", "reconciliations", "show", "run_0000", "--limit", "1")
    assert result.stderr.startswith("more: 1 shown; next page: --after c1.")


def test_the_help_defaults_are_the_cores():
    from wxshop_cli import paging_options as cli_module
    from wxshop_cli.core import paging

    option = cli_module.Limit.__metadata__[0]
    assert "1 to 1000" in option.help and paging.MAX_LIMIT == 1000
    assert paging.DEFAULT_LIMIT == 100
