"""The one escaping of the output layer: nothing from a file, the database or an argument
drives the terminal (`shown`), a JSON text carries no raw control character (`dumps`), a TSV
cell no tab or line break (`tsv_cell`), and Rich markup can be read as plain text (`plain`).
Pure text functions: no Rich, no settings; `output` and `tables` both build on them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from wxshop_cli.core.text import REFUSED_CATEGORIES as _ESCAPED

# What `shown` escapes: the categories core.text refuses in typed text (controls, format
# characters such as bidi overrides and zero-width spaces, line/paragraph separators,
# surrogates, private-use and unassigned code points), imported as _ESCAPED.
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape_char(char: str) -> str:
    code = ord(char)
    if char in _SHORT:
        return _SHORT[char]
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def shown(text: str, *, keep_newlines: bool = False) -> str:
    """The one escaping function of the output layer: `text` with every control or invisible
    character written as a Python-style escape (ESC as `\\x1b`, U+202E as `\\u202e`, a tab
    as `\\t`), so nothing from a file, the database or an argument can drive the terminal.
    Backslashes are left alone (`\\x1b` typed as text prints the same: read it as a hint,
    not as proof). Printable text (the common case) is returned as it is, checked in C."""
    if text.isprintable():
        return text
    import unicodedata

    category = unicodedata.category
    return "".join(
        _escape_char(c) if category(c) in _ESCAPED and not (keep_newlines and c == "\n")
        else c for c in text)


def _json_safe(document: str) -> str:
    """A JSON text with the characters `shown` escapes written as `\\uXXXX`: the same JSON
    value, but nothing a terminal would act on (json.dumps leaves DEL, C1 and format
    characters raw with ensure_ascii=False)."""
    if document.isprintable():
        return document
    import unicodedata

    def fix(line: str) -> str:
        if line.isprintable():
            return line
        out = []
        for c in line:
            if unicodedata.category(c) in _ESCAPED:
                code = ord(c)
                if code >= 0x10000:
                    code -= 0x10000
                    out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
                else:
                    out.append(f"\\u{code:04x}")
            else:
                out.append(c)
        return "".join(out)

    return "\n".join(fix(line) for line in document.split("\n"))


def dumps(data: Any, **options: Any) -> str:
    """json.dumps for wxshop's output (UTF-8 as is, terminal-safe; see `_json_safe`)."""
    return _json_safe(json.dumps(data, ensure_ascii=False, default=str, **options))


def _clean(text: str) -> str:
    # A TSV value or an error line never carries tabs or line breaks, nor any other control.
    return shown(text.replace("\t", " ").replace("\r\n", " ").replace("\n", " ")
                 .replace("\r", " "))


def tsv_cell(text: str) -> str:
    """One value of a TSV row, as `emit` writes it (streaming writers use it too)."""
    return _clean(text)



# Rich's markup tags (rich.markup.RE_TAGS): `[style]`, `[/style]`, `[/]`; `\[` escapes one.
_MARKUP_TAG = re.compile(r"((\\*)\[([a-z#/@][^[]*?)])")


def plain(markup: str) -> str:
    """The text of a Rich markup string: tags removed, escaped brackets kept."""

    def untag(match: re.Match[str]) -> str:
        pairs, escaped = divmod(len(match.group(2)), 2)
        return "\\" * pairs + (f"[{match.group(3)}]" if escaped else "")

    return _MARKUP_TAG.sub(untag, markup)


