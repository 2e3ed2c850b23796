"""Alipay's 业务明细 (docs/bills-alipay.md): `bill export --format alipay` and `reconcile`, on
SQLite and PostgreSQL. The same matching and kinds as WeChat Pay bills; the zip and GBK
specifics (re-encoded files, truncated or bomb zips, zero or two detail CSVs) refused with
exit 3 and nothing recorded."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import billing
from tests.billing import DAY, copy, payment, reconcile, runs
from wxshop_cli.core.billformat import BillRow, open_bill
from wxshop_cli.core.billformat import alipay as fmt
from wxshop_cli.core.billformat.formats import format_of
from wxshop_cli.errors import InvalidInput
from wxshop_cli.money import fee_fen


@pytest.fixture
def day(cli, backend):
    return billing.paid_day(cli)


def export_alipay(cli, path: Path, date: str = DAY) -> dict:
    result = cli("--json", "bill", "export", "--date", date, "--format", "alipay", "-o",
                 str(path))
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def bill(cli, day, tmp_path) -> Path:
    export_alipay(cli, tmp_path / "alipay.zip")
    return tmp_path / "alipay.zip"


def csv_of(path: Path) -> bytes:
    """The detail CSV inside an exported zip."""
    with zipfile.ZipFile(path) as archive:
        (name,) = archive.namelist()
        return archive.read(name)


def zip_of(path: Path, *entries: tuple[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return path


def rows_of(path: Path) -> list[BillRow]:
    with open_bill(path) as source, source.open() as stream:
        return list(fmt.AlipayReader(stream))


def edit(src: Path, dst: Path, change: Callable[[list[BillRow]], list[BillRow] | None]) -> Path:
    """Rewrite the bill after `change` edits its rows; the footer recomputed, as a script
    would."""
    rows = rows_of(src)
    changed = change(rows)
    out = io.BytesIO()
    writer = fmt.AlipayWriter(out, "20880012300001090156", dt.datetime(2013, 11, 11))
    for row in rows if changed is None else changed:
        writer.write(row)
    writer.finish(dt.datetime(2013, 11, 12, 6))
    return zip_of(dst, ("bill.csv", out.getvalue()))


def only(run, kind):
    assert [d["kind"] for d in run["discrepancies"]] == [kind], run["discrepancies"]
    return run["discrepancies"][0]


def assert_refused(cli, path, slug, *, line=None):
    result = cli("--json", "reconcile", str(path))
    assert result.exit_code == 3, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    error = json.loads(result.stderr.strip().splitlines()[-1])["error"]
    assert error["code"] == slug, error
    if line is not None:
        assert error["location"] == f"line {line}"
    plain = cli("reconcile", str(path))
    assert plain.exit_code == 3 and plain.stdout == ""
    (only_line,) = plain.stderr.strip().splitlines()
    assert only_line.startswith("error: ") and "Traceback" not in plain.stderr
    assert runs(cli) == []
    return error


# ------------------------------------------------------------------ clean bills


def test_an_exported_alipay_bill_reconciles_clean_and_replays(cli, day, tmp_path):
    report = export_alipay(cli, tmp_path / "alipay.zip")
    assert (report["format"], report["bill_type"], report["rows"]) == ("alipay", "ALL", 3)
    assert (report["payments"], report["refunds"]) == (2, 1)
    path = tmp_path / "alipay.zip"
    assert format_of(open_bill(path)).name == "alipay"
    run = reconcile(cli, path)
    assert (run["bill_date"], run["bill_type"]) == (DAY, "ALL")
    assert (run["rows"], run["matched"], run["open"]) == (3, 3, 0)
    bill_side, book_side = run["totals"]["bill"], run["totals"]["book"]
    assert bill_side["payment_fen"] == book_side["payment_fen"] == 399900 + 7920
    assert bill_side["refund_fen"] == book_side["refund_fen"] == 100000
    assert bill_side["fee_fen"] == 2399 + 48 - 600
    again = reconcile(cli, path)
    assert again["replayed"] is True and again["run_id"] == run["run_id"]
    # The same ledger exports to the same bytes (fixed export time): the stored run again.
    export_alipay(cli, tmp_path / "again.zip")
    assert reconcile(cli, tmp_path / "again.zip")["run_id"] == run["run_id"]


def test_the_exported_csv_is_alipays_layout(cli, day, bill):
    text = csv_of(bill).decode("gbk")
    lines = text.split("\r\n")
    assert lines[0] == "#支付宝业务明细查询"
    assert lines[1].startswith("#账号：[2088") and lines[2].startswith("#起始日期：[2013年11月11日")
    assert lines[4] == ",".join(fmt.COLUMNS)
    trade = lines[5].split(",")
    assert trade[2] == "交易\t" and trade[11] == "3999.00" and trade[22] == "-23.99"
    refund = next(line for line in lines if ",退款\t," in line).split(",")
    assert refund[11] == "-1000.00" and refund[22] == "6.00" and refund[21].strip()
    assert "#交易合计：2笔，商家实收共4078.20元，商家优惠共0.00元" in lines
    assert "#退款合计：1笔，商家实收退款共-1000.00元，商家优惠退款共0.00元" in lines


def test_the_csv_taken_out_of_the_zip_reconciles_too(cli, day, bill, tmp_path):
    path = tmp_path / "业务明细.csv"
    path.write_bytes(csv_of(bill))
    assert reconcile(cli, path)["open"] == 0


def test_a_real_download_holds_a_summary_csv_beside_the_detail(cli, day, bill, tmp_path):
    summary = "#支付宝业务汇总查询\r\n门店编号,门店名称,交易订单总笔数\r\n".encode("gbk")
    path = zip_of(tmp_path / "real.zip", ("2088_20131111_业务明细(汇总).csv", summary),
                  ("2088_20131111_业务明细.csv", csv_of(bill)))
    run = reconcile(cli, path)
    assert (run["rows"], run["open"]) == (3, 0)


def test_a_bill_without_rows_takes_its_day_from_the_header(cli, backend, tmp_path):
    billing.open_day(cli)
    report = export_alipay(cli, tmp_path / "empty.zip")
    assert report["rows"] == 0
    run = reconcile(cli, tmp_path / "empty.zip")
    assert (run["bill_date"], run["rows"], run["open"]) == (DAY, 0, 0)


# ------------------------------------------------------------------ planted differences


def test_missing_in_book(cli, day, bill, tmp_path):
    path = edit(bill, tmp_path / "x.zip", lambda rows: rows + [
        copy(rows[0], out_trade_no="D209912310000000099", transaction_id="4" * 28)])
    item = only(reconcile(cli, path, code=8), "missing_in_book")
    assert item["out_trade_no"] == "D209912310000000099" and item["line_no"] == 9


def test_missing_in_bill(cli, day, bill, tmp_path):
    snacks = day["snacks"]["order_no"]
    path = edit(bill, tmp_path / "x.zip",
                lambda rows: [r for r in rows if r.out_trade_no != snacks])
    item = only(reconcile(cli, path, code=8), "missing_in_bill")
    assert item["out_trade_no"] == snacks and item["book_amount_fen"] == 7920


def test_duplicate(cli, day, bill, tmp_path):
    path = edit(bill, tmp_path / "x.zip", lambda rows: rows + [rows[1]])
    assert only(reconcile(cli, path, code=8), "duplicate")["detail"] == "a copy of line 7"


def test_a_duplicated_refund_row_is_one_duplicate(cli, day, bill, tmp_path):
    path = edit(bill, tmp_path / "x.zip",
                lambda rows: rows + [r for r in rows if r.kind == "refund"])
    assert only(reconcile(cli, path, code=8), "duplicate")["refund_no"]


def test_amount_mismatch(cli, day, bill, tmp_path):
    phone = day["phone"]["order_no"]

    def change(rows):
        row = payment(rows, phone)
        rows[rows.index(row)] = copy(row, order_fen=399800, settlement_fen=399800,
                                     fee_fen=fee_fen(399800, 6000))

    item = only(reconcile(cli, edit(bill, tmp_path / "x.zip", change), code=8),
                "amount_mismatch")
    assert (item["bill_amount_fen"], item["book_amount_fen"]) == (399800, 399900)
    # In the Alipay bill's own column names, not the WeChat bill's.
    assert item["detail"] == "订单金额（元） differs from the order amount"


def test_status_mismatch_on_another_transaction(cli, day, bill, tmp_path):
    phone = day["phone"]["order_no"]

    def change(rows):
        row = payment(rows, phone)
        rows[rows.index(row)] = copy(row, transaction_id="2013111122001400000000000001")

    only(reconcile(cli, edit(bill, tmp_path / "x.zip", change), code=8), "status_mismatch")


def test_refund_mismatch_on_amount(cli, day, bill, tmp_path):
    def change(rows):
        row = next(r for r in rows if r.kind == "refund")
        rows[rows.index(row)] = copy(row, refund_fen=90000, fee_fen=-fee_fen(90000, 6000))

    item = only(reconcile(cli, edit(bill, tmp_path / "x.zip", change), code=8),
                "refund_mismatch")
    assert (item["bill_amount_fen"], item["book_amount_fen"]) == (90000, 100000)


def test_refund_mismatch_when_the_bill_lacks_the_refund(cli, day, bill, tmp_path):
    path = edit(bill, tmp_path / "x.zip", lambda rows: [r for r in rows if r.kind != "refund"])
    item = only(reconcile(cli, path, code=8), "refund_mismatch")
    assert "not in the bill" in item["detail"]


def test_fee_mismatch(cli, day, bill, tmp_path):
    snacks = day["snacks"]["order_no"]

    def change(rows):
        row = payment(rows, snacks)
        rows[rows.index(row)] = copy(row, fee_fen=row.fee_fen + 1)

    item = only(reconcile(cli, edit(bill, tmp_path / "x.zip", change), code=8), "fee_mismatch")
    assert (item["bill_amount_fen"], item["book_amount_fen"]) == (49, 48)
    assert item["detail"] == "服务费（元） is not the amount × the merchant's rate rounded half-up"


# ------------------------------------------------------------------ refused bills


def test_an_alipay_csv_re_encoded_as_utf8_is_refused(cli, day, bill, tmp_path):
    text = csv_of(bill).decode("gbk")
    bare = tmp_path / "utf8.csv"
    bare.write_bytes(text.encode("utf-8"))
    error = assert_refused(cli, bare, "invalid_bill", line=1)
    assert "UTF-8" in error["message"] and "GBK" in error["message"]
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert "UTF-8" in assert_refused(cli, bom, "invalid_bill", line=1)["message"]
    inside = zip_of(tmp_path / "utf8.zip", ("bill.csv", text.encode("utf-8")))
    assert "UTF-8" in assert_refused(cli, inside, "invalid_bill")["message"]
    # Only the columns, in UTF-8 (the header lines dropped): still recognised, still refused.
    columns = tmp_path / "columns.csv"
    columns.write_bytes("\r\n".join(text.split("\r\n")[4:7]).encode("utf-8"))
    assert "UTF-8" in assert_refused(cli, columns, "invalid_bill", line=1)["message"]


def test_a_gbk_csv_without_its_header_lines(cli, day, bill, tmp_path):
    path = tmp_path / "cut.csv"
    path.write_bytes(b"\r\n".join(csv_of(bill).split(b"\r\n")[4:]))
    assert "header lines" in assert_refused(cli, path, "invalid_bill", line=1)["message"]


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_a_truncated_zip(cli, day, bill, tmp_path, keep):
    data = bill.read_bytes()
    path = tmp_path / "cut.zip"
    path.write_bytes(data[:int(len(data) * keep)])
    assert "zip" in assert_refused(cli, path, "invalid_bill")["message"]


@pytest.mark.parametrize("where", [60, 300])
def test_a_zip_with_a_corrupted_entry(cli, day, bill, tmp_path, where):
    """Byte 60 is in the entry's name (local header); byte 300 in its compressed CSV (the
    CRC or inflate fails)."""
    data = bytearray(bill.read_bytes())
    data[where] ^= 0xFF
    path = tmp_path / "bad.zip"
    path.write_bytes(bytes(data))
    assert "zip" in assert_refused(cli, path, "invalid_bill")["message"]


def test_a_zip_with_no_csv(cli, day, tmp_path):
    path = zip_of(tmp_path / "none.zip", ("readme.txt", b"hello"))
    error = assert_refused(cli, path, "invalid_bill")
    assert "no Alipay 业务明细" in error["message"] and "readme.txt" in error["message"]
    empty = zip_of(tmp_path / "empty.zip")
    assert "no Alipay 业务明细" in assert_refused(cli, empty, "invalid_bill")["message"]


def test_a_zip_with_two_detail_csvs(cli, day, bill, tmp_path):
    path = zip_of(tmp_path / "two.zip", ("a.csv", csv_of(bill)), ("b.csv", csv_of(bill)))
    assert "2 业务明细 CSVs" in assert_refused(cli, path, "invalid_bill")["message"]


def test_totals_that_do_not_add_up(cli, day, bill, tmp_path):
    text = csv_of(bill).decode("gbk").replace("商家实收共4078.20元", "商家实收共4078.21元")
    path = zip_of(tmp_path / "bad.zip", ("bill.csv", text.encode("gbk")))
    error = assert_refused(cli, path, "bill_does_not_add_up", line=10)
    assert "4078.21" in error["message"] and "4078.20" in error["message"]
    text = csv_of(bill).decode("gbk").replace("#退款合计：1笔", "#退款合计：2笔")
    path = zip_of(tmp_path / "count.zip", ("bill.csv", text.encode("gbk")))
    assert "2笔" in assert_refused(cli, path, "bill_does_not_add_up", line=11)["message"]


@pytest.mark.parametrize("old, new, column", [
    (",交易\t,", ",付款\t,", "业务类型"),
    ("3999.00,3999.00", "3999.0,3999.00", "订单金额"),
    (",2013-11-11 10:02:11,", ",2013-11-31 10:02:11,", "创建时间"),
    ("-23.99", "23.99", "服务费"),
    ("Apple iPhone", "Apple\x07iPhone", "商品名称"),
])
def test_a_corrupted_row(cli, day, bill, tmp_path, old, new, column):
    text = csv_of(bill).decode("gbk")
    assert old in text
    path = zip_of(tmp_path / "bad.zip", ("bill.csv", text.replace(old, new, 1).encode("gbk")))
    error = assert_refused(cli, path, "invalid_bill_row", line=6)
    assert column in error["message"]


def test_a_row_with_a_missing_field(cli, day, bill, tmp_path):
    lines = csv_of(bill).split(b"\r\n")
    lines[6] = lines[6].rsplit(b",", 1)[0]
    path = zip_of(tmp_path / "bad.zip", ("bill.csv", b"\r\n".join(lines)))
    assert "24 fields" in assert_refused(cli, path, "invalid_bill_row", line=7)["message"]


def test_a_truncated_csv(cli, day, bill, tmp_path):
    lines = csv_of(bill).split(b"\r\n")
    path = zip_of(tmp_path / "cut.zip", ("bill.csv", b"\r\n".join(lines[:7]) + b"\r\n"))
    assert "truncated" in assert_refused(cli, path, "invalid_bill")["message"]


def test_a_zip_bomb_is_refused_before_it_is_read(cli, day, bill, tmp_path):
    bomb = csv_of(bill)[:-2] + b"\r\n" + b"0" * (64 * 1024 * 1024)
    path = zip_of(tmp_path / "bomb.zip", ("bill.csv", bomb))
    assert path.stat().st_size < 200_000
    assert "zip bomb" in assert_refused(cli, path, "invalid_bill")["message"]


def test_a_zip_whose_header_lies_about_its_size_is_stopped_while_read(monkeypatch):
    """The bounds hold on the bytes actually read, whatever the zip declares."""
    from wxshop_cli.core.billformat.alipay import archive

    monkeypatch.setattr(archive, "RATIO_FLOOR", 1)
    monkeypatch.setattr(archive, "MAX_RATIO", 1_000_000)
    monkeypatch.setattr(archive, "MAX_CSV_BYTES", 4096)
    head = "\r\n".join(["#支付宝业务明细查询", "#账号：[20880012300001090156]",
                        "#起始日期：[2013年11月11日 00:00:00]   "
                        "终止日期：[2013年11月12日 00:00:00]",
                        "#---业务明细列表---", ",".join(fmt.COLUMNS)]).encode("gbk")
    row = ("2013111122001400000000000001\t,D1\t,交易\t,x,2013-11-11 10:00:00,2013-11-11 10:00:00"
           ",,,,,,1.00,1.00,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,,-0.01,0.00,\r\n").encode("gbk")
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bill.csv", head + b"\r\n" + row * 200)
    with pytest.raises(InvalidInput) as caught:
        list(fmt.AlipayReader(io.BytesIO(data.getvalue())))
    assert "zip bomb" in caught.value.message


# ------------------------------------------------------------------ the reader alone


def test_headers_with_ascii_parentheses_and_spaces_as_some_copies_show_them():
    lines = ["#支付宝业务明细查询", "#账号:[20880012300001090156]",
             "#起始日期:[2013年11月11日 00:00:00]   终止日期:[2013年11月12日 00:00:00]",
             "#-----业务明细列表-----",
             ",".join(c.replace("（", "(").replace("）", ")") for c in fmt.COLUMNS),
             "2013111122001400000000000001    ,D1    ,交易    ,x,2013-11-11 10:00:00,"
             "2013-11-11 10:00:05,    ,    ,    ,    ,**佳(y***@163.com)    ,1.00,1.00,0.96,0.00,"
             "0.00,0.00,0.00,红包,0.00    ,0.00,    ,-0.01,0.00,",
             "#-----业务明细列表结束-----", "#交易合计：1笔，商家实收共1.00元，商家优惠共0.00元",
             "#退款合计：0笔，商家实收退款共0.00元，商家优惠退款共0.00元",
             "#导出时间：[2013年11月12日 06:00:00]"]
    reader = fmt.AlipayReader(io.BytesIO("\r\n".join(lines).encode("gbk")))
    (row,) = list(reader)
    assert (row.kind, row.order_fen, row.settlement_fen, row.fee_fen) == ("payment", 100, 100, 1)
    assert row.trade_time == dt.datetime(2013, 11, 11, 10, 0, 5) and row.openid is None
    assert reader.covers == dt.date(2013, 11, 11) and reader.account == "20880012300001090156"
    assert reader.summary.count == 1 and reader.summary.settlement_total_fen == 100


def test_the_wechat_reader_still_takes_everything_else():
    assert not fmt.recognises(b"\xe4\xba\xa4\xe6\x98\x93\xe6\x97\xb6\xe9\x97\xb4,")  # 交易时间,
    assert not fmt.recognises("#支付宝账务明细查询".encode("gbk"))  # the account statement
    assert fmt.recognises(b"PK\x03\x04rest") and fmt.recognises("#支付宝业务明细查询".encode())


def test_export_options_that_do_not_apply_to_alipay(cli, day, tmp_path):
    for extra in (["--gzip"], ["--type", "REFUND"]):
        result = cli("bill", "export", "--date", DAY, "--format", "alipay", "-o",
                     str(tmp_path / "x.zip"), *extra)
        assert result.exit_code == 2 and result.stdout == ""
        assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "x.zip").exists()


# ------------------------------------------------------------------ reconcile as a CI gate


@pytest.fixture
def fee_bill(cli, day, bill, tmp_path) -> Path:
    """The Alipay bill with one fee_mismatch planted (the snacks' 服务费 one fen more)."""
    snacks = day["snacks"]["order_no"]

    def change(rows):
        row = payment(rows, snacks)
        rows[rows.index(row)] = copy(row, fee_fen=row.fee_fen + 1)

    return edit(bill, tmp_path / "fee.zip", change)


def test_fail_on_other_kinds_reports_the_finding_and_exits_0(cli, fee_bill):
    run = reconcile(cli, fee_bill, "--fail-on", "missing_in_book,amount_mismatch")
    assert only(run, "fee_mismatch")["status"] == "open" and run["open"] == 1
    gate = run["gate"]
    assert gate["fail_on"] == ["missing_in_book", "amount_mismatch"] and gate["allow"] == []
    assert (gate["open_by_kind"], gate["failing"], gate["exit_code"]) == (
        {"fee_mismatch": 1}, 0, 0)


@pytest.mark.parametrize("args, code", [
    (["--fail-on", "fee_mismatch"], 8),
    (["--fail-on", "duplicate", "--fail-on", "fee_mismatch"], 8),
    (["--fail-on", " duplicate , fee_mismatch "], 8),
    (["--allow", "fee_mismatch"], 0),
    (["--allow", "duplicate"], 8),
    (["--allow", "duplicate,fee_mismatch"], 0),
    (["--fail-on", "fee_mismatch,duplicate", "--allow", "missing_in_bill"], 8),
    ([], 8),
])
def test_which_kinds_make_exit_8(cli, fee_bill, args, code):
    run = reconcile(cli, fee_bill, "--rerun", *args, code=code)
    assert only(run, "fee_mismatch")
    if args:
        assert run["gate"]["exit_code"] == code
        assert run["gate"]["failing_by_kind"] == ({"fee_mismatch": 1} if code else {})
    else:
        assert "gate" not in run


@pytest.mark.parametrize("args, words", [
    (["--fail-on", "fee"], "'fee' is not a kind"),
    (["--fail-on", "fee_mismatch,"], "an empty kind"),
    (["--allow", "Duplicate"], "'Duplicate' is not a kind"),
    (["--fail-on", "fee_mismatch", "--allow", "fee_mismatch"], "both in --fail-on and in"),
])
def test_a_bad_gate_is_a_usage_error_before_the_bill_is_read(cli, fee_bill, args, words):
    for json_flag in ([], ["--json"]):
        result = cli(*json_flag, "reconcile", str(fee_bill), *args)
        assert result.exit_code == 2 and result.stdout == ""
        (line,) = result.stderr.strip().splitlines()
        assert words in line and "Traceback" not in line
        if json_flag:
            error = json.loads(line)["error"]
            assert error["code"] == "usage" and error["exit_code"] == 2
        elif "not a kind" in words or "empty" in words:
            assert "duplicate, missing_in_book, status_mismatch" in line  # the accepted kinds
    assert runs(cli) == []


def test_a_replayed_run_is_judged_afresh_on_its_status_now(cli, fee_bill):
    first = reconcile(cli, fee_bill, "--fail-on", "missing_in_book")
    again = reconcile(cli, fee_bill, "--fail-on", "fee_mismatch", code=8)
    assert again["replayed"] is True and again["run_id"] == first["run_id"]
    item = only(again, "fee_mismatch")
    cli("--json", "reconciliations", "resolve", first["run_id"], item["id"], "--note",
        "settled with Alipay")
    third = reconcile(cli, fee_bill, "--fail-on", "fee_mismatch")
    assert third["replayed"] is True and third["gate"]["failing"] == 0


def test_the_pipe_summary_names_the_gate(cli, fee_bill):
    result = cli("reconcile", str(fee_bill), "--allow", "fee_mismatch")
    assert result.exit_code == 0
    assert "1 open" in result.stderr and "nothing open fails the gate" in result.stderr
    result = cli("reconcile", str(fee_bill), "--fail-on", "fee_mismatch")
    assert result.exit_code == 8 and "1 open fail the gate (fee_mismatch)" in result.stderr


def test_the_example_of_the_format_page_reads_as_it_says():
    page = (Path(__file__).parent.parent / "docs" / "bills-alipay.md").read_text("utf-8")
    example = page.split("```text\n")[1].split("```")[0].replace("→", "\t")
    data = example.replace("\n", "\r\n").encode("gbk")
    reader = fmt.AlipayReader(io.BytesIO(data))
    rows = list(reader)
    assert [(r.kind, r.order_fen, r.refund_fen, r.fee_fen) for r in rows] == [
        ("payment", 399900, 0, 2399), ("payment", 7920, 0, 48), ("refund", 0, 100000, -600)]
    assert rows[2].refund_no == "R201311110000000004" and rows[2].transaction_id == (
        rows[0].transaction_id)
    assert (reader.summary.count, reader.summary.settlement_total_fen,
            reader.summary.refund_total_fen) == (3, 407820, 100000)
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("20880012300001090156_20131111_业务明细.csv", data)
    assert fmt.recognises(zipped.getvalue()[:4096])
    assert len(list(fmt.AlipayReader(io.BytesIO(zipped.getvalue())))) == 3


def test_the_example_is_what_the_export_writes(cli, day, bill):
    page = (Path(__file__).parent.parent / "docs" / "bills-alipay.md").read_text("utf-8")
    example = page.split("```text\n")[1].split("```")[0].replace("→", "\t")
    txn = re.compile(r"42[0-9]{26}")  # the sandbox's transaction ids differ run to run
    written = csv_of(bill).decode("gbk")
    assert txn.sub("TXN", written) == txn.sub("TXN", example.replace("\n", "\r\n"))
