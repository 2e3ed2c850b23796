"""The one place that opens the database: engine setup, sessions, first-run schema and key.

SQLite runs in WAL mode with a busy timeout and `secure_delete`, and every write transaction
begins `IMMEDIATE` (SQLite ignores `FOR UPDATE`; a deferred transaction that reads and then
writes can fail instead of waiting). PostgreSQL runs the same code from a
`postgresql+psycopg://` URL. A cheap check of the stored schema revision keeps Alembic off the
normal start-up path; migrations run under a lock so that many processes starting at once on
an empty data directory agree on one schema.

Here: `Database` (the opened database, its key and its sessions) and `database()`, the
invocation's. Around it: `connect` (URL → engine, SQLite's set-up, path checks), `schema`
(revision, migration under a lock, the key check), `faults` (driver errors → typed errors).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from wxshop_cli import security
from wxshop_cli.config import Settings, current
from wxshop_cli.db import schema
from wxshop_cli.db.connect import make_engine, prepare_files
from wxshop_cli.db.faults import translate_db_error
from wxshop_cli.errors import Conflict, UsageError, os_error

__all__ = ["Database", "database", "forget", "translate_db_error"]


class Database:
    """An opened, up-to-date database and the secret key that goes with it."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.db_url
        self.key = b""
        self.previous_revision: str | None = None
        self.key_file = settings.secret_key_file
        # Check every setting before touching a file: a mistake changes nothing.
        self.engine: Engine = make_engine(self.url)  # lazy: connects on first use
        self.dialect = self.engine.dialect.name
        self.read_engine = self.engine.execution_options(wx_read_only=True)
        if self.key_file.is_dir():
            raise UsageError(f"the secret key file {self.key_file} is a directory",
                             slug="invalid_secret_key_file",
                             hint="WXSHOP_SECRET_KEY_FILE names a file")
        try:
            prepare_files(self.url, settings)
            self.key = self._load_key()
        except OSError as exc:
            raise os_error(exc, f"cannot prepare {exc.filename or 'the data directory'}",
                           read_only_slug="database_read_only") from None
        try:
            schema.bootstrap(self, settings)
        except SQLAlchemyError as exc:
            raise translate_db_error(exc) from exc

    def _load_key(self) -> bytes:
        """The secret key; a new key file is created only for a database that has none yet
        (a database made with another key is refused without leaving a stray key file)."""
        if not self.key_file.exists():
            try:
                _, check = self.stored_state()
            except SQLAlchemyError as exc:
                raise translate_db_error(exc) from exc
            if check is not None:
                raise Conflict(f"no secret key file at {self.key_file}, and this database was "
                               "created with a key", slug="wrong_secret_key",
                               hint="use the key file this database was created with, via "
                                    "WXSHOP_SECRET_KEY_FILE")
        return security.load_or_create_key(self.key_file)

    def stored_state(self) -> tuple[str | None, str | None]:
        """(schema revision, key check value), or (None, None) on an empty database."""
        return schema.stored_state(self)

    def upgrade(self, settings: Settings) -> str:
        """Bring the schema to HEAD under a lock and create the merchant settings row."""
        return schema.upgrade(self, settings)

    @contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[Session]:
        """One transaction: commits on success, rolls back on error.

        Write transactions take SQLite's write lock at BEGIN, so keep them short and never
        call the bank inside one."""
        bind = self.read_engine if read_only else self.engine
        with Session(bind, expire_on_commit=False) as session, session.begin():
            yield session

    def dispose(self) -> None:
        from wxshop_cli.db.prepared import close_thread_connection

        close_thread_connection(self)
        if self.engine is not None:
            self.engine.dispose()


_open: Database | None = None


def database() -> Database:
    """The database of the current invocation, opened (and migrated) on first use."""
    global _open
    settings = current()
    if _open is None or (_open.url, _open.key_file) != (settings.db_url,
                                                        settings.secret_key_file):
        forget()
        _open = Database(settings)
    return _open


def forget() -> None:
    """Drop the cached database (tests switch databases between invocations)."""
    global _open
    if _open is not None:
        _open.dispose()
    _open = None
