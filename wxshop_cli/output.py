"""Everything that reaches the user goes through here (SPEC section 3).

stdout is data: exactly one JSON document with `--json`; otherwise a Rich table or panel on
a terminal, and tab-separated rows with one header line in a pipe. stderr is talk: messages,
prompts, warnings and errors. Rich honours `NO_COLOR` itself.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wxshop_cli import clock, money
from wxshop_cli.config import current
from wxshop_cli.errors import UsageError, WxError
from wxshop_cli.escaping import _clean
from wxshop_cli.escaping import dumps as dumps
from wxshop_cli.escaping import plain as plain
from wxshop_cli.escaping import shown as shown
from wxshop_cli.escaping import tsv_cell as tsv_cell

if TYPE_CHECKING:
    from wxshop_cli.tables import Col

_stderr_console = None


_console_class = None


def _safe_console(**options: Any):
    """A Rich Console whose rendered text goes through `shown` (Rich's own styling codes
    are added after, so colours still work): tables, panels, messages and progress bars of
    every command are escaped here, whatever renderable a command builds."""
    global _console_class
    if _console_class is None:
        from rich.console import Console
        from rich.segment import Segment

        class SafeConsole(Console):
            def _render_buffer(self, buffer):
                return super()._render_buffer(
                    segment if segment.control or segment.text.isprintable()
                    else Segment(shown(segment.text, keep_newlines=True), segment.style)
                    for segment in buffer)

        _console_class = SafeConsole
    return _console_class(**options)


def err_console(*, talk: bool = True):
    """The Rich console on stderr (messages, progress bars, prompts). With --quiet it prints
    nothing, except for prompts (`talk=False`)."""
    global _stderr_console

    # Recreated when stderr changes (the test runner swaps streams between invocations).
    if _stderr_console is None or _stderr_console.file is not sys.stderr:
        _stderr_console = _safe_console(file=sys.stderr, highlight=False, soft_wrap=True)
    _stderr_console.quiet = talk and current().quiet
    return _stderr_console


def out_console():
    return _safe_console(file=sys.stdout, highlight=False)


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
        if self.kind == "bool":  # never a blank cell: a false is said, not left out
            if terminal:
                return "yes" if value else "no"
            return "true" if value else "false"
        if terminal and type(value) is int:  # counts read 1,234 on a terminal, not in TSV
            return f"{value:,}"
        if self.kind == "list":
            return shown(",".join(str(v) for v in value))
        return shown(str(value))


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """`1 row`, `2 rows`, `1,234 rows`: a count in human output (JSON and TSV stay plain
    integers)."""
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"


def print_json(data: Any) -> None:
    sys.stdout.write(dumps(data, indent=2) + "\n")
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
    from wxshop_cli.tables import Col

    flexible = {c.key for c in columns if c.kind in ("text", "list")
                and not _is_identifier(c.key)}
    print_table(rows, [Col(c.header, (lambda row, c=c: c.text(row, terminal=True)),  # type: ignore[misc]
                           flexible=c.key in flexible, style=c.style,
                           justify="right" if c.kind == "money" else "left")
                       for c in columns], title=title, empty=empty)


def print_table(rows: list[dict[str, Any]], cols: Sequence[Col], *, title: str | None = None,
                empty: str = "nothing to show") -> None:
    """Print a `tables.FitTable` on stdout (an empty list says `empty` on stderr)."""
    from wxshop_cli.tables import FitTable

    if not rows:
        err_console().print(f"[dim]{empty}[/dim]")
        return
    out_console().print(FitTable(rows, cols, title=title))


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
    (markup removed, no colour), without importing Rich. Nothing with --quiet."""
    if current().quiet:
        return
    if not sys.stderr.isatty():
        sys.stderr.write(shown(plain(message), keep_newlines=True) + "\n")
        sys.stderr.flush()
        return
    err_console().print(message)


def warn(message: str) -> None:
    say(f"[yellow]warning:[/yellow] {message}")


MAX_ERROR_CHARS = 400


def _clip(text: str) -> str:
    """An error never echoes a huge argument back in full."""
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS - 1] + "…"


def report_error(error: WxError) -> None:
    error.message = _clip(error.message)
    if current().json:
        sys.stderr.write(dumps(error.to_json()) + "\n")
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

    return Prompt.ask(label, console=err_console(talk=False), password=secret)


def confirm(label: str, *, default: bool = False) -> bool:
    if not current().interactive:
        return default
    from rich.prompt import Confirm

    return Confirm.ask(label, console=err_console(talk=False), default=default)


def lines(rows: Iterable[str]) -> None:
    for row in rows:
        say(row)
