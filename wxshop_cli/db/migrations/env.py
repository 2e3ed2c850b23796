"""Alembic environment: always run on a connection handed over by wxshop (see runner.py).

For development, `python -m wxshop_cli.db.migrations.autogen MESSAGE` writes a new revision
from the models."""

from alembic import context
from sqlmodel import SQLModel

import wxshop_cli.db.models  # noqa: F401  (registers the tables)

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("wxshop migrations run through wxshop (wxshop db upgrade)")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=True,  # SQLite alters tables by copy-and-move
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
