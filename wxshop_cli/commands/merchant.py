from __future__ import annotations

from typing import Annotated

import typer

from wxshop_cli.cli import group
from wxshop_cli.output import Column, emit

app = group("merchant", """The shop's settings: app id, merchant number, fee rate.

Examples:
  $ wxshop merchant show
  $ wxshop merchant set --fee-rate 0.6
""")

COLUMNS = [Column("app_id", "app_id"), Column("mch_id", "mch_id"),
           Column("fee_rate", "fee_rate")]


@app.command("show")
def show() -> None:
    """Show the merchant settings.

    Examples:
      $ wxshop merchant show
      $ wxshop --json merchant show
    """
    from wxshop_cli.core import merchant
    from wxshop_cli.db.engine import database

    with database().transaction(read_only=True) as session:
        emit(merchant.settings_public(merchant.get_settings(session)), COLUMNS, title="Merchant")


@app.command("set")
def set_(
    app_id: Annotated[str | None, typer.Option("--app-id", metavar="APPID",
                                                         help="wx + 16 hex characters.")]
    = None,
    mch_id: Annotated[str | None,
                      typer.Option("--mch-id", metavar="MCHID",
                                   help="10-digit merchant number.")] = None,
    fee_rate: Annotated[str | None, typer.Option("--fee-rate", metavar="PERCENT",
                                                 help="e.g. 0.60 or 0.60%.")] = None,
) -> None:
    """Change merchant settings; prints them and which fields changed.

    Examples:
      $ wxshop merchant set --fee-rate 0.6
      $ wxshop merchant set --app-id wx8888888888888888 --mch-id 1900000109
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import merchant
    from wxshop_cli.db.engine import database

    changes = merchant.check_changes(app_id, mch_id, fee_rate, rate_field="--fee-rate")
    with database().transaction() as session:
        changed = merchant.update_settings(session, changes, current().clock.now())
        result = merchant.settings_public(merchant.get_settings(session))
    result["changed"] = changed
    emit(result, [*COLUMNS, Column("changed", "changed", "list")], title="Merchant")
