from __future__ import annotations

from typing import Annotated

import typer

from wxshop_cli.cli import group
from wxshop_cli.output import Column, emit

app = group("fixtures", """Load fixture files: catalogs, buyers, cards, orders.

Examples:
  $ wxshop fixtures load double11
  $ wxshop fixtures load shop.json
""")


@app.command("load")
def load(
    source: Annotated[str, typer.Argument(metavar="FILE|NAME",
                                          help="A JSON fixture file, or `double11`.")],
) -> None:
    """Apply a fixture's steps in order; steps already applied are skipped.

    Prints each step's name and the id it made (or found).

    Examples:
      # three buyers with cards and addresses, and the live double11-2013 promotion
      $ wxshop fixtures load double11
      $ wxshop --db demo.db fixtures load double11 --json
      $ wxshop fixtures load shop.json
    """
    from wxshop_cli.config import current
    from wxshop_cli.core.fixtures import apply_steps, load_steps

    steps = load_steps(source)
    from wxshop_cli.db.engine import database

    results = apply_steps(database(), steps, current().clock.now())
    if current().json:
        emit({name: result.get("id") for name, result in results.items()}, [])
        return
    emit([{"name": name, "id": result.get("id")} for name, result in results.items()],
         [Column("name", "name"), Column("id", "id")], title="Fixture")
