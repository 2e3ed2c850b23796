"""Everything that reaches the user goes through here (SPEC section 3).

stdout is data: exactly one JSON document with `--json`; otherwise a Rich table or panel on
a terminal, and tab-separated rows with one header line in a pipe. stderr is talk: messages,
prompts, warnings and errors. Rich honours `NO_COLOR` itself.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from wxshop_cli import clock, money
from wxshop_cli.config import current
from wxshop_cli.errors import UsageError, WxError

_stderr_console = None


def err_console():
    """The Rich console on stderr (messages, progress bars, prompts)."""
    global _stderr_console
    from rich.console import Console

    # Recreated when stderr changes (the test runner swaps streams between invocations).
    if _stderr_console is None or _stderr_console.file is not sys.stderr:
        _stderr_console = Console(file=sys.stderr, highlight=False, soft_wrap=True)
    return _stderr_console


def out_console():
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False)


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


# ---------------------------------------------------------------- columns and rendering


@dataclass(frozen=True)
class Column:
    """One column of a table: header, the key in the JSON object, and how to show it."""

    header: str
    key: str
    kind: str = "text"  # text | money | time | bool | list
    style: str | None = None

    def value(self, row: dict[str, Any]) -> Any:
        return row.get(self.key)

    def text(self, row: dict[str, Any], *, terminal: bool) -> str:
        value = self.value(row)
        if value is None:
            return ""
        if self.kind == "money":
            return money.display(value) if terminal else money.yuan(value)
        if self.kind == "time":
            from datetime import datetime

            tz = current().tz
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
            return clock.human(parsed, tz)
        if self.kind == "bool":
            if terminal:
                return "✓" if value else ""
            return "true" if value else "false"
        if self.kind == "list":
            return ",".join(str(v) for v in value)
        return str(value)


def _clean(text: str) -> str:
    # A TSV value never carries tabs or line breaks.
    return text.replace("\t", " ").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def emit(
    data: dict[str, Any] | list[dict[str, Any]],
    columns: Sequence[Column],
    *,
    title: str | None = None,
    empty: str = "nothing to show",
    human: Callable[[Any], None] | None = None,
) -> None:
    """Print a result: JSON, a terminal table/panel, or TSV.

    `human`, if given, replaces the default terminal rendering (a custom panel or chart);
    JSON and TSV are never customised, so scripts see one stable shape."""
    if current().json:
        print_json(data)
        return
    rows = data if isinstance(data, list) else [data]
    if not stdout_is_terminal():
        lines = ["\t".join(c.header for c in columns)]
        for row in rows:
            lines.append("\t".join(_clean(c.text(row, terminal=False)) for c in columns))
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
        return
    if human is not None:
        human(data)
        return
    if isinstance(data, list):
        render_table(rows, columns, title=title, empty=empty)
    else:
        render_panel(data, columns, title=title)


def render_table(rows: list[dict[str, Any]], columns: Sequence[Column], *,
                 title: str | None = None, empty: str = "nothing to show") -> None:
    """A terminal table that never cuts ids, money, counts or times (wxshop_cli.tables);
    free-text columns fold instead."""
    from wxshop_cli import tables

    flexible = [c.key for c in columns if c.kind in ("text", "list")
                and not _is_identifier(c.key)]
    tables.render(rows, tables.from_columns(columns, flexible), title=title, empty=empty)


def _is_identifier(key: str) -> bool:
    return key in ("id", "code", "sku", "qty", "stock", "status") or key.endswith(
        ("_id", "_no", "_key", "_fen"))


def render_panel(row: dict[str, Any], columns: Sequence[Column], *,
                 title: str | None = None) -> None:
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.columns[1].overflow = "fold"
    for column in columns:
        # Text, never markup: a title such as "[/]" prints as it is.
        grid.add_row(column.header, Text(column.text(row, terminal=True)))
    out_console().print(Panel(grid, title=Text(title) if title else None, title_align="left",
                              expand=False))


def done(data: dict[str, Any], message: str) -> None:
    """Report an action: the JSON object with --json, else one line.

    On a pipe the line goes to stdout (it is the data: `created card_...`)."""
    if current().json:
        print_json(data)
    else:
        sys.stdout.write(_clean(message) + "\n")
        sys.stdout.flush()


def say(message: str) -> None:
    """Talk on stderr (never with --json? it is stderr, so it stays harmless).

    Rich draws it on a terminal; elsewhere the line is written as Rich would write it there
    (markup removed, no colour), without importing Rich."""
    if not sys.stderr.isatty():
        sys.stderr.write(plain(message) + "\n")
        sys.stderr.flush()
        return
    err_console().print(message)


def warn(message: str) -> None:
    say(f"[yellow]warning:[/yellow] {message}")


# Rich's markup tags (rich.markup.RE_TAGS): `[style]`, `[/style]`, `[/]`; `\[` escapes one.
_MARKUP_TAG = re.compile(r"((\\*)\[([a-z#/@][^[]*?)])")


def plain(markup: str) -> str:
    """The text of a Rich markup string: tags removed, escaped brackets kept."""

    def untag(match: re.Match[str]) -> str:
        pairs, escaped = divmod(len(match.group(2)), 2)
        return "\\" * pairs + (f"[{match.group(3)}]" if escaped else "")

    return _MARKUP_TAG.sub(untag, markup)


MAX_ERROR_CHARS = 400


def _clip(text: str) -> str:
    """An error never echoes a huge argument back in full."""
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS - 1] + "…"


def report_error(error: WxError) -> None:
    error.message = _clip(error.message)
    if current().json:
        sys.stderr.write(json.dumps(error.to_json(), ensure_ascii=False, default=str) + "\n")
        return
    for detail in error.details:
        sys.stderr.write(_clip(_clean(detail)) + "\n")
    sys.stderr.write(_clean(error.line()) + "\n")
    sys.stderr.flush()


# ---------------------------------------------------------------- prompts


def require_terminal(what: str, option: str) -> None:
    """No prompt without a terminal: a missing value is then a usage error."""
    if not current().interactive:
        raise UsageError(f"missing {what}", slug="missing_value",
                         hint=f"pass {option}; no prompt without a terminal")


def prompt_text(label: str, *, what: str, option: str, secret: bool = False) -> str:
    require_terminal(what, option)
    from rich.prompt import Prompt

    return Prompt.ask(label, console=err_console(), password=secret)


def confirm(label: str, *, default: bool = False) -> bool:
    if not current().interactive:
        return default
    from rich.prompt import Confirm

    return Confirm.ask(label, console=err_console(), default=default)


def lines(rows: Iterable[str]) -> None:
    for row in rows:
        say(row)
