"""The database layer: models, engine/session setup and Alembic migrations.

Importing this package pulls in SQLAlchemy; command modules import it inside the commands
that need the database, never at module level."""
