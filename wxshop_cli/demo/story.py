"""The demo's story: its chapters in order, told at one fixed time.

The story happens on the morning of Double 11 2013 whatever --now/WXSHOP_NOW says (its
promotion window is fixed): the command passes `story_time` to `run_story`, which hands it
to every chapter; no clock is changed. New chapters are added to `STORY`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from wxshop_cli.demo import buyer, funnel, morning
from wxshop_cli.demo.context import Chapter, DemoContext

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from wxshop_cli.db.engine import Database

DOUBLE11_MORNING = "2013-11-11T10:00:00+08:00"

STORY: list[Callable[[DemoContext], Chapter]] = [
    buyer.shop, buyer.bind_card, buyer.save_address, buyer.publish_double11,
    buyer.promo_strips, buyer.buy_in_one_step, buyer.sold_out, buyer.declined_card,
    funnel.morning_funnel, morning.reconcile_bill, morning.planted_difference,
]


def story_time(tz: ZoneInfo) -> dt.datetime:
    from wxshop_cli.clock import parse_instant

    return parse_instant(DOUBLE11_MORNING, tz)


def run_story(db: Database, now: dt.datetime,
              show: Callable[[int, Chapter], None] | None = None) -> list[Chapter]:
    """Every chapter in order at `now` (`story_time`), each shown as it ends."""
    ctx = DemoContext(db=db, now=now)
    chapters = []
    for number, chapter_fn in enumerate(STORY, start=1):
        chapter = chapter_fn(ctx)
        chapters.append(chapter)
        if show is not None:
            show(number, chapter)
    return chapters
