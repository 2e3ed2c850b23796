"""The Typer application: global options and the command groups. No database imports here:
`wxshop --help` and `wxshop regions` must start without SQLAlchemy."""

from __future__ import annotations

from typing import Annotated

import typer

from wxshop_cli import __version__
from wxshop_cli.cli import WxTyper, run_guarded
from wxshop_cli.clock import Clock, parse_instant
from wxshop_cli.commands import address as address_commands
from wxshop_cli.commands import bill as bill_commands
from wxshop_cli.commands import buy as buy_commands
from wxshop_cli.commands import cards as cards_commands
from wxshop_cli.commands import db as db_commands
from wxshop_cli.commands import demo as demo_commands
from wxshop_cli.commands import fixtures as fixtures_commands
from wxshop_cli.commands import inbox as inbox_commands
from wxshop_cli.commands import merchant as merchant_commands
from wxshop_cli.commands import orders as orders_commands
from wxshop_cli.commands import product as product_commands
from wxshop_cli.commands import promo as promo_commands
from wxshop_cli.commands import reconcile as reconcile_commands
from wxshop_cli.commands import regions as regions_commands
from wxshop_cli.commands import rehearse as rehearse_commands
from wxshop_cli.commands import report as report_commands
from wxshop_cli.config import Settings, activate, env

app = WxTyper(
    name="wxshop",
    help="Bind a bank card once, buy in one step, publish promotions, reconcile WeChat Pay "
    "bills. Global options go before the command.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)


def _version(ctx: typer.Context, value: bool) -> None:
    if value:
        if ctx.params.get("json_output"):  # `wxshop --json --version`
            import json

            typer.echo(json.dumps({"version": __version__}))
        else:
            typer.echo(f"wxshop {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    db: Annotated[str | None, typer.Option("--db", metavar="URL-or-PATH",
                                           help="Database (env WXSHOP_DB).")] = None,
    buyer: Annotated[str | None, typer.Option("--buyer", metavar="NAME",
                                              help="Acting buyer (env WXSHOP_BUYER).")] = None,
    now: Annotated[str | None, typer.Option("--now", metavar="ISO-8601",
                                            help="Freeze the clock (env WXSHOP_NOW).")] = None,
    json_output: Annotated[bool, typer.Option("--json", is_eager=True,
                                              help="JSON on stdout.")] = False,
    no_input: Annotated[bool, typer.Option("--no-input", help="Never prompt.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version.")] = False,
) -> None:
    settings = Settings(db_option=db, buyer_option=buyer,
                        json=json_output, no_input=no_input)
    activate(settings)
    # Check the acting buyer and display zone up front: bad configuration fails every command
    # the same way, before anything runs.
    run_guarded(lambda: (settings.buyer, settings.tz))
    frozen = now or env("WXSHOP_NOW")
    if frozen:
        try:
            settings.clock = Clock(parse_instant(frozen, settings.tz))
        except ValueError:
            source = "--now" if now else "WXSHOP_NOW"
            raise typer.BadParameter(f"not an ISO 8601 time: {frozen!r}",
                                     param_hint=source) from None


app.command("regions")(regions_commands.regions)
app.command("demo")(demo_commands.demo)
app.add_typer(db_commands.app, name="db")
app.add_typer(merchant_commands.app, name="merchant")
app.add_typer(fixtures_commands.app, name="fixtures")
app.add_typer(product_commands.app, name="product")
app.add_typer(promo_commands.app, name="promo")
app.add_typer(cards_commands.bind_app, name="bind-card")
app.add_typer(cards_commands.cards_app, name="cards")
app.add_typer(address_commands.app, name="address")
app.command("inbox")(inbox_commands.inbox)
app.command("buy")(buy_commands.buy)
app.add_typer(orders_commands.app, name="orders")
app.add_typer(bill_commands.app, name="bill")
app.command("reconcile")(reconcile_commands.reconcile)
app.add_typer(reconcile_commands.app, name="reconciliations")
app.add_typer(report_commands.app, name="report")
app.command("rehearse")(rehearse_commands.rehearse)


def main() -> None:
    app()
