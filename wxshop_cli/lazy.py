"""The command table, loaded one command module at a time (issue 10).

`wxshop --help` needs every command's name and one line of help, and `wxshop orders list`
needs only `wxshop_cli.commands.orders`; importing all fifteen command modules (and turning
every one into a Click command) for each call was a third of a short command's start-up.
`COMMANDS` names each top-level command, where it lives and the first paragraph of its help;
the module is imported when the command is run or its own help is asked for.
tests/test_cli_contract.py checks that this table says what the modules say.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any, NamedTuple

from typer.core import TyperGroup

if TYPE_CHECKING:
    from typer._click import core as click  # Typer's own (vendored) click


class Entry(NamedTuple):
    module: str  # in wxshop_cli.commands
    attribute: str  # a Typer group, or a command function
    help: str  # the first paragraph of its help (what `wxshop --help` shortens)


# In the order `wxshop --help` lists them (commands first, then groups, as Typer does).
COMMANDS: dict[str, Entry] = {
    "regions": Entry("regions", "regions",
                     "The 34 provincial-level divisions (GB/T 2260 codes)."),
    "demo": Entry("demo", "demo",
                  "Run the Double 11 story end to end on its own database. It is demo.db in "
                  "the data directory, recreated each run; never the one in WXSHOP_DB."),
    "inbox": Entry("inbox", "inbox",
                   "The acting buyer's SMS codes and promotion pushes. Unread ones, newest "
                   "first. Only what a terminal shows is marked read (or --mark-read); the "
                   "unread count goes to stderr."),
    "buy": Entry("buy", "buy",
                 "Buy in one step: item → saved address → bound card. The payment password "
                 "comes from the terminal or WXSHOP_PAY_PASSWORD (with --from: "
                 "WXSHOP_PAY_PASSWORD or each line's pay_password; a batch never prompts). "
                 "A mobile top-up takes --mobile instead of an address."),
    "rehearse": Entry("rehearse", "rehearse",
                      "Rehearse a Double 11 on a throwaway database (or --db). A seeded crowd "
                      "with storms, then the verdict: audit clean, stock exact, limits kept, "
                      "the day's bill reconciled. Exit 0 when every check holds, 8 when any "
                      "fails."),
    "reconcile": Entry("reconcile", "reconcile",
                       "Compare a WeChat Pay or Alipay bill with the order book."),
    "audit": Entry("audit", "audit",
                   "Check the book's invariants in one consistent read. Exit 0 when clean, 8 "
                   "when anything is violated (printed on stdout, not an error)."),
    "db": Entry("db", "app", "Where the database is, and its schema."),
    "merchant": Entry("merchant", "app",
                      "The shop's settings: app id, merchant number, fee rate."),
    "fixtures": Entry("fixtures", "app",
                      "Load fixture files: catalogs, buyers, cards, orders."),
    "product": Entry("product", "app", "The catalog: products with list price and stock."),
    "promo": Entry("promo", "app", "Promotions: create, add items, publish, list."),
    "bind-card": Entry("bind", "bind_app", "Bind a bank card: card, identity, then an SMS "
                                            "code. The buyer's first card also sets the "
                                            "payment password."),
    "cards": Entry("cards", "cards_app", "The acting buyer's bound bank cards."),
    "address": Entry("address", "app", "The acting buyer's shipping addresses. The default "
                                        "one is offered at checkout."),
    "orders": Entry("orders", "app", "The order book: list, show, cancel, refund, sweep."),
    "bill": Entry("bill", "app",
                  "Trade bills of the sandbox payment platform."),
    "reconciliations": Entry("reconcile", "app",
                             "Stored reconciliation runs: list, show, resolve items."),
    "report": Entry("report", "app", "Merchant reports."),
    "sandbox": Entry("sandbox", "app",
                     "Test cards (each with its behaviour) and identities."),
}


def load(name: str, entry: Entry) -> Any:
    """The Click command of one table entry (imports its module)."""
    import typer
    import typer.main

    from wxshop_cli.cli import WxTyper

    target = getattr(importlib.import_module(f"wxshop_cli.commands.{entry.module}"),
                     entry.attribute)
    command: click.Command
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)
        command.name = name
    else:
        single = WxTyper(add_completion=False, rich_markup_mode=None)
        single.command(name)(target)
        command = typer.main.get_command(single)
    if completing():
        from wxshop_cli.completion import attach

        attach(name, command)  # shell completion of codes, ids and order numbers
    return command


def completing() -> bool:
    """True when the shell asks for completions (`_WXSHOP_COMPLETE` set, as Typer's script
    does): only then are the value completers attached (their module stays unimported)."""
    import os

    return any(key.startswith("_") and key.endswith("_COMPLETE") for key in os.environ)


class _Commands(MutableMapping[str, "click.Command"]):
    """Name → Click command, each loaded on first access; iterating loads nothing."""

    def __init__(self, entries: dict[str, Entry]) -> None:
        self._entries = dict(entries)
        self._loaded: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded:
            entry = self._entries[name]  # KeyError for an unknown name
            self._loaded[name] = load(name, entry)
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._entries.setdefault(name, Entry("", "", command.help or ""))
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._entries[name]
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def help(self, name: str) -> str:
        loaded = self._loaded.get(name)
        return (loaded.help or "") if loaded is not None else self._entries[name].help


class LazyGroup(TyperGroup):
    """The root group: its commands come from `COMMANDS`, loaded when used."""

    commands: _Commands

    def __init__(self, *, commands: Any = None, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands(COMMANDS)
        for name, command in (commands or {}).items():
            self.commands[name] = command

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """As Typer does, from the table's help instead of loading every module."""
        from typer._click.utils import make_default_short_help

        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, make_default_short_help(self.commands.help(name), limit).strip())
                for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)
