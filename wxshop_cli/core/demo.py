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


DEMO_BUYER = "me"
DEMO_PAY_PASSWORD = "201311"  # the demo's buyer types it twice on a real terminal


def bind_card(ctx: DemoContext) -> Chapter:
    """Buyer `me` binds the sandbox's ICBC test card: SMS code in the inbox, first card sets
    the payment password."""
    from rich.table import Table

    from wxshop_cli.config import current
    from wxshop_cli.core import cards
    from wxshop_cli.core.inbox import find_message

    tz = current().tz
    data = cards.check_card_input("6222020000000000000", "张三", "11010519491231002X",
                                  "13800138000", None, None, ctx.now.astimezone(tz).date())
    started = cards.start_binding(ctx.db, DEMO_BUYER, data, ctx.now, tz=tz)
    with ctx.db.transaction() as session:
        from wxshop_cli.core.buyers import require_buyer

        sms = find_message(session, require_buyer(session, DEMO_BUYER).id, started.message_id)
        assert sms is not None and sms.code is not None
        sms.read = True
        session.add(sms)
        code, text = sms.code, sms.text
    card = cards.confirm_binding(ctx.db, DEMO_BUYER, started.binding_id, code, ctx.now,
                                 password=DEMO_PAY_PASSWORD, tz=tz)
    ctx.facts.update(buyer=DEMO_BUYER, card_id=card["id"], pay_password=DEMO_PAY_PASSWORD)
    table = Table.grid(padding=(0, 2))
    table.add_column()
    table.add_column(overflow="fold")
    table.add_row("inbox (sms)", text)
    table.add_row("card", f"{card['display']}  {card['masked_number']}")
    table.add_row("holder / mobile", f"{card['holder_masked']}  {card['phone_masked']}")
    table.add_row("payment password", "set with the first card (6 digits, scrypt-hashed)")
    return Chapter("Bind a card once", {
        "buyer": DEMO_BUYER, "card_id": card["id"], "card": card["display"],
        "masked_number": card["masked_number"], "sms": text}, table)


def save_address(ctx: DemoContext) -> Chapter:
    """Buyer `me` saves a Shanghai address; the mobile is shown masked."""
    from rich.table import Table

    from wxshop_cli.config import current
    from wxshop_cli.core import addresses

    data = addresses.check_address_input("310000", "上海市", "浦东新区世纪大道100号",
                                         "张三", "13912345678")
    address = addresses.add_address(ctx.db, DEMO_BUYER, data, ctx.now, tz=current().tz)
    ctx.facts.update(address_id=address["id"], region="310000")
    table = Table.grid(padding=(0, 2))
    table.add_row("ship to", f"{address['region']} {address['city']} {address['street']}")
    table.add_row("contact", f"{address['contact']}  {address['phone_masked']}")
    table.add_row("default", "yes: offered back at checkout, no retyping")
    return Chapter("Save an address", {
        "address_id": address["id"], "region": address["region"],
        "phone_masked": address["phone_masked"], "is_default": address["is_default"]}, table)


STORY: list[Callable[[DemoContext], Chapter]] = [shop, bind_card, save_address]


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
