"""The seam between a bill's bytes and its reader: which bill format a source holds.

`reconcile` reads any bill through ``reader_for(source, stream)``: the first format in
``FORMATS`` that recognises the source's first bytes (``BillSource.head``, decompressed)
reads it. A second format (an Alipay bill, say) is one more ``BillFormat``: a ``name``, a
``recognises(head)`` test on content (never on the file name) and a ``reader(stream)`` that
yields ``BillRow`` and offers what ``BillStream`` lists. It goes before ``WECHAT``, which is
the fallback: it recognises anything, so that a file that is no bill at all is refused with
the WeChat reader's exact reasons.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import BinaryIO, Protocol

from wxshop_cli.core.billformat import alipay
from wxshop_cli.core.billformat.fields import BillRow, BillSummary
from wxshop_cli.core.billformat.reader import BillReader
from wxshop_cli.core.billformat.source import BillSource


class BillStream(Protocol):
    """What `reconcile` reads of a bill: rows (``BillRow``, each row checked as read) and,
    once the iteration is complete, the bill's checked ``summary``. A completed iteration
    means the whole bill is valid; any defect raises InvalidInput naming its line."""

    bill_type: str  # ALL, SUCCESS or REFUND: which of payments and refunds the bill lists
    layout: str  # current, legacy (WeChat Pay) or alipay
    #: Whether each row's ``mch_id`` is a WeChat Pay 商户号 to check against the shop's.
    checks_mch_id: bool
    #: The Beijing day the bill says it covers (its header), if it says one; else None.
    covers: dt.date | None
    rows_read: int
    summary: BillSummary | None

    def __iter__(self) -> Iterator[BillRow]: ...


class BillFormat(Protocol):
    name: str

    def recognises(self, head: bytes) -> bool:
        """Whether a bill starting with these (decompressed) bytes is of this format."""
        ...

    def reader(self, stream: BinaryIO) -> BillStream:
        """A reader of the bill (its header already read and checked) from its start."""
        ...


class _WeChat:
    """WeChat Pay trade bills (交易账单, docs/bills-wechat.md): `BillReader`."""

    name = "wechat"

    def recognises(self, head: bytes) -> bool:
        return True  # the fallback (see the module docstring)

    def reader(self, stream: BinaryIO) -> BillStream:
        return BillReader(stream)


class _Alipay:
    """Alipay's merchant trade bill (业务明细, docs/bills-alipay.md): the zip as downloaded
    or its GBK CSV, read by `alipay.AlipayReader`."""

    name = "alipay"

    def recognises(self, head: bytes) -> bool:
        return alipay.recognises(head)

    def reader(self, stream: BinaryIO) -> BillStream:
        return alipay.AlipayReader(stream)


WECHAT: BillFormat = _WeChat()
ALIPAY: BillFormat = _Alipay()
#: Tried in order; the last recognises anything.
FORMATS: tuple[BillFormat, ...] = (ALIPAY, WECHAT)


def format_of(source: BillSource) -> BillFormat:
    """The format of a bill, recognised by its content."""
    return next(fmt for fmt in FORMATS if fmt.recognises(source.head))


def reader_for(source: BillSource, stream: BinaryIO) -> BillStream:
    """A reader of ``stream`` (opened from ``source``) in the source's format."""
    return format_of(source).reader(stream)
