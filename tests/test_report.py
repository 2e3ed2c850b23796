"""`wxshop report sales` (SPEC section 10), on SQLite and PostgreSQL, with concrete numbers.

The day (Beijing): `me` (Shanghai) buys the phone at 10:00 (¥3,999.00; ¥1,000.00 refunded
later) and three snack boxes at 10:05 (¥237.60); `gd` (Guangdong) buys one snack box at 11:30
(¥79.20) and two power banks at list price at 00:30 the next day (¥398.00); `li`'s card is
declined (never counted)."""

from __future__ import annotations

import pytest

from tests import billing, shop
from tests.billing import buy, ok


@pytest.fixture
def sales_day(cli, backend):
    day = billing.open_day(cli)
    shop.shopper(day["db"], "gd", region="440000")
    items = day["items"]
    phone = buy(cli, items["YX-1001"], now="2013-11-11T10:00:00+08:00")
    buy(cli, items["YX-2001"], "--qty", "3", now="2013-11-11T10:05:00+08:00")
    buy(cli, items["YX-2001"], buyer="gd", now="2013-11-11T11:30:00+08:00")
    buy(cli, "YX-3001", "--qty", "2", buyer="gd", now="2013-11-12T00:30:00+08:00")
    buy(cli, items["YX-2001"], buyer="li", now="2013-11-11T12:00:00+08:00", code=6)
    billing.refund(cli, phone["order_no"], "1000", "2013-11-11T15:00:00+08:00")
    return day


def report(cli, *args, env=None):
    return ok(cli("--json", "report", "sales", *args, env=env))


def brief(rows):
    return [(r["key"], r["orders"], r["units"], r["gmv_fen"], r["avg_order_fen"])
            for r in rows]


def test_by_promo(cli, sales_day):
    rows = report(cli, "--by", "promo")
    assert brief(rows) == [("double11", 3, 5, 331580, 110527), (None, 1, 2, 39800, 39800)]
    assert rows[0]["label"] == "双11精选商品"
    assert rows[0]["paid_fen"] == 399900 + 23760 + 7920 and rows[0]["refunded_fen"] == 100000
    assert report(cli) == rows  # promo is the default


def test_by_item_puts_the_best_sellers_first(cli, sales_day):
    rows = report(cli, "--by", "item")
    assert brief(rows) == [("YX-2001", 2, 4, 31680, 15840), ("YX-3001", 1, 2, 39800, 39800),
                           ("YX-1001", 1, 1, 299900, 299900)]
    assert rows[0]["label"] == "三只松鼠 坚果礼盒"


def test_by_region(cli, sales_day):
    rows = report(cli, "--by", "region")
    assert brief(rows) == [("310000", 2, 4, 323660, 161830), ("440000", 2, 3, 47720, 23860)]
    assert [r["label"] for r in rows] == ["上海市", "广东省"]


def test_by_hour_and_day_in_the_display_zone(cli, sales_day):
    assert brief(report(cli, "--by", "hour")) == [
        ("2013-11-11T10:00:00+08:00", 2, 4, 323660, 161830),
        ("2013-11-11T11:00:00+08:00", 1, 1, 7920, 7920),
        ("2013-11-12T00:00:00+08:00", 1, 2, 39800, 39800)]
    assert brief(report(cli, "--by", "day")) == [
        ("2013-11-11", 3, 5, 331580, 110527), ("2013-11-12", 1, 2, 39800, 39800)]
    # In UTC the whole sale falls on the 11th (00:30 Beijing is 16:30 UTC the day before).
    utc = {"WXSHOP_TZ": "UTC"}
    assert brief(report(cli, "--by", "day", env=utc)) == [("2013-11-11", 4, 7, 371380, 92845)]
    assert [r["key"] for r in report(cli, "--by", "hour", env=utc)] == [
        "2013-11-11T02:00:00+00:00", "2013-11-11T03:00:00+00:00", "2013-11-11T16:00:00+00:00"]
    # A zone half an hour off: quarter-hour buckets fold exactly.
    india = report(cli, "--by", "hour", env={"WXSHOP_TZ": "Asia/Kolkata"})
    assert [(r["key"], r["orders"]) for r in india] == [
        ("2013-11-11T07:00:00+05:30", 2), ("2013-11-11T09:00:00+05:30", 1),
        ("2013-11-11T22:00:00+05:30", 1)]


def test_a_date_filters_by_payment_day(cli, sales_day):
    assert brief(report(cli, "--by", "item", "--date", "2013-11-12")) == [
        ("YX-3001", 1, 2, 39800, 39800)]
    assert report(cli, "--by", "item", "--date", "2013-11-13") == []
    utc = report(cli, "--by", "item", "--date", "2013-11-11", env={"WXSHOP_TZ": "UTC"})
    assert sum(r["orders"] for r in utc) == 4


def test_a_pipe_gets_tsv(cli, sales_day):
    result = cli("report", "sales", "--by", "region")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "key\tlabel\torders\tunits\tpaid\trefunded\tgmv\tavg_order",
        "310000\t上海市\t2\t4\t4236.60\t1000.00\t3236.60\t1618.30",
        "440000\t广东省\t2\t3\t477.20\t0.00\t477.20\t238.60"]


def test_a_terminal_gets_a_bar_chart(cli, sales_day, monkeypatch):
    from wxshop_cli import output

    monkeypatch.setattr(output, "stdout_is_terminal", lambda: True)
    result = cli("report", "sales", "--by", "item", env={"COLUMNS": "120"})
    assert result.exit_code == 0
    chart = result.stdout
    assert "Sales by item" in chart and "█" in chart
    assert chart.index("三只松鼠") < chart.index("小米") < chart.index("Apple")
    assert "¥3,713.80" in chart  # the total GMV in the footer
    bars = {line.split("│")[1].strip(): line.count("█") for line in chart.splitlines()
            if line.startswith("│") and "█" in line}
    assert bars["Apple iPhone 5s 16G"] == 32 and bars["三只松鼠 坚果礼盒"] == 3


def test_no_sales(cli, backend):
    shop.open_db()
    assert report(cli, "--by", "day") == []
    assert cli("report", "sales").stdout.splitlines() == [
        "key\tlabel\torders\tunits\tpaid\trefunded\tgmv\tavg_order"]


def test_a_bad_grouping_is_a_usage_error(cli):
    result = cli("--json", "report", "sales", "--by", "weekday")
    assert result.exit_code == 2 and result.stdout == ""
