"""`wxshop bill export` (SPEC section 9, docs/bills-wechat.md), on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest
from sqlalchemy import update

from tests import billing, shop
from tests.billing import export, ok, rows_of
from wxshop_cli.core.billformat import ALL_COLUMNS, REFUND_COLUMNS, SUCCESS_COLUMNS
from wxshop_cli.db.models import GatewayPayment


@pytest.fixture
def day(cli, backend):
    return billing.paid_day(cli)


def lines(path) -> list[str]:
    data = path.read_bytes()
    assert data.endswith(b"\r\n") and b"\n" not in data.replace(b"\r\n", b"")
    return data.decode("utf-8").split("\r\n")[:-1]


def test_the_bill_has_the_bills_md_layout(cli, day, tmp_path):
    path = export(cli, tmp_path / "all.csv")
    phone, snacks, back = day["phone"], day["snacks"], day["refund"]
    gw_refund_id = rows_of(path)[1][2].refund_id
    assert len(gw_refund_id) == 29 and gw_refund_id.startswith("50")
    head = f"`{billing.APP_ID},`{billing.MCH_ID},`0,`,"
    assert lines(path) == [
        ",".join(ALL_COLUMNS),
        f"`2013-11-11 10:02:11,{head}`{phone['transaction_id']},`{phone['order_no']},"
        "`oWXSHOP_me,`JSAPI,`SUCCESS,`ICBC_DEBIT,`CNY,`3999.00,`0.00,`0,`0,`0.00,`0.00,`,`,"
        "`Apple iPhone 5s 16G,`,`23.99000,`0.60%,`3999.00,`0.00,`",
        f"`2013-11-11 10:05:40,{head}`{snacks['transaction_id']},`{snacks['order_no']},"
        "`oWXSHOP_me,`JSAPI,`SUCCESS,`ICBC_DEBIT,`CNY,`79.20,`0.00,`0,`0,`0.00,`0.00,`,`,"
        "`三只松鼠 坚果礼盒,`,`0.48000,`0.60%,`79.20,`0.00,`",
        f"`2013-11-11 15:30:00,{head}`{phone['transaction_id']},`{phone['order_no']},"
        f"`oWXSHOP_me,`JSAPI,`REFUND,`ICBC_DEBIT,`CNY,`0.00,`0.00,`{gw_refund_id},"
        f"`{back['refund_no']},`1000.00,`0.00,`ORIGINAL,`SUCCESS,`Apple iPhone 5s 16G,`,"
        "`-6.00000,`0.60%,`0.00,`1000.00,`",
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额",
        "`3,`4078.20,`1000.00,`0.00,`18.47000,`4078.20,`1000.00",
    ]


def test_json_report_of_what_was_written(cli, day, tmp_path):
    path = tmp_path / "all.csv"
    data = ok(cli("--json", "bill", "export", "--date", "2013-11-11", "-o", str(path)))
    assert data["path"] == str(path)
    assert (data["bill_date"], data["bill_type"], data["rows"]) == ("2013-11-11", "ALL", 3)
    assert (data["payments"], data["refunds"], data["gzip"]) == (2, 1, False)
    assert data["totals"] == {"settlement_fen": 407820, "refund_fen": 100000,
                              "coupon_refund_fen": 0, "fee_fen": 1847, "order_fen": 407820,
                              "requested_refund_fen": 100000}
    assert data["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert data["bytes"] == path.stat().st_size
    assert not list(tmp_path.glob(".*part"))  # written beside and renamed


def test_a_pipe_gets_one_tsv_row_without_json(cli, day, tmp_path):
    result = cli("bill", "export", "--date", "2013-11-11", "-o", str(tmp_path / "b.csv"))
    assert result.exit_code == 0
    header, row = result.stdout.splitlines()
    assert header.startswith("path\tbill_date\tbill_type\trows")
    assert row.split("\t")[:4] == [str(tmp_path / "b.csv"), "2013-11-11", "ALL", "3"]


@pytest.mark.parametrize("args", [[], ["-o", "-"]])
def test_stdout_is_the_default(cli, day, tmp_path, args):
    result = cli("bill", "export", "--date", "2013-11-11", *args)
    assert result.exit_code == 0
    export(cli, tmp_path / "all.csv")
    assert result.stdout_bytes == (tmp_path / "all.csv").read_bytes()


@pytest.mark.parametrize("args", [[], ["-o", "-"]])
def test_json_is_refused_when_the_bill_goes_to_stdout(cli, day, args):
    error = cli.fails(2, "bill", "export", "--date", "2013-11-11", *args)
    assert error["code"] == "json_with_stdout"
    result = cli("bill", "export", "--date", "2013-11-11", "--json", *args)
    assert result.exit_code == 2 and result.stdout == ""


def test_gzip(cli, day, tmp_path):
    plain = export(cli, tmp_path / "all.csv")
    data = ok(cli("--json", "bill", "export", "--date", "2013-11-11", "--gzip",
                  "-o", str(tmp_path / "all.csv.gz")))
    zipped = (tmp_path / "all.csv.gz").read_bytes()
    assert zipped[:2] == b"\x1f\x8b" and gzip.decompress(zipped) == plain.read_bytes()
    assert data["gzip"] is True
    assert data["sha256"] == hashlib.sha256(plain.read_bytes()).hexdigest()
    piped = cli("bill", "export", "--date", "2013-11-11", "--gzip")
    assert piped.exit_code == 0 and gzip.decompress(piped.stdout_bytes) == plain.read_bytes()


def test_success_bill(cli, day, tmp_path):
    path = export(cli, tmp_path / "s.csv", "--type", "success")
    got = lines(path)
    assert got[0] == ",".join(SUCCESS_COLUMNS) and len(got) == 5
    bill_type, rows = rows_of(path)
    assert bill_type == "SUCCESS" and [r.kind for r in rows] == ["payment", "payment"]
    assert got[-1] == "`2,`4078.20,`0.00,`0.00,`24.47000,`4078.20,`0.00"


def test_refund_bill(cli, day, tmp_path):
    path = export(cli, tmp_path / "r.csv", "--type", "REFUND")
    assert lines(path)[0] == ",".join(REFUND_COLUMNS)
    bill_type, rows = rows_of(path)
    assert bill_type == "REFUND" and len(rows) == 1
    (row,) = rows
    assert row.trade_time.isoformat(" ") == "2013-11-11 10:02:11"  # the payment's time
    assert row.refund_requested_at.isoformat(" ") == "2013-11-11 15:30:00"
    assert row.refund_succeeded_at.isoformat(" ") == "2013-11-11 15:30:00"
    assert (row.refund_no, row.refund_fen, row.fee_fen) == (
        day["refund"]["refund_no"], 100000, -600)


def test_days_are_beijing_days(cli, backend, tmp_path):
    shop_ = billing.open_day(cli)
    times = ["2013-11-10T23:59:59+08:00", "2013-11-11T00:00:00+08:00",
             "2013-11-11T23:59:59+08:00", "2013-11-12T00:00:00+08:00"]
    orders = [billing.buy(cli, "YX-3001", now=when) for when in times]
    bills = {day: [r.out_trade_no for r in rows_of(
        export(cli, tmp_path / f"{day}.csv", date=day))[1]]
        for day in ("2013-11-10", "2013-11-11", "2013-11-12")}
    numbers = [o["order_no"] for o in orders]
    assert bills == {"2013-11-10": numbers[:1], "2013-11-11": numbers[1:3],
                     "2013-11-12": numbers[3:]}
    # WXSHOP_TZ changes how times are shown, never the bill's day or times.
    again = cli("bill", "export", "--date", "2013-11-11", env={"WXSHOP_TZ": "UTC"})
    assert again.stdout_bytes == (tmp_path / "2013-11-11.csv").read_bytes()
    assert shop_["items"]


def test_a_refund_is_billed_on_its_own_day(cli, day, tmp_path):
    back = billing.refund(cli, day["snacks"]["order_no"], "10", "2013-11-12T08:00:00+08:00")
    _, rows = rows_of(export(cli, tmp_path / "d2.csv", date="2013-11-12"))
    assert [(r.kind, r.refund_no, r.trade_time.isoformat(" ")) for r in rows] == [
        ("refund", back["refund_no"], "2013-11-12 08:00:00")]
    _, first = rows_of(export(cli, tmp_path / "d1.csv"))
    assert back["refund_no"] not in {r.refund_no for r in first}


def test_a_payment_the_bank_timed_out_on_is_billed_as_success(cli, day, tmp_path):
    error = billing.buy(cli, day["items"]["YX-2001"], buyer="tm",
                        now="2013-11-11T12:00:00+08:00", code=9)
    _, rows = rows_of(export(cli, tmp_path / "all.csv"))
    row = next(r for r in rows if r.out_trade_no == error["order_no"])
    assert row.trade_state == "SUCCESS" and row.openid == "oWXSHOP_tm"
    with day["db"].transaction(read_only=True) as session:
        assert session.get(GatewayPayment, error["order_no"]).status == "PENDING"


def test_declined_payments_are_never_billed(cli, day, tmp_path):
    _, rows = rows_of(export(cli, tmp_path / "all.csv"))
    assert day["declined"] not in {r.out_trade_no for r in rows}


def test_product_titles_are_cleaned(cli, day, tmp_path):
    with day["db"].transaction() as session:
        session.execute(update(GatewayPayment).where(
            GatewayPayment.out_trade_no == day["snacks"]["order_no"]).values(
            product="坚果,礼盒 `特价`\r\n限量"))
    text = export(cli, tmp_path / "all.csv").read_text(encoding="utf-8")
    assert "`坚果 礼盒  特价   限量," in text


def test_an_empty_day(cli, backend, tmp_path):
    shop.open_db()
    path = export(cli, tmp_path / "empty.csv", date="2013-11-20")
    assert lines(path)[1:] == [
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额",
        "`0,`0.00,`0.00,`0.00,`0.00000,`0.00,`0.00"]


@pytest.mark.parametrize("args", [["--date", "2013-11-31"], ["--date", "11/11/2013"], [],
                                  ["--date", "2013-11-11", "--type", "NOPE"]])
def test_usage_errors(cli, args):
    result = cli("--json", "bill", "export", *args, "-o", "x.csv")
    assert result.exit_code == 2 and result.stdout == ""


def test_an_unwritable_target(cli, backend, tmp_path):
    shop.open_db()
    error = cli.fails(2, "bill", "export", "--date", "2013-11-11", "-o",
                      str(tmp_path / "no" / "such" / "dir.csv"))
    assert error["code"] == "bill_unwritable"
    error = cli.fails(2, "bill", "export", "--date", "2013-11-11", "-o", str(tmp_path))
    assert error["code"] == "bill_unwritable"


def test_many_rows_stream_out_and_read_back(cli, backend, tmp_path):
    """Thousands of gateway rows (written directly to the ledger) export in time order and
    validate, fetched in batches."""
    import datetime as dt

    from wxshop_cli.core import bill_export as bills
    from wxshop_cli.db.models import GatewayPayment as P

    db = shop.open_db()
    start = dt.datetime(2013, 11, 10, 16, 0, tzinfo=dt.UTC)
    with db.transaction() as session:
        session.add_all([P(out_trade_no=f"D2013111100{n:08d}", transaction_id=f"42{n:026d}",
                           openid="oWXSHOP_x", card_token="card_x", bank_code="CMB_CREDIT",
                           product="snack", amount_fen=100 + n, fee_fen=(100 + n) * 6 // 1000,
                           rate_ppm=6000, status="SUCCESS", created_at=start,
                           paid_at=start + dt.timedelta(seconds=(n * 7919) % 86400))
                         for n in range(5000)])
    path = tmp_path / "many.csv"
    with open(path, "wb") as out, db.transaction(read_only=True) as session:
        result = bills.write_bill(session, dt.date(2013, 11, 11), "ALL", out)
    assert result.payments == 5000
    _, rows = rows_of(path)
    times = [r.trade_time for r in rows]
    assert len(rows) == 5000 and times == sorted(times)
    assert json.dumps(result.public())
