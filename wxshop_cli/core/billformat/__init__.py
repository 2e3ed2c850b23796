"""Streaming reader and writer of WeChat Pay trade bills (交易账单): docs/bills-wechat.md;
and of Alipay's 业务明细 (the zip of a GBK CSV): ``alipay``, docs/bills-alipay.md.

Pure: no database, no clock. Money is integer fen; no float or Decimal on the per-row path.
One concern per module:

- ``fields``: the columns, ``BillRow`` / ``BillSummary``, every field's text both ways;
- ``layout``: the header lines (which column carries which field, current and older layout);
- ``faults``: the errors of a refused bill, and the slow path naming a bad line's column;
- ``reader``: ``BillReader``, the streaming, validating reader;
- ``writer``: ``BillWriter``;
- ``source``: ``open_bill`` / ``BillSource``, a bill's bytes (gzip, stdin spool);
- ``formats``: which reader reads a source (``reader_for``): the seam for other formats;
- ``alipay``: Alipay's 业务明细, read (``AlipayReader``, zip and zip-bomb bounds included) into
  the same ``BillRow`` and written (``AlipayWriter``).

Reading::

    source = open_bill(path_or_dash)          # path, gzip file or "-" (stdin, spooled)
    with source:
        reader = BillReader(source.open())    # pass 1: validate every row and the totals
        for row in reader:
            ...
        reader.summary                        # the bill's own summary, checked
        for row in BillReader(source.open()): # pass 2: the same bytes again
            ...
        source.sha256                         # of the decompressed content

Writing::

    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = BillWriter(out, "ALL")
        for row in rows:
            writer.write(row)
        summary = writer.finish()             # summary header and values; totals add up

Error slugs (all InvalidInput, exit 3, with ``location="line N"`` when a line is known):
``invalid_bill`` (empty, not a bill, Alipay export, not UTF-8, truncated, bad gzip, bad
summary line), ``bill_missing_columns`` (required columns absent from the header),
``invalid_bill_row`` (a malformed detail line), ``bill_does_not_add_up`` (summary differs from
the running sums). A bill file that cannot be opened is ``bill_unreadable`` (UsageError,
exit 2).

The older layout (``总金额,代金券或立减优惠金额,…`` with summary ``总交易单数,总交易额,…``) is
read: ``总金额`` becomes both ``settlement_fen`` and ``order_fen``, ``代金券或立减优惠金额`` the
coupon, ``代金券或立减优惠退款金额`` the coupon refund; ``requested_refund_fen`` is 0 and the
summary's ``order_total_fen`` / ``requested_refund_total_fen`` are None (that layout has no
such totals). ``BillReader.layout`` says ``"legacy"`` for it, ``"current"`` otherwise.
"""

from wxshop_cli.core.billformat.fields import (
    ALL_COLUMNS,
    BILL_TYPES,
    REFUND_COLUMNS,
    SUCCESS_COLUMNS,
    SUMMARY_COLUMNS,
    BillRow,
    BillSummary,
)
from wxshop_cli.core.billformat.formats import BillFormat, BillStream, reader_for
from wxshop_cli.core.billformat.reader import MAX_LINE_BYTES, BillReader
from wxshop_cli.core.billformat.source import BillSource, open_bill
from wxshop_cli.core.billformat.writer import BillWriter

__all__ = [
    "ALL_COLUMNS",
    "BILL_TYPES",
    "MAX_LINE_BYTES",
    "REFUND_COLUMNS",
    "SUCCESS_COLUMNS",
    "SUMMARY_COLUMNS",
    "BillFormat",
    "BillReader",
    "BillRow",
    "BillSource",
    "BillStream",
    "BillSummary",
    "BillWriter",
    "open_bill",
    "reader_for",
]
