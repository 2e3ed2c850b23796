from __future__ import annotations

from typing import Annotated

import typer

from wxshop_cli.output import Column, emit


def demo(
    force: Annotated[bool, typer.Option("--force", help="With --db: wipe a database that is "
                                                        "not empty and run the story on it.")]
    = False,
) -> None:
    """Run the Double 11 story end to end on its own database (demo.db in the data directory,
    recreated each run; never the one in WXSHOP_DB)."""
    from wxshop_cli.config import current
    from wxshop_cli.core import demo as story
    from wxshop_cli.db.scratch import open_scratch
    from wxshop_cli.output import err_console, out_console, stdout_is_terminal

    settings = current()
    db = open_scratch(settings, "demo.db", force=force, slug="demo_not_empty")

    terminal = stdout_is_terminal() and not settings.json

    def show(number: int, chapter: story.Chapter) -> None:
        if terminal:
            from rich.panel import Panel
            from rich.pretty import Pretty

            body = chapter.renderable if chapter.renderable is not None else Pretty(
                chapter.summary)
            out_console().print(Panel(body, title=f"{number}. {chapter.title}",
                                      title_align="left"))
        elif settings.json:
            err_console().print(f"{number}. {chapter.title}")  # progress; stdout is the JSON

    chapters = story.run_story(db, settings.clock.now(), show)
    result = {"database": db.url, "chapters": [
        {"step": n, "title": c.title, **c.summary} for n, c in enumerate(chapters, start=1)]}
    if settings.json:
        emit(result, [])
    elif not terminal:
        emit([{"step": n, "title": c.title,
               "facts": "; ".join(f"{k}={v}" for k, v in c.summary.items())}
              for n, c in enumerate(chapters, start=1)],
             [Column("step", "step"), Column("title", "title"), Column("facts", "facts")])
