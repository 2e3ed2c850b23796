"""Bounds on the files wxshop reads whole (promotion files, fixtures): a regular file of at
most MAX_FILE_BYTES, nested at most MAX_DEPTH deep. Bills stream and have no size limit (a
single bill line does: billformat.MAX_LINE_BYTES).

Device files and FIFOs are refused before they are opened (`/dev/zero` would be read until
memory runs out; opening a FIFO waits for a writer). Depth is measured on the text, before
the parser sees it, so `[[[[...` a hundred thousand deep is a located mistake, not a
RecursionError. Pure standard library; raises the caller's error type.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Callable
from pathlib import Path

#: A promotion file or fixture is at most 4 MiB (a promotion of thousands of items is ~1 MiB).
MAX_FILE_BYTES = 4 * 1024 * 1024
#: Arrays and tables/objects nest at most this deep (real files use 4 or 5 levels).
MAX_DEPTH = 32


def read_bounded(path: Path, fail: Callable[[str], Exception], *,
                 limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the regular file `path`, at most `limit`; else raises `fail(reason)`.
    OSError (missing, unreadable) is left to the caller."""
    mode = path.stat().st_mode
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(21, "Is a directory", str(path))
    if not stat.S_ISREG(mode):
        raise fail("not a regular file (a device, pipe or socket); give a file")
    with path.open("rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise fail(f"larger than {limit // (1024 * 1024)} MiB")
    return data


def read_stream_bounded(stream, fail: Callable[[str], Exception], *,
                        limit: int = MAX_FILE_BYTES) -> bytes:
    """At most `limit` bytes of a binary stream (stdin); more raises `fail(reason)`."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise fail(f"larger than {limit // (1024 * 1024)} MiB")
    return data


_JSON_TOKENS = re.compile(r'["\\\[\]{}\n]')
_TOML_TOKENS = re.compile(r'"""|\'\'\'|["\'\\\[\]{}\n#]')


def too_deep(text: str, *, toml: bool, limit: int = MAX_DEPTH) -> str | None:
    """`line L, column C` where `text` opens its (limit+1)-th nested array or object, or None.
    Brackets inside strings (and TOML comments) do not count."""
    tokens = _TOML_TOKENS if toml else _JSON_TOKENS
    depth = 0
    line, line_start = 1, 0
    quote: str | None = None  # the string being read: " ' """ '''
    comment = False
    pos = 0
    while (match := tokens.search(text, pos)) is not None:
        token = match.group()
        pos = match.end()
        if token == "\n":
            line, line_start = line + 1, pos
            comment = False
            if quote in ('"', "'") and toml:
                quote = None  # a one-line TOML string ends at the line (the parser judges)
            continue
        if comment:
            continue
        if quote is not None:
            if token == "\\" and quote in ('"', '"""'):
                pos += 1  # the escaped character
            elif token == quote:
                quote = None
            continue
        if token in ('"', "'", '"""', "'''"):
            quote = token if toml or token == '"' else None
        elif token == "#" and toml:
            comment = True
        elif token in "[{":
            depth += 1
            if depth > limit:
                return f"line {line}, column {match.start() - line_start + 1}"
        elif token in "]}":
            depth = max(0, depth - 1)
    return None
