"""The schema on start: a cheap read of the stored revision and key check keeps Alembic off
the normal start-up path; an empty or older database is migrated under a lock (BEGIN
IMMEDIATE on SQLite, an advisory lock on PostgreSQL) so that many processes starting at once
agree on one schema; the merchant's settings row and the key check are created with it."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from wxshop_cli import security
from wxshop_cli.config import Settings
from wxshop_cli.db.connect import WXSHOP_TABLES, foreign_database
from wxshop_cli.db.migrations import HEAD, REVISIONS
from wxshop_cli.errors import Conflict

if TYPE_CHECKING:
    from wxshop_cli.db.engine import Database

_ADVISORY_LOCK_ID = 0x77787368  # "wxsh": serialises migrations on PostgreSQL


def stored_state(db: Database) -> tuple[str | None, str | None]:
    """(schema revision, key check value), or (None, None) on an empty database."""
    assert db.engine is not None
    try:
        with db.read_engine.connect() as conn:
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            check = conn.execute(
                text("SELECT key_check FROM merchant_settings WHERE id = 1")).scalar()
            return revision, check
    except (OperationalError, DBAPIError) as exc:
        if _is_missing_table(exc):
            return None, None
        raise


def bootstrap(db: Database, settings: Settings) -> None:
    revision, check = stored_state(db)
    db.previous_revision = revision  # what `wxshop db upgrade` reports
    if revision is None and db.dialect == "postgresql":
        _refuse_foreign_schema(db)
    if revision == HEAD and check is not None:
        check_key(db, check)
        return
    if revision is not None and revision not in REVISIONS:
        raise _newer_database(revision)
    upgrade(db, settings)


def _refuse_foreign_schema(db: Database) -> None:
    """A PostgreSQL schema with tables but no wxshop schema belongs to another program
    (SQLite's check runs as each connection opens, before WAL is set)."""
    assert db.engine is not None
    with db.read_engine.connect() as conn:
        tables = {row[0] for row in conn.execute(text(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema()"))}
    if tables and not tables.issuperset(WXSHOP_TABLES):
        raise foreign_database("the PostgreSQL schema")


def upgrade(db: Database, settings: Settings) -> str:
    """Bring the schema to HEAD under a lock and create the merchant settings row."""
    assert db.engine is not None
    with db.engine.begin() as conn:  # BEGIN IMMEDIATE on SQLite: the migration lock
        if db.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_ID})
        revision = _current_revision(conn)
        if revision is not None and revision not in REVISIONS:
            raise _newer_database(revision)
        if revision != HEAD:
            from wxshop_cli.db.migrations.runner import upgrade_connection

            upgrade_connection(conn)
        check = conn.execute(
            text("SELECT key_check FROM merchant_settings WHERE id = 1")).scalar()
        if check is None:
            _insert_default_settings(conn, db.key, settings.clock.now())
            check = security.key_check_value(db.key)
    check_key(db, check)
    return HEAD


def check_key(db: Database, check: str) -> None:
    if check != security.key_check_value(db.key):
        raise Conflict("the secret key does not match this database",
                       slug="wrong_secret_key",
                       hint="use the key file this database was created with, via "
                            "WXSHOP_SECRET_KEY_FILE")


def _is_missing_table(exc: BaseException) -> bool:
    message = str(getattr(exc, "orig", exc)).lower()
    return "no such table" in message or "does not exist" in message and "relation" in message


def _current_revision(conn) -> str | None:
    from sqlalchemy import inspect

    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _newer_database(revision: str) -> Conflict:
    return Conflict(f"the database schema ({revision}) is newer than this wxshop",
                    slug="database_newer", hint="upgrade wxshop; the database was not touched")


def _insert_default_settings(conn, key: bytes, now: dt.datetime) -> None:
    import secrets

    from wxshop_cli.db.models import MerchantSettings

    row = MerchantSettings(
        id=1,
        app_id="wx" + secrets.token_hex(8),
        mch_id=str(1_000_000_000 + secrets.randbelow(9_000_000_000)),
        fee_rate_ppm=6000,
        key_check=security.key_check_value(key),
        created_at=now,
        updated_at=now,
    )
    conn.execute(MerchantSettings.__table__.insert().values(**row.model_dump()))

