"""`report funnel` on a terminal (a bar of buyers per step, then how attempts ended and why),
in a pipe (TSV rows) and as JSON (the document as it is); the demo draws the same chart."""

from __future__ import annotations

from typing import Any

from wxshop_cli.output import Column

FUNNEL_COLUMNS = [
    Column("group", "group"), Column("step", "step"), Column("reason", "reason"),
    Column("buyers", "buyers"), Column("attempts", "attempts"), Column("drop", "drop"),
    Column("conversion", "conversion"),
]


def show_funnel(document: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """One JSON document with --json; the flat `rows` as TSV in a pipe; the chart on a
    terminal."""
    from wxshop_cli.config import current
    from wxshop_cli.output import emit, out_console, print_json

    if current().json:
        print_json(document)
        return

    def chart(_rows: Any) -> None:
        console = out_console()
        console.print(funnel_chart(document, width=console.width))

    emit(rows, FUNNEL_COLUMNS, human=chart)




def funnel_chart(document: dict[str, Any], *, width: int = 80, command: str = "") -> Any:
    """The funnel as a Rich renderable: per section (the whole, then each group) a bar of
    buyers per step with its drop, then how attempts ended and why (under `command`, dim, when
    given: the demo says what it ran)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    what = document["promo"] or "all promotions"
    title = f"Funnel of {what}" + (f" on {document['date']}" if document["date"] else "")
    sections = [("", document)] + [(g["label"], g) for g in document.get("groups", [])]
    parts: list[Any] = [Text(command, style="dim"), Text("")] if command else []
    bar_width = max(8, min(32, width - 48))
    for label, section in sections:
        steps = section["steps"]
        top = max((s["buyers"] or 0 for s in steps), default=0) or 1
        table = Table(title=f"{title}{' · ' + label if label else ''}", title_justify="left",
                      header_style="bold")
        table.add_column("step", no_wrap=True)
        for header in ("buyers", "attempts", "drop"):
            table.add_column(header, justify="right", no_wrap=True)
        table.add_column("", no_wrap=True)
        for step in steps:
            buyers = step["buyers"]
            drop = ("" if step["drop"] is None else
                    f"-{step['drop']}" + (f" ({1 - step['conversion']:.0%})"
                                          if step["conversion"] is not None else ""))
            bar = "" if buyers is None else "█" * max(round(buyers * bar_width / top),
                                                      1 if buyers else 0)
            table.add_row(step["step"], "–" if buyers is None else str(buyers),
                          "" if step["attempts"] is None else str(step["attempts"]), drop,
                          Text(bar, style="cyan"))
        parts.append(table)
        ended = [f"{name} {count}" for name, count in section["outcomes"].items() if count]
        parts.append(Text("ended: " + (", ".join(ended) if ended else "no attempts")))
        for outcome, reasons in section["reasons"].items():
            if reasons:
                parts.append(Text(f"  {outcome}: " + ", ".join(f"{r} {n}"
                                                               for r, n in reasons.items())))
    return Group(*parts)
