"""Shell completion of the values people type most: promotion codes, promo item ids, order
numbers and card ids (issue 14, item 5).

`wxshop --install-completion` installs the script; when the shell asks, the command's
argument calls one of the functions below. They read the database of `--db`/`WXSHOP_DB`
without creating, migrating or locking anything (a SQLite file is opened read-only; a
PostgreSQL server gets two seconds), print nothing and never fail: any trouble completes
nothing. The table `COMPLETERS` says which argument completes what; `lazy.load` attaches them
when it builds a command while the shell is completing, so command modules stay as they
are (tests/test_completion.py checks every entry names a real argument).

Nothing heavy is imported here at module level (start-up rules, CONTRIBUTING).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Most candidates offered (the shell shows them all; more is noise, not help).
LIMIT = 100

# Each query returns (value, help) rows, newest or most useful first; `:buyer` is the acting
# buyer's name. Values are filtered by prefix in Python (no LIKE escaping to get wrong).
_PROMO_CODES = ("SELECT code, title FROM promo WHERE state <> 'archived' "
                "ORDER BY starts_at DESC, code LIMIT 2000")
_ITEM_IDS = ("SELECT promo_item.id, product.title FROM promo_item "
             "JOIN promo ON promo.id = promo_item.promo_id "
             "JOIN product ON product.sku = promo_item.sku "
             "WHERE promo.state = 'published' ORDER BY promo.starts_at DESC, "
             "promo_item.position LIMIT 2000")
_ORDER_NOS = ("SELECT orders.order_no, orders.title FROM orders "
              "JOIN buyer ON buyer.id = orders.buyer_id WHERE buyer.name = :buyer "
              "ORDER BY orders.created_at DESC LIMIT 2000")
_CARD_IDS = ("SELECT card.id, card.bank FROM card JOIN buyer ON buyer.id = card.buyer_id "
             "WHERE buyer.name = :buyer AND card.status = 'bound' ORDER BY card.bound_at DESC "
             "LIMIT 2000")


def candidates(query: str, incomplete: str, *, db: str | None = None,
               buyer: str | None = None) -> list[tuple[str, str]]:
    """(value, help) pairs of `query` that start with `incomplete`; [] on any trouble."""
    try:
        rows = _rows(query, db=db, buyer=buyer)
    except Exception:  # completion never errors: no database, a foreign one, a locked one
        return []
    found = [(str(value), str(help or "")) for value, help in rows
             if str(value).startswith(incomplete)]
    return found[:LIMIT]


def _rows(query: str, *, db: str | None, buyer: str | None) -> list[tuple[Any, Any]]:
    from pathlib import Path

    from wxshop_cli.config import Settings

    settings = Settings(db_option=db, buyer_option=buyer)
    params = {"buyer": settings.buyer}
    url = settings.db_url
    if url.startswith("sqlite:///"):
        import sqlite3

        path = Path(url[len("sqlite:///"):])
        if not path.is_file():
            return []  # completion creates nothing
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=0.5)
        try:
            return conn.execute(query, params).fetchall()
        finally:
            conn.close()
    if url.startswith("postgresql"):
        from sqlalchemy import create_engine, text

        engine = create_engine(url, connect_args={"connect_timeout": 2})
        try:
            with engine.connect() as connection:
                connection.execute(text("SET TRANSACTION READ ONLY"))
                return [tuple(row) for row in connection.execute(text(query), params)]
        finally:
            engine.dispose()
    return []


def _completer(query: str) -> Callable[[Any, Any, str], list[Any]]:
    def complete(ctx: Any, param: Any, incomplete: str) -> list[Any]:
        from typer._click.shell_completion import CompletionItem

        root = ctx.find_root().params if ctx is not None else {}
        return [CompletionItem(value, help=help or None) for value, help in
                candidates(query, incomplete, db=root.get("db"), buyer=root.get("buyer"))]

    return complete


promo_codes = _completer(_PROMO_CODES)
item_ids = _completer(_ITEM_IDS)
order_numbers = _completer(_ORDER_NOS)
card_ids = _completer(_CARD_IDS)

#: (top-level command, subcommand or None, parameter name) -> its completer.
COMPLETERS: dict[tuple[str, str | None, str], Callable[[Any, Any, str], list[Any]]] = {
    ("promo", "show", "code"): promo_codes,
    ("promo", "archive", "code"): promo_codes,
    ("promo", "unpublish", "code"): promo_codes,
    ("promo", "add-item", "code"): promo_codes,
    ("orders", "show", "order_no"): order_numbers,
    ("orders", "cancel", "order_no"): order_numbers,
    ("orders", "refund", "order_no"): order_numbers,
    ("buy", None, "item"): item_ids,
    ("cards", "show", "card"): card_ids,
    ("cards", "unbind", "card"): card_ids,
    ("cards", "default", "card"): card_ids,
}


def attach(name: str, command: Any) -> None:
    """Give the arguments of `command` (the top-level command `name`) their completers."""
    subcommands = getattr(command, "commands", None)
    for (top, verb, param_name), completer in COMPLETERS.items():
        if top != name:
            continue
        target = command if verb is None else (subcommands or {}).get(verb)
        for param in getattr(target, "params", ()):
            if param.name == param_name:
                param._custom_shell_complete = completer
