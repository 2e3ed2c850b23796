from __future__ import annotations

from wxshop_cli.cli import group
from wxshop_cli.output import Column, emit

app = group("db", """Where the database is, and its schema.

Examples:
  $ wxshop db path
  $ wxshop --db postgresql+psycopg://shop@db.example/wxshop db upgrade
""")


@app.command("path")
def path() -> None:
    """Print where the database is (a file path, or a URL).

    A URL is printed without its password. Nothing is opened or created.

    Examples:
      $ wxshop db path
      $ wxshop --db shop.db --json db path
    """
    from wxshop_cli.config import current, is_url

    target = current().db_target
    if is_url(target):
        from sqlalchemy.engine import make_url  # only for URLs: hides a password

        try:
            shown = make_url(target).render_as_string(hide_password=True)
        except Exception:
            shown = target
        result = {"path": None, "url": shown}
    else:
        from pathlib import Path

        absolute = str(Path(target).expanduser().absolute())
        result = {"path": absolute, "url": f"sqlite:///{absolute}"}
    emit(result, [Column("path", "path"), Column("url", "url")])


@app.command("upgrade")
def upgrade() -> None:
    """Create the database or bring its schema up to date.

    Safe to run concurrently; every command also does it when the schema is behind.

    Examples:
      $ wxshop db upgrade
      $ wxshop --db shop.db --json db upgrade
    """
    from wxshop_cli.db.engine import database, forget
    from wxshop_cli.db.migrations import HEAD

    forget()  # look at the stored schema afresh, not at a cached open
    db = database()  # opening migrates under the lock when the schema is behind
    emit({"revision": HEAD, "previous": db.previous_revision,
          "upgraded": db.previous_revision != HEAD},
         [Column("revision", "revision"), Column("previous", "previous"),
          Column("upgraded", "upgraded", "bool")])
