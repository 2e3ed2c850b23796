"""Alipay's merchant trade bill (业务明细, docs/bills-alipay.md): read and written.

What Alipay serves for a day (bill_type ``trade``) is a zip holding the 业务明细 CSV, GBK
text with ``#`` header and footer lines; real downloads also hold a 业务明细(汇总) summary
CSV, which is ignored. The reader takes the zip as downloaded or the detail CSV taken out of
it, and yields the same ``BillRow`` the WeChat reader does, so `reconcile` matches it with the
same SQL and the same kinds of discrepancy:

- 交易 → a payment row (``trade_state`` SUCCESS), 退款 → a refund row (``refund_status``
  SUCCESS: the 业务明细 lists completed business only);
- 商户订单号 → ``out_trade_no``, 支付宝交易号 → ``transaction_id`` (a refund row carries its
  payment's), 退款批次号/请求号 → ``refund_no`` (``refund_id`` is None: Alipay has no refund
  number of its own in this bill);
- 订单金额 → ``order_fen`` (payment) or, negated, ``refund_fen`` (refund: the bill prints it
  negative); 商家实收 → ``settlement_fen``; 商家优惠 → ``coupon_fen``;
- 服务费 → ``fee_fen`` negated (the bill prints the fee taken as negative, the fee returned
  by a refund as positive; ``fee_fen`` is positive on payments as in WeChat bills);
- 完成时间 → ``trade_time`` (and ``refund_succeeded_at`` on refunds): the bill's day is the
  Beijing day of 完成时间. ``mch_id`` is the account of the ``#账号：[…]`` line (the shop keeps
  no Alipay account, so `reconcile` does not compare it). The buyer's masked account
  (对方账户) is not carried.

The bill type is ``ALL`` (payments and refunds). Pure: no database, no clock.

Modules: ``grammar`` (lines, columns, recognising, fields), ``archive`` (the zip, its bounds),
``reader`` (``AlipayReader``), ``writer`` (``AlipayWriter``).
"""

from wxshop_cli.core.billformat.alipay.archive import (
    MAX_CSV_BYTES,
    MAX_ENTRIES,
    MAX_RATIO,
    RATIO_FLOOR,
    open_detail,
)
from wxshop_cli.core.billformat.alipay.grammar import COLUMNS, ENCODING, REQUIRED, recognises
from wxshop_cli.core.billformat.alipay.reader import AlipayReader
from wxshop_cli.core.billformat.alipay.writer import AlipayWriter

__all__ = [
    "COLUMNS",
    "ENCODING",
    "MAX_CSV_BYTES",
    "MAX_ENTRIES",
    "MAX_RATIO",
    "RATIO_FLOOR",
    "REQUIRED",
    "AlipayReader",
    "AlipayWriter",
    "open_detail",
    "recognises",
]
