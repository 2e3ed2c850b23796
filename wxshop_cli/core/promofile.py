"""Reading the promotion file of `wxshop promo publish FILE` (SPEC section 4): the bytes of a
file or of stdin, parsed as TOML or as the same keys in JSON into a document, which
`core.promos.file.parse_spec` checks completely (every mistake with its key path) before the
database is opened. Floats are kept as `FloatText` so that the checks can refuse them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from wxshop_cli.core.promos.file import (  # noqa: F401 - the names callers use from here
    ITEM_KEYS,
    TOP_KEYS,
    FloatText,
    ItemSpec,
    PromoSpec,
    parse_spec,
)
from wxshop_cli.core.promos.report import mistakes_error
from wxshop_cli.errors import UsageError

# ------------------------------------------------------------------ reading

#: `promo publish -`: the file comes on stdin (TOML, or JSON when it starts with `{`).
STDIN = "-"


def _unreadable(source: str, reason: str) -> UsageError:
    return UsageError(f"{source}: {reason}", slug="invalid_file",
                      hint="give a readable TOML or JSON promotion file, or - to read it "
                           "from stdin")


def read_bytes(path: Path) -> bytes:
    """The file's bytes; a directory or a file that cannot be read is a usage error (2,
    `invalid_file`)."""
    from wxshop_cli.core.inputlimits import read_bounded

    source = str(path)
    try:
        if path.is_dir():
            raise _unreadable(source, "is a directory, not a promotion file")
        return read_bounded(path, lambda reason: _unreadable(source, reason))
    except IsADirectoryError:
        raise _unreadable(source, "is a directory, not a promotion file") from None
    except OSError as exc:
        raise _unreadable(source, f"cannot read the file: {exc.strerror or exc}") from None


def read_document(path: Path) -> dict[str, Any]:
    """Parse a TOML or JSON file (by suffix, else by its first character) into a mapping."""
    return parse_document(read_bytes(path), source=str(path), suffix=path.suffix.lower())


def parse_document(data: bytes, *, source: str, suffix: str = "") -> dict[str, Any]:
    """Parse TOML or JSON text: JSON for a `.json` suffix, TOML for `.toml`, else JSON when
    the text starts with `{` and TOML otherwise (how stdin is read)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise mistakes_error(source, ["file: not UTF-8 text"]) from None
    is_json = suffix == ".json" or (suffix != ".toml" and text.lstrip().startswith("{"))
    from wxshop_cli.core.inputlimits import MAX_DEPTH, too_deep

    where = too_deep(text, toml=not is_json)
    if where is not None:
        raise mistakes_error(source, [f"{where}: nested more than {MAX_DEPTH} levels deep"])
    duplicates: list[str] = []
    if is_json:
        def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
            seen: dict[str, Any] = {}
            for key, value in items:
                if key in seen:
                    duplicates.append(f"{key}: the key appears twice in one object")
                seen[key] = value
            return seen

        def constant(name: str) -> Any:
            return FloatText(name)

        try:
            document = json.loads(text, parse_float=FloatText, parse_constant=constant,
                                  object_pairs_hook=pairs)
        except json.JSONDecodeError as exc:
            raise mistakes_error(source, [f"line {exc.lineno}, column {exc.colno}: "
                                          f"not JSON: {exc.msg}"]) from None
        except (ValueError, RecursionError):  # an integer of thousands of digits
            raise mistakes_error(source, ["file: a number too long to be one"]) from None
    else:
        import tomllib

        try:
            document = tomllib.loads(text, parse_float=FloatText)
        except (ValueError, RecursionError) as exc:
            if not isinstance(exc, tomllib.TOMLDecodeError):
                raise mistakes_error(source, ["file: a number too long to be one"]) from None
            message = str(exc)
            at = re.search(r"\(at line (\d+), column (\d+)\)", message)
            reason = re.sub(r"\s*\(at .*\)$", "", message)
            location = f"line {at[1]}, column {at[2]}" if at else "file"
            raise mistakes_error(source, [f"{location}: not TOML: {reason}"]) from None
    if duplicates:
        raise mistakes_error(source, duplicates)
    if not isinstance(document, dict):
        raise mistakes_error(source, ["file: expected an object of promotion keys"])
    return document


def load(path: Path, tz: ZoneInfo) -> PromoSpec:
    return parse_spec(read_document(path), tz, source=str(path))


def load_bytes(data: bytes, tz: ZoneInfo, *, source: str = "<stdin>") -> PromoSpec:
    """`promo publish -`: the same checks on a file read elsewhere (the command reads stdin:
    wxshop_cli/terminal.py)."""
    return parse_spec(parse_document(data, source=source), tz, source=source)
