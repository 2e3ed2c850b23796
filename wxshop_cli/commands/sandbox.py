"""`wxshop sandbox cards | identities`: the sandbox's test cards and test identities."""

from __future__ import annotations

from wxshop_cli.cli import group
from wxshop_cli.output import Column, emit

app = group("sandbox", """Test cards (each with its behaviour) and identities.

The identities pass a binding's checks; bind any test card with one of them.

Examples:
  $ wxshop sandbox cards
  $ wxshop sandbox identities --json
""")

CARD_COLUMNS = [
    Column("number", "number"), Column("card", "display"), Column("brand", "brand"),
    Column("type", "card_type"), Column("behaviour", "behaviour"),
    Column("what happens", "description"), Column("buy exit", "buy_exit_code"),
    Column("error", "buy_error"), Column("single limit", "single_limit_fen", "money"),
    Column("daily limit", "daily_limit_fen", "money"), Column("also asks", "asks"),
]

IDENTITY_COLUMNS = [
    Column("holder", "holder"), Column("id_number", "id_number"), Column("mobile", "mobile"),
    Column("region", "region"), Column("birth_date", "birth_date"),
]


@app.command("cards")
def cards() -> None:
    """Every test card with its behaviour.

    Approve, decline, no funds, frozen, timeout: any of these may be typed or given as
    --number; any other supported card approves.

    Examples:
      $ wxshop sandbox cards
      $ wxshop --json sandbox cards
    """
    from wxshop_cli.core.sandbox import test_cards

    emit(test_cards(), CARD_COLUMNS, title="Sandbox test cards")


@app.command("identities")
def identities() -> None:
    """Holder names, ID numbers and mobiles to bind test cards with.

    The ID numbers' checksums pass; all the cards of one buyer must be bound with the same
    identity.

    Examples:
      $ wxshop sandbox identities
      $ wxshop --json sandbox identities
    """
    from wxshop_cli.core.sandbox import test_identities

    emit(test_identities(), IDENTITY_COLUMNS, title="Sandbox identities")
