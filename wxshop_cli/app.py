"""The Typer application: global options and the command groups. No database imports here:
`wxshop --help` and `wxshop regions` must start without SQLAlchemy."""

from __future__ import annotations

from typing import Annotated

import typer

from wxshop_cli import __version__
from wxshop_cli.cli import InvalidTime, WxTyper, run_guarded
from wxshop_cli.clock import Clock, parse_instant
from wxshop_cli.config import Settings, activate, env
from wxshop_cli.lazy import LazyGroup
from wxshop_cli.lean import install as _lean_typer

_lean_typer()  # no pydantic for plain text options (wxshop_cli/lean.py)

app = WxTyper(
    name="wxshop",
    help="""Bind a bank card once, buy in one step, publish promotions, reconcile WeChat Pay
bills. Global options go before the command.

Examples:
  $ wxshop fixtures load double11
  $ wxshop --buyer lilei promo list
  $ WXSHOP_PAY_PASSWORD=201311 wxshop --buyer lilei buy YX-3001 --qty 2
  $ wxshop --json orders list --all --status paid
""",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (wxshop_cli/completion.py)
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    cls=LazyGroup,
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
    quiet: Annotated[bool, typer.Option("--quiet", "-q",
                                        help="No talk on stderr (messages, warnings, "
                                             "progress); errors and prompts still show.")]
    = False,
    version: Annotated[bool, typer.Option("--version", "-V", callback=_version, is_eager=True,
                                          help="Print the version.")] = False,
) -> None:
    settings = Settings(db_option=db, buyer_option=buyer,
                        json=json_output, no_input=no_input, quiet=quiet)
    activate(settings)
    # Check the acting buyer and display zone up front: bad configuration fails every command
    # the same way, before anything runs.
    run_guarded(lambda: (settings.buyer, settings.tz))
    frozen = now or run_guarded(env, "WXSHOP_NOW")
    if frozen:
        try:
            settings.clock = Clock(parse_instant(frozen, settings.tz))
        except ValueError:
            raise InvalidTime(frozen, "--now" if now else "WXSHOP_NOW") from None


def main() -> None:
    """The console script: run, then end the process at once.

    Everything the command wrote is flushed and the database connections are closed (every
    transaction has committed or rolled back by then) before `os._exit`, so nothing is lost;
    what is skipped is the interpreter's teardown of every module and object, a quarter of
    a short command's CPU. Registered `atexit` functions still run. Tests drive `app`
    in-process and never come here."""
    code: int | str | None = 0
    try:
        app(prog_name="wxshop")
    except SystemExit as exc:
        code = exc.code
    _exit(code)


def _exit(code: int | str | None) -> None:
    import atexit
    import os
    import sys

    if isinstance(code, str):  # sys.exit("message"): print it as the interpreter would
        sys.stderr.write(code + "\n")
        code = 1
    elif code is None:
        code = 0
    elif not isinstance(code, int):
        code = 1
    engine = sys.modules.get("wxshop_cli.db.engine")
    try:
        if engine is not None:
            engine.forget()  # close pooled connections (SQLite checkpoints its WAL)
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe: nothing more can be said
                code = code or 1
        os._exit(code)
