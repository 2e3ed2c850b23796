"""A bill's bytes, openable any number of times: a plain or gzip file, or standard input
(or a pipe) spooled to memory or a temporary file. Knows nothing of any bill format."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import stat
import tempfile
import time
import weakref
import zlib
from pathlib import Path
from typing import BinaryIO

from wxshop_cli.errors import InvalidInput, UsageError

_GZIP_MAGIC = b"\x1f\x8b"
_SPOOL_IN_MEMORY = 8 * 1024 * 1024
_CHUNK = 1024 * 1024
#: How much of the decompressed start `BillSource.head` keeps (to recognise a format).
HEAD_BYTES = 4096


def _unreadable(name: object, exc: OSError | str) -> UsageError:
    reason = exc if isinstance(exc, str) else (exc.strerror or exc)
    return UsageError(f"cannot read bill {name}: {reason}", slug="bill_unreadable")


class BillSource:
    """A bill's content that can be opened any number of times, each time from the start.

    Made by ``open_bill``. ``open()`` returns a fresh binary stream of the DECOMPRESSED
    content (gzip is detected by its magic bytes and undone transparently); streams are
    independent, so two passes (or two readers at once) are cheap. ``sha256`` (hex) and
    ``size`` are of the decompressed content, ``head`` its first bytes (up to 4 KiB).
    ``close()`` (or leaving the ``with`` block) removes the temporary spool file of a bill
    read from stdin; streams already opened should be closed by their users.
    """

    def __init__(self, name: str, *, path: Path | None = None, data: bytes | None = None,
                 temp: Path | None = None) -> None:
        self.name = name
        self._path = path
        self._data = data
        self._temp = temp
        self._finalizer = (weakref.finalize(self, _unlink_quietly, temp)
                           if temp is not None else None)
        with self._raw_open() as head:
            self.compressed = head.read(2) == _GZIP_MAGIC
        self.head = b""
        self.sha256, self.size = self._digest()

    def _raw_open(self) -> BinaryIO:
        if self._data is not None:
            return io.BytesIO(self._data)
        assert self._path is not None
        try:
            return open(self._path, "rb")
        except OSError as exc:
            raise _unreadable(self.name, exc) from None

    def open(self) -> BinaryIO:
        """A new binary stream at the start of the decompressed bill; the caller closes it."""
        if not self.compressed:
            return self._raw_open()
        if self._data is not None:
            return gzip.GzipFile(fileobj=io.BytesIO(self._data), mode="rb")  # type: ignore[return-value]
        try:
            # Given a file name, GzipFile owns the file and closes it with itself.
            return gzip.GzipFile(filename=self._path, mode="rb")  # type: ignore[return-value]
        except OSError as exc:
            raise _unreadable(self.name, exc) from None

    def _digest(self) -> tuple[str, int]:
        digest = hashlib.sha256()
        size = 0
        stream = self.open()
        try:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
                if size < HEAD_BYTES:
                    self.head = (self.head + chunk)[:HEAD_BYTES]
                size += len(chunk)
        except (OSError, EOFError, zlib.error) as exc:
            if self.compressed:
                raise InvalidInput(f"bill {self.name}: corrupt or truncated gzip data ({exc})",
                                   slug="invalid_bill") from None
            raise _unreadable(self.name, str(exc)) from None
        finally:
            stream.close()
        return digest.hexdigest(), size

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> BillSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def open_bill(path_or_dash: str | os.PathLike[str], *,
              stdin: BinaryIO | None = None) -> BillSource:
    """Open a bill given as a path (plain or gzip, detected by magic bytes) or ``-``.

    ``-`` reads ``stdin``, the stream the command hands over (the core reads no standard
    input itself), to its end and spools it — in memory up to 8 MiB, then to a temporary
    file deleted by ``close()`` — so the bill can be read in two passes. Returns a
    ``BillSource``: ``source.open()`` gives a binary stream for a reader, ``source.sha256``
    the SHA-256 of the decompressed content.
    A bill that cannot be opened raises UsageError ``bill_unreadable``.
    """
    if str(path_or_dash) == "-":
        if stdin is None:
            raise ValueError('open_bill("-") needs the stdin stream')
        return _spool("<stdin>", stdin)
    path = Path(path_or_dash)
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise _unreadable(path, exc) from None
    if stat.S_ISDIR(mode):
        raise _unreadable(path, "it is a directory")
    if not stat.S_ISREG(mode):
        # A pipe (`<(zcat ...)`, /dev/stdin) can be read once only: spool it like stdin.
        try:
            with open(path, "rb") as pipe:
                return _spool(str(path), pipe)
        except OSError as exc:
            raise _unreadable(path, exc) from None
    return BillSource(str(path), path=path)


#: A spool file is named `wxshop-bill-<pid>-<random>.spool`; one whose process is gone and
#: that is older than this is the leftover of a killed run and is removed by the next one.
STALE_SPOOL_SECONDS = 60


def clean_stale_spools(directory: str | None = None) -> int:
    """Remove the spool files of killed runs (see STALE_SPOOL_SECONDS); returns how many."""
    removed = 0
    folder = Path(directory or tempfile.gettempdir())
    cutoff = time.time() - STALE_SPOOL_SECONDS
    for path in folder.glob("wxshop-bill-*.spool"):
        pid_text = path.name[len("wxshop-bill-"):].split("-", 1)[0]
        try:
            if not pid_text.isdigit() or path.stat().st_mtime > cutoff or _alive(int(pid_text)):
                continue
            path.unlink()
            removed += 1
        except OSError:  # gone meanwhile, or another user's
            continue
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _spool(name: str, stream: BinaryIO) -> BillSource:
    clean_stale_spools()
    buffer = bytearray()
    temp: Path | None = None
    spool = None
    try:
        while chunk := stream.read(_CHUNK):
            if spool is not None:
                spool.write(chunk)
                continue
            buffer += chunk
            if len(buffer) > _SPOOL_IN_MEMORY:
                spool = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below
                    prefix=f"wxshop-bill-{os.getpid()}-", suffix=".spool", delete=False)
                temp = Path(spool.name)
                spool.write(buffer)
                buffer = bytearray()
    except BaseException:
        if spool is not None:
            spool.close()
        if temp is not None:
            _unlink_quietly(temp)
        raise
    if spool is not None:
        spool.close()
        return BillSource(name, path=temp, temp=temp)
    return BillSource(name, data=bytes(buffer))
