from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

import typer

from wxshop_cli.cli import group
from wxshop_cli.output import Column

app = group("bill", """WeChat Pay trade bills of the sandbox payment platform.

Examples:
  $ wxshop bill export --date 2013-11-11 -o bill-20131111.csv
  $ wxshop bill export --date 2013-11-11 --type REFUND
""")

EXPORT_COLUMNS = [
    Column("path", "path"), Column("bill_date", "bill_date"), Column("bill_type", "bill_type"),
    Column("rows", "rows"), Column("payments", "payments"), Column("refunds", "refunds"),
    Column("settlement", "settlement_fen", "money"), Column("refunded", "refund_fen", "money"),
    Column("fees", "fee_fen", "money"), Column("gzip", "gzip", "bool"),
    Column("sha256", "sha256"),
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


@app.command("export")
def export(date: Date, bill_type: Type = BillType.ALL, output: Output = "-",
           compress: Gzip = False) -> None:
    """Write one Beijing day of the gateway's ledger as a trade bill.

    The WeChat Pay format (docs/bills-wechat.md): CRLF, backticked values, five-decimal
    fees, a summary that adds up. What `wxshop reconcile` reads.

    Examples:
      $ wxshop bill export --date 2013-11-11 -o bill-20131111.csv
      $ wxshop bill export --date 2013-11-11 --gzip -o bill-20131111.csv.gz
      $ wxshop bill export --date 2013-11-11 --type SUCCESS
    """
    import sys

    from wxshop_cli.config import current
    from wxshop_cli.errors import os_error
    from wxshop_cli.output import emit

    settings = current()
    target, special = _target(output, compress, json_output=settings.json)

    from wxshop_cli.core.bill_export import write_bill
    from wxshop_cli.db.engine import database

    db = database()
    day = date.date()
    kind = bill_type.value
    if target is None:
        sys.stdout.flush()
        write_bill(db, day, kind, sys.stdout.buffer, compress=compress)
        return
    if special:
        try:
            with open(target, "wb") as out:
                result = write_bill(db, day, kind, out, compress=compress)
        except OSError as exc:
            raise os_error(exc, f"cannot write bill {target}", read_only_slug="bill_unwritable",
                           slug="bill_unwritable") from None
    else:
        result = _write_beside(db, day, kind, target, compress)
    shown = result.public()
    data = {"path": str(target), **shown, "gzip": compress}
    if settings.json:
        emit(data, EXPORT_COLUMNS)
    else:
        emit({**data, **shown["totals"]}, EXPORT_COLUMNS, title=f"Bill {day.isoformat()} ({kind})")


def _target(output: str, compress: bool, *, json_output: bool):
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
        if compress and stdout_is_terminal():
            raise UsageError("refusing to write gzip data to a terminal",
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


def _write_beside(db, day, kind: str, target, compress: bool):
    """Write beside the target and rename, so a reader never sees half a bill (a full disk
    leaves nothing behind: `disk_full`, exit 9)."""
    import os
    import tempfile
    from pathlib import Path

    from wxshop_cli.core.bill_export import write_bill
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
            result = write_bill(db, day, kind, out, compress=compress)
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
