"""What every chapter of the demo takes and returns (the story's order: `demo.story`).

Each chapter is a function that runs real services against the demo database and returns a
`Chapter`: a title, a JSON-able summary, and how to draw it on a terminal (a `views.demo`
renderable, built only when it is shown).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wxshop_cli.db.engine import Database

DEMO_BUYER = "me"
DEMO_PAY_PASSWORD = "201311"  # the demo's buyer types it twice on a real terminal


@dataclass
class DemoContext:
    db: Database  # wxshop_cli.db.engine.Database
    now: dt.datetime  # the story time: every chapter and service runs at it
    facts: dict[str, Any] = field(default_factory=dict)  # what chapters hand to later ones


@dataclass
class Chapter:
    title: str
    summary: dict[str, Any]
    view: Callable[[], Any] | None = None  # makes a Rich renderable; None: the summary
