"""Developer tool: write a new migration from the difference between the models and a
fresh database built from the existing migrations.

    python -m wxshop_cli.db.migrations.autogen 0002 "add refund reasons"

Then add the revision to REVISIONS in __init__.py and review the script by hand."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine

from wxshop_cli.db.migrations.runner import alembic_config


def main(argv: list[str]) -> None:
    revision_id, message = argv[0], argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'autogen.db'}")
        with engine.begin() as conn:
            config = alembic_config(conn)
            command.upgrade(config, "head")
            command.revision(config, message=message, autogenerate=True, rev_id=revision_id)
        engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1:])
