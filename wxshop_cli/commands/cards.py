"""`wxshop cards list | show | unbind | default`: the acting buyer's bound cards (binding one
is commands/bind.py)."""

from __future__ import annotations

from typing import Annotated

import typer

from wxshop_cli.cli import Yes, confirm_or_stop, group
from wxshop_cli.output import Column, emit
from wxshop_cli.paging_options import After, Limit, PageInfo
from wxshop_cli.views.cards import CARD_COLUMNS

cards_app = group("cards", """The acting buyer's bound bank cards.

Examples:
  $ wxshop --buyer lilei cards list
  $ wxshop --buyer lilei cards default card_4b8d2e6f1a9c3075
""")


@cards_app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Include unbound cards.")] = False,
    limit: Limit = 100, after: After = None, page_info: PageInfo = False,
) -> None:
    """The acting buyer's bound cards, the default first. A terminal shows the red dot.

    Examples:
      $ wxshop --buyer lilei cards list
      $ wxshop --buyer lilei cards list --all --json
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import cards
    from wxshop_cli.core.inbox import unread_of
    from wxshop_cli.core.paging import check_limit
    from wxshop_cli.db.engine import database
    from wxshop_cli.views.cards import show_cards

    check_limit(limit)
    settings = current()
    with database().transaction(read_only=True) as session:
        page = cards.list_cards(session, settings.buyer, include_unbound=all_, tz=settings.tz,
                                limit=limit, after=after)

    def unread_promos() -> int:  # read only if a terminal draws the red dot
        with database().transaction(read_only=True) as session:
            return unread_of(session, settings.buyer)["promo"]

    show_cards(page, page_info, unread_promos)


@cards_app.command("show")
def show(card: Annotated[str, typer.Argument(metavar="CARD", help="The card id.")]) -> None:
    """One card, masked.

    Examples:
      $ wxshop --buyer lilei cards show card_4b8d2e6f1a9c3075
      $ wxshop --buyer lilei --json cards show card_4b8d2e6f1a9c3075
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import cards
    from wxshop_cli.db.engine import database

    settings = current()
    with database().transaction(read_only=True) as session:
        result = cards.show_card(session, settings.buyer, card, tz=settings.tz)
    emit(result, [*CARD_COLUMNS, Column("holder", "holder_masked"),
                  Column("phone", "phone_masked"), Column("bound_at", "bound_at", "time"),
                  Column("unbound_at", "unbound_at", "time")], title=result["display"])


@cards_app.command("unbind")
def unbind(card: Annotated[str, typer.Argument(metavar="CARD", help="The card id.")],
           yes: Yes = False) -> None:
    """Unbind a card: kept for order history, it can no longer pay. Asks on a terminal.

    Examples:
      $ wxshop --buyer lilei cards unbind card_4b8d2e6f1a9c3075
      $ wxshop --buyer lilei cards unbind card_4b8d2e6f1a9c3075 --yes --json
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import cards
    from wxshop_cli.db.engine import database

    settings = current()
    if not yes and settings.interactive:  # name the card in the question (and check it first)
        with database().transaction(read_only=True) as session:
            shown = cards.show_card(session, settings.buyer, card, tz=settings.tz)
        confirm_or_stop(f"Unbind {shown['display']} ({card})? It can no longer pay.", yes=yes)
    with database().transaction() as session:
        result = cards.unbind_card(session, settings.buyer, card, settings.clock.now(),
                                   tz=settings.tz)
    emit(result, [*CARD_COLUMNS, Column("new_default", "new_default")], title="Unbound")


@cards_app.command("default")
def default(card: Annotated[str, typer.Argument(metavar="CARD", help="The card id.")]) -> None:
    """Make a bound card the default card.

    Examples:
      $ wxshop --buyer lilei cards default card_4b8d2e6f1a9c3075
      $ wxshop --buyer lilei --json cards default card_4b8d2e6f1a9c3075
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import cards
    from wxshop_cli.db.engine import database

    settings = current()
    with database().transaction() as session:
        result = cards.set_default_card(session, settings.buyer, card, tz=settings.tz)
    emit(result, [*CARD_COLUMNS, Column("changed", "changed", "bool")], title="Default card")

