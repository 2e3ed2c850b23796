from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer

from wxshop_cli.cli import group
from wxshop_cli.output import Column

if TYPE_CHECKING:
    from collections.abc import Callable

    from wxshop_cli.core.bill_export import ExportResult
    from wxshop_cli.db.engine import Database

app = group("bill", """Trade bills of the sandbox payment platform.

Examples:
  $ wxshop bill export --date 2013-11-11 -o bill-20131111.csv
  $ wxshop bill export --date 2013-11-11 --type REFUND
  $ wxshop bill export --date 2013-11-11 --format alipay -o alipay-20131111.zip
""")

EXPORT_COLUMNS = [
    Column("path", "path"), Column("bill_date", "bill_date"), Column("bill_type", "bill_type"),
    Column("rows", "rows"), Column("payments", "payments"), Column("refunds", "refunds"),
    Column("settlement", "settlement_fen", "money"), Column("refunded", "refund_fen", "money"),
    Column("fees", "fee_fen", "money"), Column("gzip", "gzip", "bool"),
    Column("sha256", "sha256"), Column("format", "format"),
]


class BillType(StrEnum):
    ALL = "ALL"
    SUCCESS = "SUCCESS"
    REFUND = "REFUND"


Date = Annotated[dt.datetime, typer.Option(
    "--date", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD",
    help="The bill day, in Beijing time (bills always are).")]
Type = Annotated[BillType, typer.Option("--type", case_sensitive=False, metavar="TYPE",
                                        help="ALL, SUCCESS (payments) or REFUND.")]
Output = Annotated[str, typer.Option("-o", "--output", metavar="FILE",
                                     help="Write here (default or '-': stdout).")]
Gzip = Annotated[bool, typer.Option("--gzip", help="gzip-compress the bill.")]


class BillFormat(StrEnum):
    WECHAT = "wechat"
    ALIPAY = "alipay"


Format = Annotated[BillFormat, typer.Option(
    "--format", case_sensitive=False, metavar="FORMAT",
    help="wechat (a trade bill) or alipay (业务明细: a zip of one GBK CSV, type ALL).")]


@app.command("export")
def export(date: Date, bill_type: Type = BillType.ALL, output: Output = "-",
           compress: Gzip = False, bill_format: Format = BillFormat.WECHAT) -> None:
    """Write one Beijing day of the gateway's ledger as a trade bill.

    The WeChat Pay format (docs/bills-wechat.md): CRLF, backticked values, five-decimal
    fees, a summary that adds up. What `wxshop reconcile` reads. `--format alipay`
    writes an Alipay bill instead: a zip of one GBK CSV (docs/bills-alipay.md).

    Examples:
      $ wxshop bill export --date 2013-11-11 -o bill-20131111.csv
      $ wxshop bill export --date 2013-11-11 --gzip -o bill-20131111.csv.gz
      $ wxshop bill export --date 2013-11-11 --type SUCCESS
      $ wxshop bill export --date 2013-11-11 --format alipay -o alipay-20131111.zip
    """
    import sys

    from wxshop_cli.config import current
    from wxshop_cli.errors import os_error
    from wxshop_cli.output import emit

    settings = current()
    alipay = bill_format is BillFormat.ALIPAY
    _check_alipay(alipay, compress, bill_type)
    target, special = _target(output, compress or alipay, json_output=settings.json,
                              what="zip" if alipay else "gzip")

    from wxshop_cli.db.engine import database

    day = date.date()
    kind = bill_type.value
    writer = _writer(database(), day, kind, alipay=alipay, compress=compress)
    if target is None:
        sys.stdout.flush()
        writer(sys.stdout.buffer)
        return
    if special:
        try:
            with open(target, "wb") as out:
                result = writer(out)
        except OSError as exc:
            raise os_error(exc, f"cannot write bill {target}", read_only_slug="bill_unwritable",
                           slug="bill_unwritable") from None
    else:
        result = _write_beside(writer, target)
    shown = result.public()
    data = {"path": str(target), **shown, "gzip": compress}
    if settings.json:
        emit(data, EXPORT_COLUMNS)
    else:
        emit({**data, **shown["totals"]}, EXPORT_COLUMNS,
             title=f"Bill {day.isoformat()} ({kind}, {result.format})")


def _check_alipay(alipay: bool, compress: bool, bill_type: BillType) -> None:
    from wxshop_cli.errors import UsageError

    if alipay and (compress or bill_type is not BillType.ALL):
        raise UsageError("an Alipay bill is a zip of one 业务明细 listing payments and refunds: "
                         "--gzip and --type do not apply", slug="usage",
                         hint="drop --gzip and --type with --format alipay")


def _writer(db: Database, day: dt.date, kind: str, *, alipay: bool, compress: bool
            ) -> Callable[[BinaryIO], ExportResult]:
    """write(binary) → ExportResult: the bill in the chosen format, its rows streamed out of
    one read transaction as they are written."""
    from wxshop_cli.core import bill_export

    def write(binary: BinaryIO) -> ExportResult:
        with db.transaction(read_only=True) as session:
            if alipay:
                return bill_export.write_alipay_bill(session, day, binary)
            return bill_export.write_bill(session, day, kind, binary, compress=compress)

    return write


def _target(output: str, binary: bool, *, json_output: bool, what: str = "gzip"):
    """Where the bill goes, checked before the database: (None for stdout, or the path;
    whether it is a device or pipe such as `-o /dev/stdout`, written in place, never
    replaced)."""
    from pathlib import Path

    from wxshop_cli.errors import UsageError, os_error
    from wxshop_cli.output import stdout_is_terminal

    if output == "-":
        if json_output:
            raise UsageError("--json cannot share stdout with the bill",
                             slug="json_with_stdout",
                             hint="write the bill with -o FILE to get a JSON report")
        if binary and stdout_is_terminal():
            raise UsageError(f"refusing to write {what} data to a terminal",
                             slug="gzip_to_terminal", hint="redirect stdout or use -o FILE")
        return None, False
    target = Path(output)
    try:
        if target.is_dir():
            raise UsageError(f"cannot write bill {target}: it is a directory",
                             slug="bill_unwritable")
        if not target.parent.is_dir():
            raise UsageError(f"cannot write bill {target}: directory {target.parent} does not "
                             "exist", slug="bill_unwritable")
        return target, target.exists() and not target.is_file()
    except OSError as exc:
        raise os_error(exc, f"cannot write bill {target}", read_only_slug="bill_unwritable",
                       slug="bill_unwritable") from None


def _write_beside(writer, target):
    """Write beside the target and rename, so a reader never sees half a bill (a full disk
    leaves nothing behind: `disk_full`, exit 9)."""
    import os
    import tempfile
    from pathlib import Path

    from wxshop_cli.errors import os_error

    def fault(exc: OSError):
        return os_error(exc, f"cannot write bill {target}", read_only_slug="bill_unwritable",
                        slug="bill_unwritable")

    try:
        handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part",
                                             dir=target.parent)
    except OSError as exc:
        raise fault(exc) from None
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            result = writer(out)
        os.chmod(temp, 0o644 & ~_umask())
        os.replace(temp, target)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise fault(exc) from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return result


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask
