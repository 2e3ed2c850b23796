"""The zip Alipay serves: its one 业务明细 entry, found by content, read within the zip-bomb
bounds (docs/bills-alipay.md, "How wxshop reads it")."""

from __future__ import annotations

import zipfile
import zlib
from typing import IO, BinaryIO

from wxshop_cli.core.billformat.alipay.grammar import (
    BOM,
    HEADER_UTF8,
    REENCODED,
    TITLE_GBK,
    TITLE_UTF8,
    ZIP_MAGIC,
)
from wxshop_cli.core.billformat.alipay.grammar import fault as _invalid

#: Zip bombs: the detail CSV is at most this many bytes once decompressed...
MAX_CSV_BYTES = 2 * 1024 * 1024 * 1024
#: ...and at most this many times its compressed size (a bill compresses 5-20 times; a run
#: of identical rows ~50).
MAX_RATIO = 200
#: Below this size the ratio is not judged (a tiny bill compresses erratically).
RATIO_FLOOR = 1024 * 1024
MAX_ENTRIES = 16


class _Bounded:
    """The detail CSV's decompressed bytes, read line by line, refused past the zip-bomb
    bounds (MAX_CSV_BYTES, MAX_RATIO × the compressed size): checked on every line read,
    whatever the zip's headers declare."""

    def __init__(self, inner: IO[bytes], compressed: int, name: str) -> None:
        self._inner = inner
        self._limit = min(MAX_CSV_BYTES, max(RATIO_FLOOR, compressed * MAX_RATIO))
        self._name = name
        self.read_bytes = 0

    def readline(self, limit: int = -1) -> bytes:
        try:
            raw = self._inner.readline(limit)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
            raise _invalid(f"corrupt or truncated zip data in {self._name} ({exc})") from None
        self.read_bytes += len(raw)
        if self.read_bytes > self._limit:
            raise _invalid(
                f"{self._name} expands past {_size(self._limit)} (a zip bomb?)",
                hint="a day's 业务明细 is far smaller; download the bill again")
        return raw


def _size(nbytes: int) -> str:
    return (f"{nbytes // (1024 * 1024)} MiB" if nbytes < 1 << 30
            else f"{nbytes / (1 << 30):.0f} GiB")


def _first_line(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        with archive.open(info) as entry:
            return entry.readline(4096)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, ValueError,
            NotImplementedError) as exc:
        raise _invalid(f"corrupt, truncated or encrypted zip entry {info.filename} ({exc})"
                       ) from None


def open_detail(stream: BinaryIO) -> tuple[IO[bytes] | _Bounded, str]:
    """The detail CSV of an Alipay bill as a binary stream, and what to call it: the zip's
    one 业务明细 entry (other entries, such as 业务明细(汇总), are ignored), or the stream
    itself when it is the CSV."""
    head = stream.read(4)
    stream.seek(0)
    if head not in ZIP_MAGIC:
        return stream, "the bill"
    try:
        archive = zipfile.ZipFile(stream)
        entries = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise _invalid(f"corrupt or truncated zip ({exc})") from None
    if len(entries) > MAX_ENTRIES:
        raise _invalid(f"the zip holds {len(entries)} files; an Alipay bill holds two")
    details, reencoded = [], []
    for info in entries:
        first = _first_line(archive, info)
        if first.startswith(BOM):
            first = first[3:]
        if first.startswith(TITLE_GBK):
            details.append(info)
        elif first.startswith((TITLE_UTF8, HEADER_UTF8)):
            reencoded.append(info)
    names = ", ".join(info.filename for info in entries) or "nothing"
    if not details:
        if reencoded:
            raise _invalid(f"{reencoded[0].filename} in the zip is UTF-8 text. {REENCODED}",
                           hint="download the bill again")
        raise _invalid(f"the zip holds no Alipay 业务明细 CSV (#支付宝业务明细查询); it holds "
                       f"{names}")
    if len(details) > 1:
        raise _invalid(f"the zip holds {len(details)} 业务明细 CSVs "
                       f"({', '.join(info.filename for info in details)}); a bill is one "
                       "day's one CSV", hint="reconcile each day's bill on its own")
    info = details[0]
    if info.file_size > MAX_CSV_BYTES or (
            info.file_size > RATIO_FLOOR and info.file_size > info.compress_size * MAX_RATIO):
        raise _invalid(f"{info.filename} would expand to {info.file_size} bytes from "
                       f"{info.compress_size} (a zip bomb?)",
                       hint="a day's 业务明细 is far smaller; download the bill again")
    try:
        entry = archive.open(info)
    except (zipfile.BadZipFile, zlib.error, OSError, RuntimeError, ValueError,
            NotImplementedError) as exc:
        raise _invalid(f"cannot open {info.filename} in the zip ({exc})") from None
    return _Bounded(entry, info.compress_size, info.filename), info.filename
