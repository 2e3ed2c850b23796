"""`wxshop reconcile` and `reconciliations` (SPEC section 9), on SQLite and PostgreSQL.

Bills are exported by the CLI from a day of real purchases, then edited as an operator's
script would (rows removed, duplicated or changed, the summary recomputed); each planted
difference must be found as exactly its kind and nothing else."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pytest
from sqlalchemy import update

from tests import billing, shop
from tests.billing import DAY, copy, edit, export, payment, reconcile, runs, with_amount
from wxshop_cli.db.models import Buyer, GatewayRefund, Order, Refund

DATA = Path(__file__).parent / "data" / "bills"


@pytest.fixture
def day(cli, backend):
    return billing.paid_day(cli)


@pytest.fixture
def bill(cli, day, tmp_path):
    return export(cli, tmp_path / "all.csv")


def only(run, kind):
    """The run's single discrepancy, which must be of `kind`."""
    assert [d["kind"] for d in run["discrepancies"]] == [kind], run["discrepancies"]
    return run["discrepancies"][0]


# ------------------------------------------------------------------ clean bills


def test_an_exported_bill_reconciles_clean(cli, day, bill):
    result = cli("--json", "reconcile", str(bill))
    assert result.exit_code == 0, result.stderr
    run = json.loads(result.stdout)
    assert run["run_id"].startswith("run_")
    assert run["bill_date"] == DAY and run["bill_type"] == "ALL"
    assert (run["rows"], run["matched"], run["open"], run["deferred"]) == (3, 3, 0, 0)
    assert run["discrepancies"] == []
    assert run["replayed"] is False
    bill_side, book_side = run["totals"]["bill"], run["totals"]["book"]
    assert bill_side["payments"] == book_side["payments"] == 2
    assert bill_side["payment_fen"] == book_side["payment_fen"] == 399900 + 7920
    assert bill_side["refund_fen"] == book_side["refund_fen"] == 100000
    assert bill_side["net_fen"] == book_side["net_fen"] == 399900 + 7920 - 100000
    assert bill_side["fee_fen"] == 2399 + 48 - 600


@pytest.mark.parametrize("bill_type", ["SUCCESS", "REFUND"])
def test_success_and_refund_bills_reconcile_clean(cli, day, tmp_path, bill_type):
    path = export(cli, tmp_path / f"{bill_type}.csv", "--type", bill_type)
    run = reconcile(cli, path)
    assert run["bill_type"] == bill_type and run["open"] == 0
    assert run["rows"] == run["matched"] == (2 if bill_type == "SUCCESS" else 1)


def test_a_payment_refunded_the_next_day_matches_both_bills(cli, day, tmp_path):
    billing.refund(cli, day["snacks"]["order_no"], "79.20", "2013-11-12T09:00:00+08:00")
    first = reconcile(cli, export(cli, tmp_path / "d1.csv"))
    assert first["open"] == 0 and first["matched"] == 3
    success = reconcile(cli, export(cli, tmp_path / "d1s.csv", "--type", "SUCCESS"))
    assert success["open"] == 0
    second = reconcile(cli, export(cli, tmp_path / "d2.csv", date="2013-11-12"))
    assert second["bill_date"] == "2013-11-12"
    assert (second["rows"], second["matched"], second["open"]) == (1, 1, 0)
    assert second["totals"]["book"] == {"payments": 0, "payment_fen": 0, "refunds": 1,
                                        "refund_fen": 7920, "net_fen": -7920}


def test_gzip_and_stdin(cli, day, bill, tmp_path):
    zipped = export(cli, tmp_path / "all.csv.gz", "--gzip")
    assert gzip.decompress(zipped.read_bytes()) == bill.read_bytes()
    first = reconcile(cli, zipped)
    assert first["open"] == 0 and first["rows"] == 3
    # The same content (decompressed) from stdin is the same run.
    again = reconcile(cli, "-", input=bill.read_bytes())
    assert again["run_id"] == first["run_id"] and again["replayed"] is True
    assert again["content_sha256"] == first["content_sha256"]
    piped = reconcile(cli, "-", "--rerun", input=zipped.read_bytes())
    assert piped["source"] == "<stdin>" and piped["open"] == 0


def test_the_same_bill_returns_the_stored_run_and_rerun_makes_a_new_one(cli, day, bill):
    first = reconcile(cli, bill)
    again = reconcile(cli, bill)
    assert again["run_id"] == first["run_id"]
    assert again["replayed"] is True and first["replayed"] is False
    fresh = reconcile(cli, bill, "--rerun")
    assert fresh["run_id"] != first["run_id"] and fresh["replayed"] is False
    assert [r["run_id"] for r in runs(cli)] == [fresh["run_id"], first["run_id"]]
    # The stored run is keyed by content and date: another --date is another run.
    other = reconcile(cli, bill, "--date", "2013-11-12")
    assert other["run_id"] not in (first["run_id"], fresh["run_id"])
    assert other["bill_date"] == "2013-11-12" and other["totals"]["book"]["payments"] == 0


# ------------------------------------------------------------------ each planted kind


def test_duplicate(cli, day, bill, tmp_path):
    snacks = day["snacks"]["order_no"]
    path = edit(bill, tmp_path / "dup.csv", lambda rows: rows + [payment(rows, snacks)])
    run = reconcile(cli, path, code=8)
    item = only(run, "duplicate")
    assert item["out_trade_no"] == snacks and item["status"] == "open"
    assert item["bill_amount_fen"] == 7920 and item["line_no"] == 5
    assert item["transaction_id"] == day["snacks"]["transaction_id"]
    assert (run["rows"], run["matched"], run["open"]) == (4, 3, 1)


def test_duplicate_refund_row(cli, day, bill, tmp_path):
    path = edit(bill, tmp_path / "dup.csv",
                lambda rows: rows + [next(r for r in rows if r.kind == "refund")])
    item = only(reconcile(cli, path, code=8), "duplicate")
    assert item["refund_no"] == day["refund"]["refund_no"]
    assert item["bill_amount_fen"] == 100000


def test_missing_in_book(cli, day, bill, tmp_path):
    def plant(rows):
        rows.append(copy(payment(rows, day["snacks"]["order_no"]),
                         out_trade_no="D209912310000000001",
                         transaction_id=billing.transaction_id(1)))

    item = only(reconcile(cli, edit(bill, tmp_path / "mib.csv", plant), code=8),
                "missing_in_book")
    assert item["out_trade_no"] == "D209912310000000001"
    assert item["bill_amount_fen"] == 7920 and item["book_amount_fen"] is None


def test_missing_in_bill(cli, day, bill, tmp_path):
    snacks = day["snacks"]
    path = edit(bill, tmp_path / "gone.csv",
                lambda rows: [r for r in rows if r.out_trade_no != snacks["order_no"]])
    run = reconcile(cli, path, code=8)
    item = only(run, "missing_in_bill")
    assert item["out_trade_no"] == snacks["order_no"]
    assert item["transaction_id"] == snacks["transaction_id"]
    assert item["bill_amount_fen"] is None and item["book_amount_fen"] == 7920
    assert item["line_no"] is None and item["status"] == "open"
    assert run["totals"]["bill"]["payments"] == 1 and run["totals"]["book"]["payments"] == 2


def test_status_mismatch_for_a_closed_order(cli, day, bill, tmp_path):
    closed = day["declined"]

    def plant(rows):
        rows.append(copy(payment(rows, day["snacks"]["order_no"]), out_trade_no=closed,
                         transaction_id=billing.transaction_id(2)))

    item = only(reconcile(cli, edit(bill, tmp_path / "st.csv", plant), code=8),
                "status_mismatch")
    assert item["out_trade_no"] == closed
    assert item["bill_amount_fen"] == 7920 and item["book_amount_fen"] == 7920
    assert "closed" in item["detail"]


def test_amount_mismatch(cli, day, bill, tmp_path):
    snacks = day["snacks"]["order_no"]

    def plant(rows):
        return [with_amount(r, 8920) if r.kind == "payment" and r.out_trade_no == snacks
                else r for r in rows]

    item = only(reconcile(cli, edit(bill, tmp_path / "amt.csv", plant), code=8),
                "amount_mismatch")
    assert item["out_trade_no"] == snacks
    assert (item["bill_amount_fen"], item["book_amount_fen"]) == (8920, 7920)


def test_an_amount_change_that_breaks_the_fee_too_is_still_one_amount_mismatch(
        cli, day, bill, tmp_path):
    snacks = day["snacks"]["order_no"]

    def plant(rows):
        return [copy(r, settlement_fen=1, order_fen=1)
                if r.kind == "payment" and r.out_trade_no == snacks else r for r in rows]

    only(reconcile(cli, edit(bill, tmp_path / "amt.csv", plant), code=8), "amount_mismatch")


def test_refund_mismatch_on_amount(cli, day, bill, tmp_path):
    def plant(rows):
        return [copy(r, refund_fen=90000, requested_refund_fen=90000, fee_fen=-540)
                if r.kind == "refund" else r for r in rows]

    item = only(reconcile(cli, edit(bill, tmp_path / "ref.csv", plant), code=8),
                "refund_mismatch")
    assert item["refund_no"] == day["refund"]["refund_no"]
    assert (item["bill_amount_fen"], item["book_amount_fen"]) == (90000, 100000)


def test_refund_mismatch_when_the_bill_lacks_a_refund(cli, day, bill, tmp_path):
    path = edit(bill, tmp_path / "noref.csv", lambda rows: [r for r in rows
                                                            if r.kind == "payment"])
    item = only(reconcile(cli, path, code=8), "refund_mismatch")
    assert item["refund_no"] == day["refund"]["refund_no"]
    assert item["out_trade_no"] == day["phone"]["order_no"]
    assert (item["bill_amount_fen"], item["book_amount_fen"]) == (None, 100000)


def test_refund_mismatch_when_the_book_lacks_a_refund(cli, day, bill, tmp_path):
    def plant(rows):
        refund = next(r for r in rows if r.kind == "refund")
        rows.append(copy(refund, refund_id="50300000012013111199999999999",
                         refund_no="R209912310000000001", refund_fen=10000,
                         requested_refund_fen=10000, fee_fen=-60))

    item = only(reconcile(cli, edit(bill, tmp_path / "extra.csv", plant), code=8),
                "refund_mismatch")
    assert item["refund_no"] == "R209912310000000001"
    assert (item["bill_amount_fen"], item["book_amount_fen"]) == (10000, None)


def test_refund_mismatch_on_the_platforms_refund_id(cli, day, bill, tmp_path):
    path = edit(bill, tmp_path / "rid.csv", lambda rows: [
        copy(r, refund_id="50300000012013111188888888888") if r.kind == "refund" else r
        for r in rows])
    item = only(reconcile(cli, path, code=8), "refund_mismatch")
    assert "微信退款单号" in item["detail"]


def test_refund_mismatch_on_state(cli, day, bill, tmp_path):
    path = edit(bill, tmp_path / "state.csv", lambda rows: [
        copy(r, refund_status="PROCESSING") if r.kind == "refund" else r for r in rows])
    item = only(reconcile(cli, path, code=8), "refund_mismatch")
    assert "PROCESSING" in item["detail"] and "success" in item["detail"]


def test_processing_refunds_match_book_refunds_not_yet_final(cli, day, tmp_path):
    refund_no = day["refund"]["refund_no"]
    with day["db"].transaction() as session:
        session.execute(update(Refund).where(Refund.refund_no == refund_no).values(
            status="processing", succeeded_at=None))
        session.execute(update(GatewayRefund).where(GatewayRefund.out_refund_no == refund_no)
                        .values(status="PROCESSING", succeeded_at=None))
    path = export(cli, tmp_path / "processing.csv")
    assert billing.rows_of(path)[1][2].refund_status == "PROCESSING"
    run = reconcile(cli, path)
    assert run["open"] == 0 and run["totals"]["book"]["refunds"] == 1


def test_fee_mismatch(cli, day, bill, tmp_path):
    phone = day["phone"]["order_no"]
    path = edit(bill, tmp_path / "fee.csv", lambda rows: [
        copy(r, fee_fen=2400) if r.kind == "payment" and r.out_trade_no == phone else r
        for r in rows])
    item = only(reconcile(cli, path, code=8), "fee_mismatch")
    assert (item["bill_amount_fen"], item["book_amount_fen"]) == (2400, 2399)


def test_fee_without_a_rate_uses_the_merchants(cli, day, bill, tmp_path):
    path = edit(bill, tmp_path / "norate.csv",
                lambda rows: [copy(r, rate_ppm=None) for r in rows])
    assert reconcile(cli, path)["open"] == 0
    cli.json("merchant", "set", "--fee-rate", "0.38%")
    run = reconcile(cli, path, "--rerun", code=8)
    assert {d["kind"] for d in run["discrepancies"]} == {"fee_mismatch"}
    assert len(run["discrepancies"]) == 3


def test_several_kinds_in_one_bill_each_row_once(cli, day, bill, tmp_path):
    phone, snacks = day["phone"]["order_no"], day["snacks"]["order_no"]

    def plant(rows):
        out = [with_amount(r, 400000) if r.kind == "payment" and r.out_trade_no == phone
               else r for r in rows if r.out_trade_no != snacks]
        out.append(copy(out[0], fee_fen=1))  # a duplicate that is also a fee mismatch
        return out

    run = reconcile(cli, edit(bill, tmp_path / "many.csv", plant), code=8)
    kinds = [(d["kind"], d["line_no"]) for d in run["discrepancies"]]
    assert kinds == [("amount_mismatch", 2), ("duplicate", 4), ("missing_in_bill", None)]
    assert (run["rows"], run["matched"], run["open"]) == (3, 1, 3)


# ------------------------------------------------------------------ the book out of step


def test_a_payment_the_book_has_not_settled_is_a_status_mismatch_until_fixed(
        cli, day, tmp_path):
    error = billing.buy(cli, day["items"]["YX-2001"], buyer="tm",
                        now="2013-11-11T12:00:00+08:00", code=9)
    order_no = error["order_no"]
    path = export(cli, tmp_path / "paying.csv")
    run = reconcile(cli, path, code=8)
    item = only(run, "status_mismatch")
    assert item["out_trade_no"] == order_no and "paying" in item["detail"]
    # Settling the order with the gateway fixes the book; --rerun shows it.
    assert billing.ok(cli("--json", "--now", "2013-11-11T12:01:00+08:00", "orders", "show",
                          order_no))["status"] == "paid"
    assert reconcile(cli, path, code=8)["run_id"] == run["run_id"]  # stored run
    fixed = reconcile(cli, path, "--rerun")
    assert fixed["open"] == 0 and fixed["rows"] == 4


# ------------------------------------------------------------------ midnight


@pytest.fixture
def late_payment(cli, day):
    order = billing.buy(cli, day["items"]["YX-2001"], now="2013-11-11T23:57:30+08:00")
    return order


def test_a_payment_just_before_midnight_missing_from_the_bill_is_deferred_then_found(
        cli, day, late_payment, tmp_path):
    late = late_payment["order_no"]
    taken = {}

    def move(rows):
        taken["row"] = payment(rows, late)
        return [r for r in rows if r.out_trade_no != late]

    first = reconcile(cli, edit(export(cli, tmp_path / "d1.csv"), tmp_path / "d1x.csv", move))
    item = only(first, "missing_in_bill")  # exit 0: deferred is not open
    assert item["status"] == "deferred" and first["open"] == 0 and first["deferred"] == 1
    assert item["out_trade_no"] == late and "2013-11-12" in item["detail"]

    # The platform booked it at 00:00:20 of the next day.
    moved = copy(taken["row"], trade_time=dt.datetime(2013, 11, 12, 0, 0, 20))
    d2 = billing.write_rows(tmp_path / "d2.csv", "ALL", [moved])
    second = reconcile(cli, d2)
    assert second["bill_date"] == "2013-11-12"
    assert (second["rows"], second["matched"], second["open"]) == (1, 1, 0)
    shown = billing.ok(cli("--json", "reconciliations", "show", first["run_id"]))
    assert shown["deferred"] == 0 and shown["resolved"] == 1
    assert shown["discrepancies"][0]["status"] == "resolved"
    assert second["run_id"] in shown["discrepancies"][0]["note"]


def test_a_deferred_payment_missing_from_the_next_bill_too_becomes_missing_in_bill(
        cli, day, late_payment, tmp_path):
    late = late_payment["order_no"]
    d1 = edit(export(cli, tmp_path / "d1.csv"), tmp_path / "d1x.csv",
              lambda rows: [r for r in rows if r.out_trade_no != late])
    first = reconcile(cli, d1)
    assert first["deferred"] == 1
    second = reconcile(cli, export(cli, tmp_path / "d2.csv", date="2013-11-12"),
                       "--date", "2013-11-12", code=8)
    item = only(second, "missing_in_bill")
    assert item["out_trade_no"] == late and item["status"] == "open"
    assert item["book_amount_fen"] == 7920
    shown = billing.ok(cli("--json", "reconciliations", "show", first["run_id"]))
    assert shown["deferred"] == 0
    assert second["run_id"] in shown["discrepancies"][0]["note"]


def test_a_rerun_of_the_next_day_decides_the_deferred_payment_again(
        cli, day, late_payment, tmp_path):
    """--rerun of D+1 must not lose a payment missing from both bills (it was decided by the
    first D+1 run, and a fresh run decides it again); a deferral a person resolved stays."""
    late = late_payment["order_no"]
    d1 = edit(export(cli, tmp_path / "d1.csv"), tmp_path / "d1x.csv",
              lambda rows: [r for r in rows if r.out_trade_no != late])
    assert reconcile(cli, d1)["deferred"] == 1
    d2 = export(cli, tmp_path / "d2.csv", date="2013-11-12")
    first = reconcile(cli, d2, "--date", "2013-11-12", code=8)
    rerun = reconcile(cli, d2, "--date", "2013-11-12", "--rerun", code=8)
    assert rerun["run_id"] != first["run_id"]
    assert only(rerun, "missing_in_bill")["out_trade_no"] == late
    stored = reconcile(cli, d2, "--date", "2013-11-12", code=8)  # the newest stored run
    assert stored["run_id"] == rerun["run_id"]


def test_a_payment_earlier_in_the_evening_is_open_at_once(cli, day, tmp_path):
    early = billing.buy(cli, day["items"]["YX-2001"], now="2013-11-11T23:54:59+08:00")
    path = edit(export(cli, tmp_path / "d1.csv"), tmp_path / "x.csv",
                lambda rows: [r for r in rows if r.out_trade_no != early["order_no"]])
    assert only(reconcile(cli, path, code=8), "missing_in_bill")["status"] == "open"


# ------------------------------------------------------------------ refused bills


def assert_refused(cli, path, slug, *, line=None, input=None):
    result = cli("--json", "reconcile", str(path), input=input)
    assert result.exit_code == 3, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    error = json.loads(result.stderr.strip().splitlines()[-1])["error"]
    assert error["code"] == slug, error
    if line is not None:
        assert error["location"] == f"line {line}" and f"line {line}" in error["message"]
    plain = cli("reconcile", str(path), input=input)
    assert plain.exit_code == 3 and plain.stdout == ""
    assert plain.stderr.strip().splitlines()[-1].startswith("error: ")
    assert runs(cli) == []
    return error


def test_a_bill_that_does_not_add_up(cli, day, bill, tmp_path):
    text = bill.read_text(encoding="utf-8").replace("`3999.00,`0.00,`0,", "`3998.00,`0.00,`0,")
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8", newline="")
    error = assert_refused(cli, path, "bill_does_not_add_up", line=6)
    assert "应结订单总金额" in error["message"]


def test_a_bill_rejected_after_rows_were_staged_leaves_nothing(cli, day, bill, tmp_path,
                                                               monkeypatch):
    """One pass: rows are staged while they are checked, so a defect found at the end (the
    totals) comes after staging; the private staging table goes with the rolled-back
    transaction and its connection, and the next run starts clean."""
    from wxshop_cli.core import billformat
    from wxshop_cli.core import reconcile as service
    from wxshop_cli.core.reconcile import stage
    from wxshop_cli.errors import InvalidInput

    monkeypatch.setattr(stage, "STAGE_BATCH", 1)  # every row its own batch (SQLite)
    monkeypatch.setattr(stage, "_PROGRESS_EVERY", 1)  # and its own progress (COPY)
    text = bill.read_text(encoding="utf-8").replace("`3999.00,`0.00,`0,", "`3998.00,`0.00,`0,")
    bad = tmp_path / "bad.csv"
    bad.write_text(text, encoding="utf-8", newline="")
    db = day["db"]
    seen = []
    with billformat.open_bill(bad) as source, pytest.raises(InvalidInput) as caught:
        service.reconcile(db, source, now=shop.DURING_AT,
                          progress=lambda phase, done, total: seen.append(phase))
    assert caught.value.slug == "bill_does_not_add_up"
    assert seen.count("stage") >= 2 and "match" not in seen  # staged, then refused
    assert runs(cli) == []
    with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            left = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_class WHERE relname = 'wx_bill_stage'").scalar()
        else:
            left = conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_temp_master WHERE name = 'wx_bill_stage'").scalar()
    assert left == 0
    with billformat.open_bill(bill) as source:
        outcome = service.reconcile(db, source, now=shop.DURING_AT)
    assert not outcome.replayed and len(runs(cli)) == 1


def test_a_truncated_bill(cli, day, bill, tmp_path):
    lines = bill.read_bytes().split(b"\r\n")
    path = tmp_path / "cut.csv"
    path.write_bytes(b"\r\n".join(lines[:3]) + b"\r\n")
    error = assert_refused(cli, path, "invalid_bill")
    assert "truncated" in error["message"]
    path.write_bytes(bill.read_bytes()[:len(lines[0]) + 100])  # cut inside a row
    assert_refused(cli, path, "invalid_bill_row", line=2)


def test_a_truncated_gzip_bill(cli, day, tmp_path):
    zipped = export(cli, tmp_path / "all.csv.gz", "--gzip")
    path = tmp_path / "cut.gz"
    path.write_bytes(zipped.read_bytes()[:-12])
    assert_refused(cli, path, "invalid_bill")


@pytest.mark.parametrize("name, slug", [("random.csv", "invalid_bill"),
                                        ("alipay_export.csv", "invalid_bill")])
def test_other_formats(cli, day, name, slug):
    error = assert_refused(cli, DATA / name, slug, line=1)
    assert "not a WeChat Pay trade bill" in error["message"]


def test_an_empty_file(cli, day, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert "empty" in assert_refused(cli, path, "invalid_bill")["message"]
    assert "empty" in assert_refused(cli, "-", "invalid_bill", input="")["message"]


def test_another_merchants_bill(cli, day, bill, tmp_path):
    path = edit(bill, tmp_path / "other.csv",
                lambda rows: [copy(r, mch_id="1900000109") for r in rows])
    error = assert_refused(cli, path, "bill_wrong_merchant", line=2)
    assert "1900000109" in error["message"] and billing.MCH_ID in error["message"]


def test_a_row_for_another_merchant_is_named(cli, day, bill, tmp_path):
    path = edit(bill, tmp_path / "other.csv", lambda rows: [
        copy(r, mch_id="1900000109") if r.kind == "refund" else r for r in rows])
    assert_refused(cli, path, "bill_wrong_merchant", line=4)


def test_a_service_providers_bill_for_this_sub_merchant_is_accepted(cli, day, bill, tmp_path):
    path = edit(bill, tmp_path / "sp.csv", lambda rows: [
        copy(r, mch_id="1900000109", sub_mch_id=billing.MCH_ID) for r in rows])
    assert reconcile(cli, path)["open"] == 0


def test_a_missing_required_column(cli, day, bill, tmp_path):
    text = bill.read_text(encoding="utf-8").replace("订单金额,申请退款金额", "金额X,申请退款金额")
    path = tmp_path / "cols.csv"
    path.write_text(text, encoding="utf-8", newline="")
    assert_refused(cli, path, "bill_missing_columns", line=1)


def test_a_missing_file_is_a_usage_error(cli, day, tmp_path):
    error = cli.fails(2, "reconcile", str(tmp_path / "nope.csv"))
    assert error["code"] == "bill_unreadable"


def test_a_bill_spanning_two_days_needs_a_date(cli, day, bill, tmp_path):
    path = edit(bill, tmp_path / "two.csv", lambda rows: rows[:-1] + [
        copy(rows[-1], trade_time=dt.datetime(2013, 11, 12, 9, 0))])
    assert_refused(cli, path, "bill_spans_days")
    result = cli("--json", "reconcile", str(path), "--date", DAY)
    assert result.exit_code == 0, result.stderr


# ------------------------------------------------------------------ empty bills and dates


def test_an_empty_bill_needs_a_date(cli, day, tmp_path):
    path = export(cli, tmp_path / "empty.csv", date="2013-11-20")
    error = cli.fails(2, "reconcile", str(path))
    assert error["code"] == "bill_date_required"
    assert runs(cli) == []
    run = reconcile(cli, path, "--date", "2013-11-20")
    assert (run["rows"], run["open"]) == (0, 0)
    # Claiming it is the bill of a day with payments: they are missing from it.
    other = reconcile(cli, path, "--date", DAY, code=8)
    assert sorted(d["kind"] for d in other["discrepancies"]) == [
        "missing_in_bill", "missing_in_bill", "refund_mismatch"]


def test_a_date_that_differs_from_the_bill_is_warned_about(cli, day, bill):
    result = cli("--json", "reconcile", str(bill), "--date", "2013-11-12")
    assert result.exit_code == 0
    assert "not on --date 2013-11-12" in result.stderr


@pytest.mark.parametrize("value", ["2013-13-01", "11/11/2013", "tomorrow"])
def test_a_malformed_date_is_a_usage_error(cli, day, bill, value):
    result = cli("--json", "reconcile", str(bill), "--date", value)
    assert result.exit_code == 2 and result.stdout == ""


# ------------------------------------------------------------------ output and exit 8


def test_exit_8_prints_the_run_on_stdout_and_no_error(cli, day, bill, tmp_path):
    path = edit(bill, tmp_path / "fee.csv", lambda rows: [copy(rows[0], fee_fen=1)] + rows[1:])
    result = cli("--json", "reconcile", str(path))
    assert result.exit_code == 8
    run = json.loads(result.stdout)
    assert run["open"] == 1
    assert "error" not in result.stderr


def test_a_pipe_gets_the_discrepancies_as_tsv(cli, day, bill, tmp_path):
    path = edit(bill, tmp_path / "fee.csv", lambda rows: [copy(rows[0], fee_fen=1)] + rows[1:])
    result = cli("reconcile", str(path))
    assert result.exit_code == 8
    lines = result.stdout.splitlines()
    assert lines[0].split("\t")[:4] == ["id", "kind", "status", "line"]
    fields = lines[1].split("\t")
    assert fields[1:4] == ["fee_mismatch", "open", "2"] and fields[7:9] == ["0.01", "23.99"]
    assert len(lines) == 2
    assert "1 open" in result.stderr
    clean = cli("reconcile", str(bill))
    assert clean.exit_code == 0 and len(clean.stdout.splitlines()) == 1


def test_a_terminal_gets_a_summary_and_a_table(cli, day, bill, tmp_path, monkeypatch):
    from wxshop_cli import output

    monkeypatch.setattr(output, "stdout_is_terminal", lambda: True)
    path = edit(bill, tmp_path / "fee.csv", lambda rows: [copy(rows[0], fee_fen=1)] + rows[1:])
    result = cli("reconcile", str(path), env={"COLUMNS": "200"})
    assert result.exit_code == 8
    assert "2 of 3 rows matched" in result.stdout
    assert "fee_mismatch" in result.stdout and "¥23.99" in result.stdout
    assert "¥3,078.20" in result.stdout  # the net on both sides


# ------------------------------------------------------------------ resolve


def test_resolve(cli, day, bill, tmp_path):
    path = edit(bill, tmp_path / "fee.csv", lambda rows: [copy(rows[0], fee_fen=1)] + rows[1:])
    run = reconcile(cli, path, code=8)
    item = only(run, "fee_mismatch")
    done = billing.ok(cli("--json", "--now", "2013-11-12T09:00:00+08:00", "reconciliations",
                          "resolve", run["run_id"], item["id"], "--note", "bank confirmed"))
    assert done["status"] == "resolved" and done["note"] == "bank confirmed"
    assert done["changed"] is True and done["resolved_at"] == "2013-11-12T09:00:00+08:00"
    # The stored run now has nothing open: the same bill exits 0.
    again = reconcile(cli, path)
    assert again["run_id"] == run["run_id"] and again["open"] == 0 and again["resolved"] == 1
    same = billing.ok(cli("--json", "reconciliations", "resolve", run["run_id"], item["id"],
                          "--note", "bank confirmed"))
    assert same["changed"] is False
    assert cli.fails(5, "reconciliations", "resolve", run["run_id"], item["id"],
                     "--note", "other")["code"] == "discrepancy_resolved"
    assert cli.fails(4, "reconciliations", "resolve", "run_nope", item["id"],
                     "--note", "x")["code"] == "run_not_found"
    assert cli.fails(4, "reconciliations", "resolve", run["run_id"], "dsc_nope",
                     "--note", "x")["code"] == "discrepancy_not_found"
    assert cli.fails(3, "reconciliations", "resolve", run["run_id"], item["id"],
                     "--note", "  ")["code"] == "invalid_note"
    assert cli("reconciliations", "resolve", run["run_id"], item["id"]).exit_code == 2


def test_resolve_a_deferred_item(cli, day, late_payment, tmp_path):
    late = late_payment["order_no"]
    path = edit(export(cli, tmp_path / "d1.csv"), tmp_path / "x.csv",
                lambda rows: [r for r in rows if r.out_trade_no != late])
    run = reconcile(cli, path)
    item = only(run, "missing_in_bill")
    done = billing.ok(cli("--json", "reconciliations", "resolve", run["run_id"], item["id"],
                          "--note", "refunded by hand"))
    assert done["status"] == "resolved"


def test_show_and_list(cli, day, bill):
    run = reconcile(cli, bill)
    shown = billing.ok(cli("--json", "reconciliations", "show", run["run_id"]))
    assert {k: shown[k] for k in ("run_id", "rows", "matched", "open")} == {
        k: run[k] for k in ("run_id", "rows", "matched", "open")}
    assert cli.fails(4, "reconciliations", "show", "run_nope")["code"] == "run_not_found"
    listed = runs(cli)
    assert [r["run_id"] for r in listed] == [run["run_id"]]
    assert set(listed[0]) >= {"run_id", "bill_date", "bill_type", "rows", "matched", "open",
                              "deferred", "discrepancies"}
    assert listed[0]["discrepancies"] == shown["discrepancies"]
    tsv = cli("reconciliations", "list").stdout.splitlines()
    assert tsv[0].startswith("run_id\tbill_date") and tsv[1].startswith(run["run_id"])


# ------------------------------------------------------------------ docs/bills-wechat.md's example


def example_book(db):
    """The book that docs/bills-wechat.md's example bill describes, built through the models."""
    at = lambda text: dt.datetime.fromisoformat(text + "+08:00").astimezone(dt.UTC)  # noqa: E731
    with db.transaction() as session:
        people = {}
        for name in ("me", "li"):
            buyer = Buyer(name=name, created_at=shop.WINDOW_START)
            session.add(buyer)
            session.flush()
            people[name] = buyer.id
        for no, name, title, amount, refunded, status, txn, paid in (
            ("D1120131111000001", "me", "Apple iPhone 5s 16G", 399900, 100000,
             "partially_refunded", "4200000001201311110000000017", "2013-11-11 10:02:11"),
            ("D1120131111000002", "li", "Snack box", 7920, 0, "paid",
             "4200000001201311110000000024", "2013-11-11 10:05:40"),
        ):
            session.add(Order(order_no=no, buyer_id=people[name], sku="YX-1", title=title,
                              qty=1, unit_price_fen=amount, amount_fen=amount,
                              refunded_fen=refunded, card_id="card_x", address_id="addr_x",
                              region_code="310000", status=status, transaction_id=txn,
                              created_at=at(paid), paid_at=at(paid)))
        session.flush()
        session.add(Refund(refund_no="R1120131111000001", order_no="D1120131111000001",
                           amount_fen=100000, status="success",
                           gateway_refund_id="50300000012013111100000001",
                           created_at=at("2013-11-11 15:30:00"),
                           succeeded_at=at("2013-11-11 15:30:00")))


@pytest.mark.parametrize("name", ["example_all.csv", "example_all_bom_lf.csv",
                                  "example_all_gzip.bin"])
def test_the_bills_md_example_reconciles_against_its_book(cli, backend, name):
    db = shop.open_db()
    cli.json("merchant", "set", "--app-id", "wx8888888888888888", "--mch-id", "1230000109")
    example_book(db)
    run = reconcile(cli, DATA / name)
    assert (run["bill_date"], run["bill_type"]) == ("2013-11-11", "ALL")
    assert (run["rows"], run["matched"], run["open"], run["deferred"]) == (3, 3, 0, 0)
    assert run["totals"]["bill"]["fee_fen"] == 1847
    assert run["totals"]["bill"]["net_fen"] == run["totals"]["book"]["net_fen"] == 307820


def test_the_example_against_another_merchant_is_refused(cli, backend):
    shop.open_db()
    assert_refused(cli, DATA / "example_all.csv", "bill_wrong_merchant", line=2)


def test_the_example_against_an_empty_book(cli, backend):
    shop.open_db()
    cli.json("merchant", "set", "--app-id", "wx8888888888888888", "--mch-id", "1230000109")
    run = reconcile(cli, DATA / "example_all.csv", code=8)
    assert [d["kind"] for d in run["discrepancies"]] == [
        "missing_in_book", "missing_in_book", "refund_mismatch"]


# ------------------------------------------------------------------ locks


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # a SQLite lock question
def test_matching_does_not_hold_the_sqlite_write_lock(cli, day, bill, tmp_path):
    """While pass two stages and matches, another connection can write (buyers keep
    buying)."""
    import sqlite3

    from wxshop_cli.core import billformat
    from wxshop_cli.core import reconcile as service

    db = day["db"]
    path = db.engine.url.database
    writes = []

    def progress(phase, done, total):
        if phase in ("stage", "match") and phase not in writes:
            other = sqlite3.connect(path, timeout=0.5, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE merchant_settings SET fee_rate_ppm = fee_rate_ppm")
            other.execute("COMMIT")
            other.close()
            writes.append(phase)

    with billformat.open_bill(bill) as source:
        outcome = service.reconcile(db, source, now=shop.DURING_AT, progress=progress)
    assert writes == ["stage", "match"] and not outcome.replayed


# ------------------------------------------------------------------ the demo's chapters


def test_the_demo_chapters_run_on_a_day_with_orders(cli, day):
    from wxshop_cli.demo import morning
    from wxshop_cli.demo.context import DemoContext

    ctx = DemoContext(db=day["db"], now=shop.DURING_AT)
    clean = morning.reconcile_bill(ctx)
    assert (clean.summary["rows"], clean.summary["open"]) == (3, 0)
    found = morning.planted_difference(ctx)
    assert found.summary["kinds"] == ["amount_mismatch"] and found.summary["open"] == 1


def test_the_demo_chapters_run_without_orders(cli, backend):
    from wxshop_cli.demo import morning
    from wxshop_cli.demo.context import DemoContext

    ctx = DemoContext(db=shop.open_db(), now=shop.DURING_AT)
    clean = morning.reconcile_bill(ctx)
    assert (clean.summary["rows"], clean.summary["open"]) == (0, 0)
    found = morning.planted_difference(ctx)
    assert found.summary["kinds"] == ["missing_in_book"] and found.summary["open"] == 1


def test_progress_shows_megabytes_only_while_the_bill_is_read():
    import io

    from rich.console import Console

    from wxshop_cli.views.reconcile import Bars

    screen = io.StringIO()
    bars = Bars(Console(file=screen, force_terminal=True, width=120))
    bars("stage", 5_000_000, 10_000_000)
    bars.progress.refresh()
    bars("match", 0, None)
    bars.progress.refresh()
    bars.stop()
    shown = screen.getvalue()
    assert "5.0/10.0 MB" in shown and "matching in SQL" in shown
    assert "bytes" not in shown
