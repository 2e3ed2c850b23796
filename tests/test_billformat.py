"""The WeChat Pay trade bill reader and writer (docs/bills-wechat.md), without a database."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wxshop_cli.core.billformat import (
    ALL_COLUMNS,
    REFUND_COLUMNS,
    SUCCESS_COLUMNS,
    SUMMARY_COLUMNS,
    BillReader,
    BillRow,
    BillSummary,
    BillWriter,
    open_bill,
)
from wxshop_cli.core.billformat import fields as bill_fields
from wxshop_cli.core.billformat import reader as bill_reader
from wxshop_cli.core.billformat import source as bill_source
from wxshop_cli.core.text import invisible_char
from wxshop_cli.errors import InvalidInput, UsageError
from wxshop_cli.money import MAX_FEN

BILLS = Path(__file__).parent / "data" / "bills"
EXAMPLE = BILLS / "example_all.csv"
EXAMPLE_BYTES = EXAMPLE.read_bytes()
EXAMPLE_LINES = EXAMPLE_BYTES.decode("utf-8").split("\r\n")[:-1]


def read(data: bytes) -> tuple[BillReader, list[BillRow]]:
    reader = BillReader(io.BytesIO(data))
    return reader, list(reader)


def bill(lines: list[str], newline: str = "\r\n") -> bytes:
    return (newline.join(lines) + newline).encode("utf-8")


def refused(data: bytes) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        read(data)
    return caught.value


def edit_field(line: str, column: str, value: str, columns=ALL_COLUMNS) -> str:
    fields = line.split(",")
    fields[columns.index(column)] = value
    return ",".join(fields)


# --------------------------------------------------------------------------- the example


def test_example_parses_into_the_expected_rows_and_summary():
    reader, rows = read(EXAMPLE_BYTES)
    assert reader.bill_type == "ALL"
    assert reader.layout == "current"
    assert reader.sub_merchant_column == "特约商户号"
    assert len(rows) == 3
    assert [row.line_no for row in rows] == [2, 3, 4]
    assert [row.kind for row in rows] == ["payment", "payment", "refund"]

    first = rows[0]
    assert first.trade_time == datetime(2013, 11, 11, 10, 2, 11)
    assert first.app_id == "wx8888888888888888"
    assert first.mch_id == "1230000109"
    assert first.sub_mch_id == "0"
    assert first.transaction_id == "4200000001201311110000000017"
    assert first.out_trade_no == "D1120131111000001"
    assert first.openid == "oWXSHOP_me"
    assert (first.trade_type, first.trade_state) == ("JSAPI", "SUCCESS")
    assert (first.bank_code, first.currency) == ("ICBC_DEBIT", "CNY")
    assert (first.settlement_fen, first.coupon_fen, first.order_fen) == (399900, 0, 399900)
    assert (first.fee_fen, first.rate_ppm) == (2399, 6000)
    assert first.product == "Apple iPhone 5s 16G"
    assert first.attach == ""
    # A payment row's refund columns (`0` and empty in the file) are None.
    assert (first.refund_id, first.refund_no, first.refund_type, first.refund_status) == (
        None, None, None, None)
    assert (first.refund_fen, first.requested_refund_fen) == (0, 0)
    assert first.refund_requested_at is None and first.refund_succeeded_at is None
    assert rows[1].fee_fen == 48 and rows[1].settlement_fen == 7920

    refund = rows[2]
    assert refund.trade_state == "REFUND"
    assert refund.trade_time == datetime(2013, 11, 11, 15, 30, 0)
    assert refund.transaction_id == "4200000001201311110000000017"
    assert refund.out_trade_no == "D1120131111000001"
    assert refund.refund_id == "50300000012013111100000001"
    assert refund.refund_no == "R1120131111000001"
    assert refund.refund_fen == 100000
    assert refund.requested_refund_fen == 100000
    assert (refund.refund_type, refund.refund_status) == ("ORIGINAL", "SUCCESS")
    assert (refund.settlement_fen, refund.order_fen) == (0, 0)
    assert refund.fee_fen == -600

    assert reader.summary == BillSummary(
        count=3, settlement_total_fen=407820, refund_total_fen=100000,
        coupon_refund_total_fen=0, fee_total_fen=1847, order_total_fen=407820,
        requested_refund_total_fen=100000)
    assert reader.computed == reader.summary
    assert reader.summary.fee_total_fen == 1847
    assert reader.line_no == 6
    assert reader.rows_read == 3
    assert reader.bytes_read == len(EXAMPLE_BYTES)


def test_example_file_has_crlf_line_ends_and_no_bom():
    assert not EXAMPLE_BYTES.startswith(b"\xef\xbb\xbf")
    assert EXAMPLE_BYTES.count(b"\r\n") == EXAMPLE_BYTES.count(b"\n") == 6


def test_validate_returns_the_summary():
    assert BillReader(io.BytesIO(EXAMPLE_BYTES)).validate().count == 3


def test_a_reader_is_iterated_once():
    reader, _ = read(EXAMPLE_BYTES)
    with pytest.raises(RuntimeError):
        iter(reader)


def test_check_totals_needs_the_whole_bill():
    reader = BillReader(io.BytesIO(EXAMPLE_BYTES))
    with pytest.raises(RuntimeError):
        reader.check_totals()


# --------------------------------------------------------------------------- variants


def test_bom_lf_and_gzip_variants_give_the_same_rows():
    expected = list(BillReader(io.BytesIO(EXAMPLE_BYTES)))
    for name in ("example_all_bom_lf.csv", "example_all_gzip.bin"):
        with open_bill(BILLS / name) as source, source.open() as stream:
            assert list(BillReader(stream)) == expected, name


@pytest.mark.parametrize("name", ["example_all.csv", "legacy_all.csv", "refund.csv",
                                  "submch_success.csv"])
def test_rows_read_have_every_field_set(name):
    """The reader fills rows by name without BillRow's __init__ (speed): each row read
    equals the same row built through __init__ from all its fields (an unset field would
    raise AttributeError here)."""
    with open_bill(BILLS / name) as source, source.open() as stream:
        rows = list(BillReader(stream))
    assert rows
    assert rows == [replace(row) for row in rows]
    assert all(type(row) is BillRow for row in rows)


def test_the_format_seam_picks_the_first_format_that_recognises_the_content(monkeypatch):
    from wxshop_cli.core.billformat import formats

    with open_bill(EXAMPLE) as source, source.open() as stream:
        assert source.head == EXAMPLE_BYTES[:4096]
        assert formats.format_of(source) is formats.WECHAT
        assert len(list(formats.reader_for(source, stream))) == 3

    class Other:
        name = "other"

        def recognises(self, head: bytes) -> bool:
            return head.startswith(b"OTHER")

        def reader(self, stream):
            raise AssertionError("not this format")

    other = Other()
    monkeypatch.setattr(formats, "FORMATS", (other, formats.WECHAT))
    with open_bill("-", stdin=io.BytesIO(gzip.compress(b"OTHER,bill\n"))) as source:
        assert source.head == b"OTHER,bill\n"
        assert formats.format_of(source) is other
    with open_bill(EXAMPLE) as source:
        assert formats.format_of(source) is formats.WECHAT


def test_sha256_is_of_the_decompressed_content(tmp_path):
    plain = open_bill(EXAMPLE)
    assert plain.sha256 == hashlib.sha256(EXAMPLE_BYTES).hexdigest()
    assert plain.size == len(EXAMPLE_BYTES)
    assert not plain.compressed
    gz = open_bill(BILLS / "example_all_gzip.bin")  # no .gz name: found by magic bytes
    assert gz.compressed
    assert gz.sha256 == plain.sha256
    assert gz.size == len(EXAMPLE_BYTES)
    # The BOM/LF variant is other bytes; gzipping it keeps its own hash.
    bom_lf = (BILLS / "example_all_bom_lf.csv").read_bytes()
    packed = tmp_path / "bill.csv"
    packed.write_bytes(gzip.compress(bom_lf))
    assert open_bill(packed).sha256 == hashlib.sha256(bom_lf).hexdigest()


def test_stdin_is_spooled_and_can_be_read_twice():
    for data in (EXAMPLE_BYTES, gzip.compress(EXAMPLE_BYTES)):
        with open_bill("-", stdin=io.BytesIO(data)) as source:
            assert source.name == "<stdin>"
            assert source.sha256 == hashlib.sha256(EXAMPLE_BYTES).hexdigest()
            first = list(BillReader(source.open()))
            second = list(BillReader(source.open()))
            assert first == second and len(first) == 3


def test_big_stdin_spools_to_a_temporary_file_removed_on_close(monkeypatch):
    monkeypatch.setattr(bill_source, "_SPOOL_IN_MEMORY", 100)
    monkeypatch.setattr(bill_source, "_CHUNK", 64)
    source = open_bill("-", stdin=io.BytesIO(gzip.compress(EXAMPLE_BYTES)))
    spool = source._temp
    assert spool is not None and spool.exists()
    for _ in range(2):
        with source.open() as stream:
            assert len(list(BillReader(stream))) == 3
    source.close()
    assert not spool.exists()
    source.close()  # twice is harmless


def test_two_streams_of_one_source_are_independent():
    with open_bill(BILLS / "example_all_gzip.bin") as source:
        one, two = BillReader(source.open()), BillReader(source.open())
        rows_one, rows_two = iter(one), iter(two)
        assert next(rows_one).line_no == 2
        assert [row.line_no for row in rows_two] == [2, 3, 4]
        assert [row.line_no for row in rows_one] == [3, 4]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_given_as_a_path_is_spooled(tmp_path):
    fifo = tmp_path / "bill.fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as pipe:
            pipe.write(gzip.compress(EXAMPLE_BYTES))

    writer = threading.Thread(target=feed)
    writer.start()
    with open_bill(fifo) as source:
        writer.join()
        assert source.sha256 == hashlib.sha256(EXAMPLE_BYTES).hexdigest()
        for _ in range(2):
            with source.open() as stream:
                assert len(list(BillReader(stream))) == 3


def test_missing_file_is_unreadable(tmp_path):
    with pytest.raises(UsageError) as caught:
        open_bill(tmp_path / "nope.csv")
    assert caught.value.slug == "bill_unreadable"
    with pytest.raises(UsageError):
        open_bill(tmp_path)


def test_corrupt_gzip_is_invalid(tmp_path):
    broken = tmp_path / "bill.gz"
    broken.write_bytes(gzip.compress(EXAMPLE_BYTES)[:-20])
    with pytest.raises(InvalidInput) as caught:
        open_bill(broken)
    assert caught.value.slug == "invalid_bill"
    assert "gzip" in caught.value.message


def test_reader_streams_instead_of_reading_everything():
    lines = EXAMPLE_LINES[:2] + EXAMPLE_LINES[2:3] * 0 + EXAMPLE_LINES[1:2] * 5000
    stream = io.BytesIO(bill(lines + ["总交易单数,应结订单总金额,退款总金额,充值券退款总金额,"
                                      "手续费总金额,订单总金额,申请退款总金额"]))
    rows = iter(BillReader(stream))
    next(rows)
    next(rows)
    assert stream.tell() < 2000  # two rows in, not the whole bill


# --------------------------------------------------------------------------- other types


def test_sub_merchant_column_and_success_bill():
    reader, rows = read((BILLS / "submch_success.csv").read_bytes())
    assert reader.bill_type == "SUCCESS"
    assert reader.sub_merchant_column == "子商户号"
    assert len(reader.columns) == 20
    assert [row.sub_mch_id for row in rows] == ["1230000109", "1230000109"]
    assert rows[0].mch_id == "1900000109"
    assert rows[0].coupon_fen == 1000 and rows[0].settlement_fen == 398900
    assert rows[0].order_fen == 399900 and rows[0].attach == "gift"
    assert rows[1].fee_fen == 0 and rows[1].trade_type == "NATIVE"
    for row in rows:
        assert row.kind == "payment"
        # Columns a SUCCESS bill lacks: None or 0.
        assert row.refund_id is None and row.refund_no is None and row.refund_status is None
        assert row.refund_type is None
        assert row.refund_fen == row.coupon_refund_fen == row.requested_refund_fen == 0
    assert reader.summary.count == 2
    assert reader.summary.order_total_fen == 399901


def test_sub_merchant_header_accepted_in_an_all_bill():
    lines = [EXAMPLE_LINES[0].replace("特约商户号", "子商户号"), *EXAMPLE_LINES[1:]]
    reader, rows = read(bill(lines))
    assert reader.sub_merchant_column == "子商户号"
    assert [row.sub_mch_id for row in rows] == ["0", "0", "0"]


def test_columns_are_found_by_name_not_position():
    order = list(reversed(range(len(ALL_COLUMNS))))

    def shuffle(line: str) -> str:
        fields = line.split(",")
        return ",".join(fields[i] for i in order)

    lines = [shuffle(line) for line in EXAMPLE_LINES[:4]] + EXAMPLE_LINES[4:]
    _, rows = read(bill(lines))
    assert rows == list(BillReader(io.BytesIO(EXAMPLE_BYTES)))


def test_refund_bill():
    reader, rows = read((BILLS / "refund.csv").read_bytes())
    assert reader.bill_type == "REFUND"
    assert len(reader.columns) == 29
    assert [row.kind for row in rows] == ["refund", "refund"]
    done, pending = rows
    assert done.trade_time == datetime(2013, 11, 10, 9, 0, 0)  # the payment's time
    assert done.refund_requested_at == datetime(2013, 11, 11, 15, 30, 0)
    assert done.refund_succeeded_at == datetime(2013, 11, 11, 15, 30, 7)
    assert done.refund_fen == 100000 and done.fee_fen == -600
    assert pending.refund_status == "PROCESSING"
    assert pending.refund_succeeded_at is None
    assert reader.summary.fee_total_fen == -648
    assert reader.summary.refund_total_fen == 107920


def test_legacy_layout_is_read():
    reader, rows = read((BILLS / "legacy_all.csv").read_bytes())
    assert reader.layout == "legacy"
    assert reader.bill_type == "ALL"
    assert reader.sub_merchant_column == "子商户号"
    assert [row.kind for row in rows] == ["payment", "payment", "refund"]
    assert rows[0].settlement_fen == rows[0].order_fen == 399900
    assert rows[0].requested_refund_fen == 0
    assert rows[0].rate_note is None  # no 费率备注 column
    assert rows[2].refund_fen == 100000 and rows[2].fee_fen == -600
    assert reader.summary == BillSummary(
        count=3, settlement_total_fen=407820, refund_total_fen=100000,
        coupon_refund_total_fen=0, fee_total_fen=1847, order_total_fen=None,
        requested_refund_total_fen=None)


def test_legacy_layout_totals_are_checked():
    data = (BILLS / "legacy_all.csv").read_bytes().replace(b"`3,`4078.20", b"`3,`4078.21")
    error = refused(data)
    assert error.slug == "bill_does_not_add_up"
    assert "总交易额" in error.message
    assert error.extra["location"] == "line 6"


# --------------------------------------------------------------------------- malformed


def test_summary_that_does_not_add_up():
    lines = [*EXAMPLE_LINES[:-1], "`3,`4078.20,`1000.00,`0.00,`18.48000,`4078.20,`1000.00"]
    error = refused(bill(lines))
    assert error.slug == "bill_does_not_add_up"
    assert error.extra["location"] == "line 6"
    assert error.message.startswith("line 6: bill does not add up: 手续费总金额")
    assert "18.48" in error.message and "18.47" in error.message
    assert error.exit_code == 3


def test_every_total_is_checked():
    good = EXAMPLE_LINES[-1].split(",")
    for position, name in enumerate(SUMMARY_COLUMNS):
        values = list(good)
        values[position] = "`4" if position == 0 else (
            "`1.00000" if name == "手续费总金额" else "`1.00")
        error = refused(bill([*EXAMPLE_LINES[:-1], ",".join(values)]))
        assert error.slug == "bill_does_not_add_up", name
        assert name in error.message


def test_several_mismatches_are_all_listed():
    lines = [*EXAMPLE_LINES[:-1], "`4,`4078.20,`1000.00,`0.00,`18.48000,`4078.20,`1000.00"]
    error = refused(bill(lines))
    assert len(error.details) == 2
    assert "总交易单数 is 4 but the bill has 3 detail lines" in error.details[0]


def test_truncated_file_without_summary():
    error = refused(bill(EXAMPLE_LINES[:4]))
    assert error.slug == "invalid_bill"
    assert error.extra["location"] == "line 5"
    assert "summary" in error.message and "truncated" in error.message


def test_truncated_file_without_summary_values():
    error = refused(bill(EXAMPLE_LINES[:5]))
    assert error.extra["location"] == "line 6"
    assert "summary values line is missing" in error.message


def test_truncated_in_the_middle_of_a_row():
    data = bill(EXAMPLE_LINES[:3])[:-40]
    error = refused(data)
    assert error.extra["location"] == "line 3"
    assert error.slug == "invalid_bill_row"


def test_header_only():
    error = refused(bill(EXAMPLE_LINES[:1]))
    assert error.extra["location"] == "line 2"


def test_empty_file():
    for data in (b"", b"\xef\xbb\xbf"):
        error = refused(data)
        assert error.slug == "invalid_bill"
        assert "empty" in error.message


def test_random_csv():
    error = refused((BILLS / "random.csv").read_bytes())
    assert error.slug == "invalid_bill"
    assert error.extra["location"] == "line 1"
    assert "not a WeChat Pay trade bill" in error.message


def test_alipay_export():
    error = refused((BILLS / "alipay_export.csv").read_bytes())
    assert error.extra["location"] == "line 1"
    assert "Alipay" in error.message


def test_gbk_text_is_not_utf8():
    data = (BILLS / "alipay_export.csv").read_bytes().decode("utf-8").encode("gbk")
    error = refused(data)
    assert error.extra["location"] == "line 1"
    assert "UTF-8" in error.message


def test_utf8_error_on_a_later_line_names_that_line():
    lines = list(EXAMPLE_LINES)
    data = bill(lines).replace(b"Snack box", "Snack 盒".encode("gbk"))
    assert refused(data).extra["location"] == "line 3"


def test_missing_required_column():
    drop = ALL_COLUMNS.index("手续费")

    def without(line: str) -> str:
        fields = line.split(",")
        del fields[drop]
        return ",".join(fields)

    lines = [without(line) for line in EXAMPLE_LINES[:4]] + EXAMPLE_LINES[4:]
    error = refused(bill(lines))
    assert error.slug == "bill_missing_columns"
    assert error.extra["location"] == "line 1"
    assert "手续费" in error.message


def test_missing_refund_columns_name_them():
    header = EXAMPLE_LINES[0].replace("微信退款单号", "foo").replace("退款状态", "bar")
    error = refused(bill([header, *EXAMPLE_LINES[1:]]))
    assert error.slug == "bill_missing_columns"
    assert "微信退款单号" in error.message and "退款状态" in error.message


def test_duplicate_column():
    header = EXAMPLE_LINES[0].replace("设备号", "商户号")
    assert "twice" in refused(bill([header, *EXAMPLE_LINES[1:]])).message


def test_header_missing():
    assert refused(bill(EXAMPLE_LINES[1:])).extra["location"] == "line 1"


def test_row_with_wrong_field_count():
    lines = list(EXAMPLE_LINES)
    lines[2] = lines[2] + ",`extra"
    error = refused(bill(lines))
    assert error.slug == "invalid_bill_row"
    assert error.extra["location"] == "line 3"
    assert "28 fields, the header has 27" in error.message
    lines[2] = lines[2].rsplit(",", 2)[0]
    assert refused(bill(lines)).extra["location"] == "line 3"


def test_field_without_backtick():
    lines = list(EXAMPLE_LINES)
    lines[3] = lines[3].replace(",`JSAPI", ",JSAPI")
    error = refused(bill(lines))
    assert error.extra["location"] == "line 4"
    assert "交易类型" in error.message and "backtick" in error.message


@pytest.mark.parametrize(("column", "value", "why"), [
    ("应结订单金额", "`12.3", "two decimals"),
    ("应结订单金额", "`12.345", "two decimals"),
    ("应结订单金额", "`-1.00", "negative"),
    ("应结订单金额", "`１２.00", "two decimals"),  # full-width digits
    ("应结订单金额", "`+12.00", "two decimals"),
    ("应结订单金额", "`012.00", "two decimals"),
    ("应结订单金额", "`1_000.00", "two decimals"),
    ("应结订单金额", "` 12.00", "two decimals"),
    ("应结订单金额", "`", "empty"),
    ("应结订单金额", "`100000000.00", "99999999.99"),
    ("订单金额", "`79.2", "two decimals"),
    ("代金券金额", "`abc", "two decimals"),
    ("手续费", "`0.48", "five decimals"),
    ("手续费", "`0.47520", "whole fen"),
    ("费率", "`0.60", "percentage"),
    ("费率", "`abc%", "percentage"),
    ("交易时间", "`2013-11-11T10:05:40", "YYYY-MM-DD"),
    ("交易时间", "`2013-02-30 10:05:40", "real date"),
    ("交易时间", "`2013-11-11 10:05", "YYYY-MM-DD"),
    ("微信订单号", "`4200000001201311110000000", "28 digits"),
    ("微信订单号", "`5200000001201311110000000024", "28 digits"),
    ("微信订单号", "`42000000012013111100000000２4", "28 digits"),
    ("商户订单号", "`" + "D" * 33, "32"),
    ("商户订单号", "`", "32"),
    ("交易状态", "`NOTPAY", "SUCCESS, REFUND or REVOKED"),
])
def test_malformed_field_names_the_line_and_column(column, value, why):
    lines = list(EXAMPLE_LINES)
    lines[2] = edit_field(lines[2], column, value)
    error = refused(bill(lines))
    assert error.slug == "invalid_bill_row"
    assert error.extra["location"] == "line 3"
    assert error.message.startswith(f"line 3: bad {column} ")
    assert why in error.message


def test_bad_amount_12_3():
    lines = list(EXAMPLE_LINES)
    lines[1] = edit_field(lines[1], "应结订单金额", "`12.3")
    error = refused(bill(lines))
    assert error.message == ("line 2: bad 应结订单金额 '12.3': expected yuan with exactly two "
                             "decimals, e.g. 3999.00")


def test_fee_that_is_not_whole_fen():
    lines = list(EXAMPLE_LINES)
    lines[1] = edit_field(lines[1], "手续费", "`23.99500")
    error = refused(bill(lines))
    assert error.extra["location"] == "line 2"
    assert "whole fen" in error.message


def test_refund_row_needs_its_refund_ids():
    lines = list(EXAMPLE_LINES)
    lines[3] = edit_field(lines[3], "微信退款单号", "`0")
    error = refused(bill(lines))
    assert error.extra["location"] == "line 4"
    assert "微信退款单号" in error.message


def test_revoked_row_is_a_refund_when_it_has_a_refund_id():
    lines = list(EXAMPLE_LINES)
    lines[3] = edit_field(lines[3], "交易状态", "`REVOKED")
    _, rows = read(bill(lines))
    assert rows[2].kind == "refund" and rows[2].trade_state == "REVOKED"


def test_refund_row_in_a_success_bill():
    data = (BILLS / "submch_success.csv").read_bytes()
    lines = data.decode().split("\r\n")[:-1]
    lines[2] = edit_field(lines[2], "交易状态", "`REFUND", SUCCESS_COLUMNS)
    error = refused(bill(lines))
    assert error.extra["location"] == "line 3"
    assert "payments only" in error.message


def test_payment_row_in_a_refund_bill():
    lines = (BILLS / "refund.csv").read_bytes().decode().split("\r\n")[:-1]
    lines[1] = edit_field(lines[1], "交易状态", "`SUCCESS", REFUND_COLUMNS)
    error = refused(bill(lines))
    assert error.extra["location"] == "line 2"
    assert "refunds only" in error.message


def test_blank_line_among_details():
    lines = [*EXAMPLE_LINES[:2], "", *EXAMPLE_LINES[2:]]
    assert refused(bill(lines)).extra["location"] == "line 3"


def test_trailing_blank_lines_are_fine_but_not_text():
    read(bill([*EXAMPLE_LINES, "", ""]))
    assert refused(bill([*EXAMPLE_LINES, "junk"])).extra["location"] == "line 7"


def test_bad_summary_values():
    for values in ("3,4078.20,1000.00,0.00,18.47000,4078.20,1000.00",
                   "`3,`4078.20,`1000.00,`0.00,`18.47,`4078.20,`1000.00",
                   "`3,`4078.20,`1000.00,`0.00,`18.47000,`4078.20",
                   "`three,`4078.20,`1000.00,`0.00,`18.47000,`4078.20,`1000.00"):
        error = refused(bill([*EXAMPLE_LINES[:-1], values]))
        assert error.extra["location"] == "line 6", values


def test_summary_header_missing_a_total():
    lines = list(EXAMPLE_LINES)
    lines[4] = lines[4].replace("手续费总金额", "其他")
    error = refused(bill(lines))
    assert error.slug == "bill_missing_columns"
    assert error.extra["location"] == "line 5"


def test_overlong_line(monkeypatch):
    monkeypatch.setattr(bill_reader, "MAX_LINE_BYTES", 400)
    error = refused(EXAMPLE_BYTES.replace(b"Snack box", b"x" * 500))
    assert error.extra["location"] == "line 3"


# --------------------------------------------------------------------------- writer


def test_writer_reproduces_the_example_exactly():
    out = io.StringIO(newline="")
    writer = BillWriter(out, "ALL")
    writer.write_rows(BillReader(io.BytesIO(EXAMPLE_BYTES)))
    summary = writer.finish()
    assert out.getvalue().encode("utf-8") == EXAMPLE_BYTES
    assert summary.fee_total_fen == 1847


def test_writer_output_format_and_text_cleaning(tmp_path):
    row = BillRow(
        line_no=0, kind="payment", trade_time=datetime(2024, 1, 31, 23, 59, 59),
        app_id="wx1", mch_id="1230000109", sub_mch_id=None,
        transaction_id="4200000001202401310000000001", out_trade_no="D1",
        product="Phone, 16G `pro`\r\nnew", attach="a,b", fee_fen=-600, rate_ppm=3800,
        settlement_fen=7920, order_fen=7920)
    path = tmp_path / "bill.csv"
    with open(path, "w", encoding="utf-8", newline="") as out, BillWriter(out) as writer:
        writer.write(row)
    data = path.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\n") == data.count(b"\r\n") == 4
    detail = data.decode().split("\r\n")[1].split(",")
    column = dict(zip(ALL_COLUMNS, detail, strict=True))
    assert column["商品名称"] == "`Phone  16G  pro   new"
    assert column["商户数据包"] == "`a b"
    assert column["手续费"] == "`-6.00000"
    assert column["费率"] == "`0.38%"
    assert column["应结订单金额"] == "`79.20"
    assert column["微信退款单号"] == column["商户退款单号"] == "`0"
    assert column["特约商户号"] == "`"
    assert column["交易时间"] == "`2024-01-31 23:59:59"
    _, rows = read(data)
    assert rows[0].product == "Phone  16G  pro   new"


def test_writer_converts_aware_times_to_beijing():
    row = BillRow(
        line_no=0, kind="payment", trade_time=datetime(2024, 1, 31, 16, 0, tzinfo=UTC),
        app_id="wx1", mch_id="1", sub_mch_id="0",
        transaction_id="4200000001202401310000000001", out_trade_no="D1")
    out = io.StringIO(newline="")
    with BillWriter(out, "SUCCESS") as writer:
        writer.write(row)
    _, rows = read(out.getvalue().encode())
    assert rows[0].trade_time == datetime(2024, 2, 1, 0, 0, 0)


def test_writer_refuses_rows_its_type_cannot_hold():
    payment, _, refund = list(BillReader(io.BytesIO(EXAMPLE_BYTES)))
    with pytest.raises(ValueError):
        BillWriter(io.StringIO(), "SUCCESS").write(refund)
    with pytest.raises(ValueError):
        BillWriter(io.StringIO(), "REFUND").write(payment)
    with pytest.raises(ValueError):
        BillWriter(io.StringIO(), "REFUND").write(
            replace(refund, refund_requested_at=None))
    with pytest.raises(ValueError):
        BillWriter(io.StringIO(), "DAILY")
    with pytest.raises(ValueError):
        BillWriter(io.StringIO()).write(replace(payment, settlement_fen=-1))
    with pytest.raises(ValueError):
        BillWriter(io.StringIO()).write(replace(payment, order_fen=MAX_FEN + 1))
    with pytest.raises(ValueError):
        BillWriter(io.StringIO()).write(replace(refund, fee_fen=-MAX_FEN - 1))
    with pytest.raises(ValueError):
        BillWriter(io.StringIO()).write(replace(payment, kind="other"))
    writer = BillWriter(io.StringIO())
    writer.finish()
    with pytest.raises(RuntimeError):
        writer.write(payment)


def test_writer_sub_merchant_column():
    out = io.StringIO(newline="")
    BillWriter(out, "SUCCESS", sub_merchant_column="子商户号").finish()
    reader, rows = read(out.getvalue().encode())
    assert rows == [] and reader.sub_merchant_column == "子商户号"
    assert reader.summary.count == 0


@pytest.mark.parametrize("bill_type", ["ALL", "SUCCESS", "REFUND"])
def test_round_trip_of_each_type(bill_type):
    source = {"ALL": EXAMPLE, "SUCCESS": BILLS / "submch_success.csv",
              "REFUND": BILLS / "refund.csv"}[bill_type]
    original = source.read_bytes()
    reader, rows = read(original)
    out = io.StringIO(newline="")
    with BillWriter(out, bill_type, sub_merchant_column=reader.sub_merchant_column) as writer:
        writer.write_rows(rows)
    assert writer.summary == reader.summary
    assert out.getvalue().encode() == original
    again, rows_again = read(out.getvalue().encode())
    assert again.bill_type == bill_type
    assert rows_again == rows


def test_all_rows_written_as_success_and_refund_bills():
    payments = [r for r in BillReader(io.BytesIO(EXAMPLE_BYTES)) if r.kind == "payment"]
    out = io.StringIO(newline="")
    with BillWriter(out, "SUCCESS") as writer:
        writer.write_rows(payments)
    reader, rows = read(out.getvalue().encode())
    assert [r.transaction_id for r in rows] == [p.transaction_id for p in payments]
    assert reader.summary.fee_total_fen == 2447
    assert reader.summary.refund_total_fen == 0


# --------------------------------------------------------------------------- hypothesis

NASTY_TEXT = st.text(
    alphabet=st.one_of(st.sampled_from(",`\r\n \t\"'%中文，"), st.characters(codec="utf-8")),
    max_size=30)
DIGITS = "0123456789"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
TIMES = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda t: t.replace(microsecond=0))
FEN = st.integers(0, MAX_FEN)


def clean(text: str) -> str:
    # A bill field never holds control or invisible characters (the reader refuses them).
    text = text.translate(str.maketrans(",`\r\n\x00", "     "))
    return "".join(c if invisible_char(c) is None else " " for c in text)


@st.composite
def bill_rows(draw, bill_type: str) -> BillRow:
    if bill_type == "ALL":
        kind = draw(st.sampled_from(["payment", "refund"]))
    else:
        kind = "payment" if bill_type == "SUCCESS" else "refund"
    tx = "42" + draw(st.text(DIGITS, min_size=26, max_size=26))
    row = BillRow(
        line_no=0, kind=kind, trade_time=draw(TIMES),
        app_id=draw(st.text(ALNUM, max_size=18)),
        mch_id=draw(st.text(DIGITS, min_size=1, max_size=10)),
        sub_mch_id=draw(st.sampled_from(["0", "1230000109"])),
        transaction_id=tx, out_trade_no=draw(st.text(ALNUM, min_size=1, max_size=32)),
        openid=draw(NASTY_TEXT), trade_type=draw(st.sampled_from(["JSAPI", "NATIVE", "APP"])),
        trade_state="SUCCESS", bank_code=draw(st.sampled_from(["ICBC_DEBIT", "OTHERS", ""])),
        currency="CNY", settlement_fen=draw(FEN), coupon_fen=draw(FEN),
        product=draw(NASTY_TEXT), attach=draw(NASTY_TEXT),
        fee_fen=draw(FEN), rate_ppm=draw(st.none() | st.integers(0, 1_000_000)),
        order_fen=draw(FEN), device_info=draw(NASTY_TEXT), rate_note=draw(NASTY_TEXT))
    if kind == "refund":
        row.trade_state = draw(st.sampled_from(["REFUND", "REVOKED"]))
        row.refund_id = "503" + draw(st.text(DIGITS, min_size=1, max_size=26))
        row.refund_no = draw(st.text(ALNUM, min_size=1, max_size=64).filter(lambda s: s != "0"))
        row.refund_fen = draw(FEN)
        row.coupon_refund_fen = draw(FEN)
        row.requested_refund_fen = draw(FEN)
        row.refund_type = draw(st.sampled_from(["ORIGINAL", "BALANCE"]))
        row.refund_status = draw(st.sampled_from(["SUCCESS", "PROCESSING", "CLOSED"]))
        row.fee_fen = -row.fee_fen
        if bill_type == "ALL":
            row.settlement_fen = 0  # docs/bills-wechat.md: 0.00 on refund rows
    elif bill_type == "ALL":
        row.trade_state = draw(st.sampled_from(["SUCCESS", "REVOKED"]))
    if bill_type == "REFUND":
        row.refund_requested_at = draw(TIMES)
        row.refund_succeeded_at = draw(st.none() | TIMES)
    return row


def expected_after_reading(row: BillRow, line_no: int) -> BillRow:
    return replace(row, line_no=line_no, **{
        field: clean(getattr(row, field))
        for field in ("openid", "product", "attach", "device_info", "rate_note")})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_hypothesis_round_trip(data):
    bill_type = data.draw(st.sampled_from(["ALL", "SUCCESS", "REFUND"]))
    rows = data.draw(st.lists(bill_rows(bill_type), max_size=8))
    out = io.StringIO(newline="")
    with BillWriter(out, bill_type) as writer:
        writer.write_rows(rows)
    text = out.getvalue()
    assert "\n" not in text.replace("\r\n", "")
    reader, read_rows = read(text.encode("utf-8"))
    assert reader.bill_type == bill_type
    assert read_rows == [expected_after_reading(row, n + 2) for n, row in enumerate(rows)]
    assert reader.summary == writer.summary
    assert reader.summary.count == len(rows)
    assert reader.summary.fee_total_fen == sum(row.fee_fen for row in rows)


@settings(max_examples=200, deadline=None)
@given(fen=st.integers(0, MAX_FEN))
def test_amount_text_round_trip(fen):
    assert bill_fields.parse_yuan(bill_fields.yuan_text(fen)) == fen
    assert bill_fields.parse_fee(bill_fields.fee_text(fen)) == fen
    assert bill_fields.parse_fee(bill_fields.fee_text(-fen)) == -fen


def test_midnight_boundary_times_round_trip():
    base = datetime(2024, 1, 31, 23, 59, 59)
    for moment in (base, base + timedelta(seconds=1)):
        assert bill_fields.parse_time(bill_fields.time_text(moment)) == moment


FIELD_TEXT = st.text(alphabet="0123456789.-+ %eE_`１４２WTZ:SUCESFNDRVOK", max_size=32)
JUDGED = {
    "应结订单金额": bill_fields.parse_yuan, "代金券金额": bill_fields.parse_yuan,
    "订单金额": bill_fields.parse_yuan, "退款金额": bill_fields.parse_yuan,
    "手续费": bill_fields.parse_fee, "费率": bill_fields.parse_rate,
    "交易时间": bill_fields.parse_time,
    "微信订单号": bill_fields.check_transaction_id,
    "商户订单号": bill_fields.check_out_trade_no,
    "交易状态": bill_fields.check_trade_state,
}


@settings(max_examples=400, deadline=None)
@given(column=st.sampled_from(sorted(JUDGED)), text=FIELD_TEXT)
def test_fast_and_slow_paths_agree_on_every_field(column, text):
    """The one-regex fast path must accept exactly what the per-field parsers accept."""
    lines = list(EXAMPLE_LINES)
    lines[2] = edit_field(lines[2], column, "`" + text)
    try:
        if text or column != "费率":
            JUDGED[column](text)
        field_ok = True
    except bill_fields.BadField:
        field_ok = False
    try:
        read(bill(lines))
    except InvalidInput as error:
        if field_ok:
            # A valid but different value only breaks the totals (or the payment/refund rule).
            assert error.slug in ("bill_does_not_add_up", "invalid_bill_row"), error.message
            if error.slug == "invalid_bill_row":
                assert "refund" in error.message
        else:
            assert error.slug == "invalid_bill_row"
            assert error.message.startswith(f"line 3: bad {column} "), error.message
    else:
        assert field_ok


@pytest.mark.parametrize(("column", "value", "words"), [
    ("货币种类", "`USD", "bad 货币种类 'USD': expected CNY"),
    ("商品名称", "`Snack\x00box", "bad 商品名称"),
    ("交易类型", "`JS\x00API", "bad 交易类型"),
])
def test_a_foreign_currency_or_a_nul_byte_is_a_bad_row(column, value, words):
    lines = list(EXAMPLE_LINES)
    lines[1] = edit_field(lines[1], column, value)
    error = refused(bill(lines))
    assert error.slug == "invalid_bill_row" and error.extra["location"] == "line 2"
    assert words in error.message
    assert error.hint  # every refusal says what to do
