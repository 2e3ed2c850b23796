"""Small SQL helpers that differ by engine (kept here so services stay engine-neutral)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from sqlmodel import Session

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult
    from sqlalchemy.sql.dml import UpdateBase


def dialect_insert(session: Session, model: Any):
    """`INSERT` with the engine's `ON CONFLICT` support (SQLite and PostgreSQL share the API)."""
    from wxshop_cli.db.prepared import dialect_insert as insert_for

    return insert_for(session.get_bind().dialect.name,
                      model.__table__ if hasattr(model, "__table__") else model)


def affected(session: Session, statement: Any, key_columns: list[str]) -> bool:
    """Run an INSERT … ON CONFLICT and tell whether it wrote a row.

    Asks for RETURNING instead of trusting `rowcount`, which SQLAlchemy reports as -1 for
    inserts on PostgreSQL/psycopg."""
    table = statement.table
    returning = statement.returning(*(table.c[name] for name in key_columns))
    return session.execute(returning).first() is not None


def insert_ignore(session: Session, model: Any, values: dict[str, Any],
                  conflict: list[str]) -> bool:
    """Insert a row unless one with the same `conflict` columns exists. True if inserted."""
    statement = dialect_insert(session, model).values(**values).on_conflict_do_nothing(
        index_elements=conflict)
    return affected(session, statement, conflict)


def rows_changed(session: Session, statement: UpdateBase) -> int:
    """Run an UPDATE or DELETE: the number of rows it changed (its result is a CursorResult;
    `Session.execute` is typed as returning any Result)."""
    return cast("CursorResult[Any]", session.execute(statement)).rowcount
