"""Terminal tables that never cut an id, an amount, a count or a time.

Rich shrinks a table that is wider than the terminal by cutting cells (`card_0661…`,
`¥4,9…`). These tables decide the widths themselves: every column keeps its full width except
the flexible ones (titles, descriptions, URLs, free text), which fold onto more lines. When
even that does not fit, each row is printed as a small block of `header value` lines instead,
so nothing is ever lost whatever the width. Cells are `Text`, never markup, so a title such as
`[/]` prints as it is. Only the terminal rendering is decided here: JSON and TSV go through
`output.emit` as before, and `output.print_table` prints a `FitTable` (this module prints
nothing and imports nothing of `output`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wxshop_cli.escaping import shown

if TYPE_CHECKING:
    from rich.console import Group, JustifyMethod
    from rich.text import Text

#: A flexible column is never made narrower than this (else the rows turn into blocks).
MIN_FLEX = 12


@dataclass(frozen=True)
class Col:
    """One terminal column: its header and how a row becomes its cell."""

    header: str
    cell: Callable[[dict[str, Any]], Text | Group | str]
    flexible: bool = False  # may fold onto several lines; else always shown whole
    justify: JustifyMethod = "left"
    style: str | None = None


def _text(value: Text | Group | str, style: str | None):
    from rich.text import Text

    if not isinstance(value, str):
        return value
    # Escaped before layout so widths are right (the console escapes again, as a last net).
    return Text(shown(value, keep_newlines=True), style=style or "")


def _cell_len(text: str) -> int:
    from rich.cells import cell_len

    return cell_len(text)


def _width(cell) -> int:
    """The widest line of a cell: a Text, or a Group of them (lines of their own)."""
    renderables = getattr(cell, "renderables", None)
    if renderables is not None:
        return max((_width(part) for part in renderables), default=0)
    return max((_cell_len(line) for line in cell.plain.splitlines()), default=0)


def fit_widths(natural: Sequence[int], flexible: Sequence[bool], room: int) -> list[int] | None:
    """Column widths for `room` cells of content: fixed columns keep their natural width;
    flexible ones share what is left (narrow ones keep theirs, the rest split it evenly).
    None when the fixed columns and MIN_FLEX per flexible column do not fit."""
    fixed = sum(width for width, flex in zip(natural, flexible, strict=True) if not flex)
    left = room - fixed
    flex = sorted((width, index) for index, (width, is_flex)
                  in enumerate(zip(natural, flexible, strict=True)) if is_flex)
    if left < sum(min(width, MIN_FLEX) for width, _ in flex):
        return None
    widths = list(natural)
    for position, (width, index) in enumerate(flex):
        share = left // (len(flex) - position)
        widths[index] = max(1, min(width, share))
        left -= widths[index]
    return widths


class FitTable:
    """A Rich renderable: `rows` (JSON-shaped dicts) by `cols`, fitted to the width."""

    def __init__(self, rows: list[dict[str, Any]], cols: Sequence[Col], *,
                 title: str | None = None) -> None:
        self.rows = rows
        self.cols = list(cols)
        self.title = title

    def __rich_console__(self, console, options):
        from rich import box
        from rich.table import Table

        cells = [[_text(col.cell(row), col.style) for col in self.cols] for row in self.rows]
        natural = [max([_cell_len(col.header)] + [_width(row[i]) for row in cells])
                   for i, col in enumerate(self.cols)]
        flexible = [col.flexible for col in self.cols]
        count = len(self.cols)
        # The usual heavy-headed table (3 cells of rules and padding per column, plus the
        # last rule) when every cell fits whole; else a compact one without vertical rules
        # (3 cells between columns) whose flexible columns fold.
        for style, overhead in ((box.HEAVY_HEAD, 3 * count + 1),
                                (box.SIMPLE_HEAD, 3 * (count - 1))):
            widths = fit_widths(natural, flexible, options.max_width - overhead)
            if widths is None or (style is box.HEAVY_HEAD and widths != natural):
                continue
            compact = style is box.SIMPLE_HEAD
            table = Table(title=self.title, title_justify="left", header_style="bold",
                          box=style, show_edge=not compact, pad_edge=not compact)
            for col, width in zip(self.cols, widths, strict=True):
                table.add_column(col.header, width=width, no_wrap=not col.flexible,
                                 overflow="fold", justify=col.justify)
            for row in cells:
                table.add_row(*row)
            yield table
            return
        yield from self._blocks(cells)

    def _blocks(self, cells):
        """Too narrow for a table: one block of `header value` lines per row."""
        from rich.table import Table
        from rich.text import Text

        if self.title:
            yield Text(self.title, style="italic")
        for number, row in enumerate(cells):
            if number:
                yield Text("")
            grid = Table.grid(padding=(0, 1))
            grid.add_column(style="bold", no_wrap=True)
            grid.add_column(overflow="fold")
            for col, value in zip(self.cols, row, strict=True):
                grid.add_row(col.header, value)
            yield grid
