"""`wxshop demo`: the Double 11 story end to end, told chapter by chapter (SPEC section 11).

Each chapter is a function that runs real services against the demo database and returns a
`Chapter`: a title, a JSON-able summary, and a Rich renderable for the terminal. The story is
the ordered list `STORY`; later features add their chapters to it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class DemoContext:
    db: Any  # wxshop_cli.db.engine.Database
    now: dt.datetime
    facts: dict[str, Any] = field(default_factory=dict)  # what chapters hand to later ones


@dataclass
class Chapter:
    title: str
    summary: dict[str, Any]
    renderable: Any = None  # a Rich renderable; None shows the summary as a panel


def shop(ctx: DemoContext) -> Chapter:
    from rich.table import Table

    from wxshop_cli.core import merchant
    from wxshop_cli.core.regions import all_regions

    with ctx.db.transaction(read_only=True) as session:
        settings = merchant.public(merchant.get_settings(session))
    table = Table.grid(padding=(0, 2))
    table.add_row("WeChat app id", settings["app_id"])
    table.add_row("merchant number", settings["mch_id"])
    table.add_row("fee rate", settings["fee_rate"])
    table.add_row("regions served", f"{len(all_regions())} provincial-level divisions")
    return Chapter("The shop opens", {**settings, "regions": len(all_regions())}, table)


STORY: list[Callable[[DemoContext], Chapter]] = [shop]


def is_empty(db: Any) -> bool:
    """True when the database holds no buyers, products, promotions, orders or fixtures."""
    from sqlalchemy import func, select

    from wxshop_cli.db.models import Buyer, FixtureStep, Order, Product, Promo

    with db.transaction(read_only=True) as session:
        return all(session.execute(select(func.count()).select_from(model)).scalar() == 0
                   for model in (Buyer, Product, Promo, Order, FixtureStep))


def wipe(db: Any) -> None:
    """Drop every wxshop table (demo --force on a database given with --db)."""
    from sqlalchemy import text
    from sqlmodel import SQLModel

    import wxshop_cli.db.models  # noqa: F401

    with db.engine.begin() as conn:
        SQLModel.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def run_story(db: Any, now: dt.datetime,
              show: Callable[[int, Chapter], None] | None = None) -> list[Chapter]:
    ctx = DemoContext(db=db, now=now)
    chapters = []
    for number, chapter_fn in enumerate(STORY, start=1):
        chapter = chapter_fn(ctx)
        chapters.append(chapter)
        if show is not None:
            show(number, chapter)
    return chapters
