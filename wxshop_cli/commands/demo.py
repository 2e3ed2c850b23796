from __future__ import annotations

from typing import Annotated

import typer

from wxshop_cli.output import Column, emit


def demo(
    force: Annotated[bool, typer.Option("--force", help="With --db: wipe a database that is "
                                                        "not empty and run the story on it.")]
    = False,
) -> None:
    """Run the Double 11 story end to end on its own database. It is demo.db in the data
    directory, recreated each run; never the one in WXSHOP_DB.

    Examples:
      $ wxshop demo
      $ wxshop --db /tmp/story.db demo --force
    """
    from wxshop_cli.config import current
    from wxshop_cli.db.scratch import open_scratch
    from wxshop_cli.demo.story import DOUBLE11_MORNING, run_story, story_time
    from wxshop_cli.output import err_console, stdout_is_terminal, warn

    settings = current()
    db = open_scratch(settings, "demo.db", force=force, slug="demo_not_empty")
    # The story's promotion window is fixed: every chapter runs at its own time.
    now = story_time(settings.tz)
    if settings.clock.frozen is not None and settings.clock.frozen != now:
        warn(f"the demo happens at {DOUBLE11_MORNING}; --now/WXSHOP_NOW is ignored")
    terminal = stdout_is_terminal() and not settings.json

    def show(number: int, chapter) -> None:
        if terminal:
            from wxshop_cli.views.demo import print_chapter

            print_chapter(number, chapter)
        elif settings.json:
            err_console().print(f"{number}. {chapter.title}")  # progress; stdout is the JSON

    chapters = run_story(db, now, show)
    result = {"database": db.url, "chapters": [
        {"step": n, "title": c.title, **c.summary} for n, c in enumerate(chapters, start=1)]}
    if settings.json:
        emit(result, [])
    elif not terminal:
        from wxshop_cli.views.demo import fact_line

        emit([{"step": n, "title": c.title, "facts": fact_line(c.summary)}
              for n, c in enumerate(chapters, start=1)],
             [Column("step", "step"), Column("title", "title"), Column("facts", "facts")])
