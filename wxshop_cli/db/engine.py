"""The one place that opens the database: engine setup, sessions, first-run schema and key.

SQLite runs in WAL mode with a busy timeout and `secure_delete`, and every write transaction
begins `IMMEDIATE` (SQLite ignores `FOR UPDATE`; a deferred transaction that reads and then
writes can fail instead of waiting). PostgreSQL runs the same code from a
`postgresql+psycopg://` URL. A cheap check of the stored schema revision keeps Alembic off the
normal start-up path; migrations run under a lock so that many processes starting at once on
an empty data directory agree on one schema.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlmodel import Session

from wxshop_cli import security
from wxshop_cli.config import Settings, current
from wxshop_cli.db.migrations import HEAD, REVISIONS
from wxshop_cli.errors import Conflict, TryAgain, UsageError, WxError, os_error

DEFAULT_BUSY_TIMEOUT_S = 30.0


def busy_timeout_s() -> float:
    """Seconds a writer waits for SQLite's lock before the command gives up (exit 9)."""
    raw = os.environ.get("WXSHOP_BUSY_TIMEOUT") or ""
    if not raw:
        return DEFAULT_BUSY_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise UsageError(f"WXSHOP_BUSY_TIMEOUT must be seconds from 0 to 3600, not {raw!r}",
                         slug="invalid_busy_timeout", hint="e.g. WXSHOP_BUSY_TIMEOUT=30")
    return value
_ADVISORY_LOCK_ID = 0x77787368  # "wxsh": serialises migrations on PostgreSQL


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except Exception:
        raise UsageError(f"not a database URL: {url!r}", slug="invalid_database_url",
                         hint="a path, sqlite:///PATH or postgresql+psycopg://...") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        timeout = busy_timeout_s()
        engine = create_engine(parsed, hide_parameters=True, connect_args={"timeout": timeout})
        _configure_sqlite(engine, timeout)
        return engine
    if backend == "postgresql":
        return create_engine(parsed, hide_parameters=True, pool_pre_ping=False,
                             connect_args={"connect_timeout": 10})
    raise UsageError(f"unsupported database {backend!r}", slug="invalid_database_url",
                     hint="wxshop runs on SQLite and PostgreSQL")


#: wxshop's schema: a non-empty database without these tables belongs to another program.
WXSHOP_TABLES = ("alembic_version", "merchant_settings")


def foreign_database(what: str) -> Conflict:
    return Conflict(f"{what} is not a wxshop database (it has other tables and no wxshop "
                    "schema)", slug="foreign_database",
                    hint="point --db / WXSHOP_DB at a wxshop database or a new path; "
                         "the database was not touched")


def _configure_sqlite(engine: Engine, timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Hand transaction control to SQLAlchemy's "begin" event below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        # Before anything that persists (WAL is a property of the file): another program's
        # database is refused untouched. One read of sqlite_master, cheap on every start.
        names = {row[0] for row in cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if names and not names.issuperset(WXSHOP_TABLES) or not names and cursor.execute(
                "SELECT 1 FROM sqlite_master LIMIT 1").fetchone():
            cursor.close()
            raise foreign_database(f"the SQLite database {engine.url.database}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if conn.get_execution_options().get("wx_read_only"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def translate_db_error(exc: BaseException) -> WxError:
    """Map driver errors onto the exit-code contract without echoing SQL parameters."""
    orig = getattr(exc, "orig", None)
    detail = str(orig if orig is not None else exc).strip().splitlines()[0] if str(
        orig if orig is not None else exc).strip() else type(exc).__name__
    lowered = detail.lower()
    sqlstate = getattr(orig if orig is not None else exc, "sqlstate", None)
    if "locked" in lowered or "busy" in lowered:
        return TryAgain("the database is busy", slug="database_busy",
                        hint="another wxshop holds the lock; try again")
    # Faults of the machine, each with its name (docs/errors.md); nothing was saved.
    if "database or disk is full" in lowered or "no space left" in lowered or (
            sqlstate in {"53100", "53200"}):
        return TryAgain("the disk of the database is full: the change was not saved",
                        slug="disk_full",
                        hint="free some space and run the same command again (a buy with "
                             "the same --idempotency-key completes once)")
    if "readonly" in lowered or "read-only" in lowered or sqlstate == "25006":
        return Conflict("the database is read-only: the change was not saved",
                        slug="database_read_only",
                        hint="make the database file and its directory writable, or use a "
                             "copy")
    if "malformed" in lowered or "file is not a database" in lowered or (
            "not a database" in lowered):
        return Conflict("the database file is damaged (corrupt or truncated)",
                        slug="database_corrupt",
                        hint="restore it from a backup; wxshop did not change it")
    if "unable to open database file" in lowered:  # SQLite: the file or its directory
        return Conflict("cannot open the database file for writing", slug="database_read_only",
                        hint="make the database file and its directory writable (SQLite "
                             "keeps -wal and -shm files beside it), or use a copy")
    if "disk i/o error" in lowered:
        return TryAgain("the disk of the database reported an I/O error", slug="database_io_error",
                        hint="check the disk and that the database file and its directory "
                             "are writable, then try again")
    if "authentication failed" in lowered or (
        "database" in lowered and "does not exist" in lowered) or "role" in lowered and (
            "does not exist" in lowered):
        return UsageError(f"the database refused the connection: {detail}",
                          slug="invalid_database_url",
                          hint="check the user, password and database name in the URL")
    if isinstance(exc, OperationalError) and any(
        word in lowered for word in ("connect", "connection", "server", "timeout", "no such host",
                                     "translate host", "unable to open", "resolve")):
        return TryAgain(f"cannot reach the database: {detail}", slug="database_unreachable",
                        hint="check --db / WXSHOP_DB and that the server is running")
    if sqlstate in {"40001", "40P01", "55P03"}:  # serialization failure, deadlock, lock timeout
        return TryAgain("the database is busy", slug="database_busy", hint="try again")
    return WxError(f"database error: {type(orig or exc).__name__}", slug="database_error",
                   hint="run again with WXSHOP_DEBUG=1 for details")


class Database:
    """An opened, up-to-date database and the secret key that goes with it."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.db_url
        self.key = b""
        self.engine: Engine | None = None
        self.previous_revision: str | None = None
        self.key_file = settings.secret_key_file
        # Check every setting before touching a file: a mistake changes nothing.
        self.engine = make_engine(self.url)  # lazy: connects on first use
        self.dialect = self.engine.dialect.name
        self._read_engine = self.engine.execution_options(wx_read_only=True)
        if self.key_file.is_dir():
            raise UsageError(f"the secret key file {self.key_file} is a directory",
                             slug="invalid_secret_key_file",
                             hint="WXSHOP_SECRET_KEY_FILE names a file")
        try:
            self._prepare_files(settings)
            self.key = self._load_key()
        except OSError as exc:
            raise os_error(exc, f"cannot prepare {exc.filename or 'the data directory'}",
                           read_only_slug="database_read_only") from None
        try:
            self._bootstrap(settings)
        except SQLAlchemyError as exc:
            raise translate_db_error(exc) from exc

    def _prepare_files(self, settings: Settings) -> None:
        parsed = make_url(self.url) if "://" in self.url else None
        if parsed is not None and parsed.get_backend_name() == "sqlite" and parsed.database and (
            parsed.database != ":memory:" and not parsed.database.startswith("file:")
        ):
            path = Path(parsed.database)
            _check_sqlite_file(path)
            if path.is_dir():
                raise UsageError(f"the database path {path} is a directory",
                                 slug="invalid_database_path",
                                 hint="give a file path, e.g. --db ./shop.db")
            if path.parent == settings.home:
                security.ensure_private_dir(settings.home)
            elif not path.parent.is_dir():
                raise UsageError(f"directory {path.parent} does not exist",
                                 slug="invalid_database_path",
                                 hint="create it, or give another --db path")
            security.precreate_private_file(path)
        elif settings.secret_key_file.parent == settings.home:
            security.ensure_private_dir(settings.home)

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

    # ----------------------------------------------------------- schema and key

    def stored_state(self) -> tuple[str | None, str | None]:
        """(schema revision, key check value), or (None, None) on an empty database."""
        assert self.engine is not None
        try:
            with self._read_engine.connect() as conn:
                revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                check = conn.execute(
                    text("SELECT key_check FROM merchant_settings WHERE id = 1")).scalar()
                return revision, check
        except (OperationalError, DBAPIError) as exc:
            if _is_missing_table(exc):
                return None, None
            raise

    def _bootstrap(self, settings: Settings) -> None:
        revision, check = self.stored_state()
        self.previous_revision = revision  # what `wxshop db upgrade` reports
        if revision is None and self.dialect == "postgresql":
            self._refuse_foreign_schema()
        if revision == HEAD and check is not None:
            self._check_key(check)
            return
        if revision is not None and revision not in REVISIONS:
            raise _newer_database(revision)
        self.upgrade(settings)

    def _refuse_foreign_schema(self) -> None:
        """A PostgreSQL schema with tables but no wxshop schema belongs to another program
        (SQLite's check runs as each connection opens, before WAL is set)."""
        assert self.engine is not None
        with self._read_engine.connect() as conn:
            tables = {row[0] for row in conn.execute(text(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()"))}
        if tables and not tables.issuperset(WXSHOP_TABLES):
            raise foreign_database("the PostgreSQL schema")

    def upgrade(self, settings: Settings) -> str:
        """Bring the schema to HEAD under a lock and create the merchant settings row."""
        assert self.engine is not None
        with self.engine.begin() as conn:  # BEGIN IMMEDIATE on SQLite: the migration lock
            if self.dialect == "postgresql":
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
                _insert_default_settings(conn, self.key, settings.clock.now())
                check = security.key_check_value(self.key)
        self._check_key(check)
        return HEAD

    def _check_key(self, check: str) -> None:
        if check != security.key_check_value(self.key):
            raise Conflict("the secret key does not match this database",
                           slug="wrong_secret_key",
                           hint="use the key file this database was created with, via "
                                "WXSHOP_SECRET_KEY_FILE")

    # ----------------------------------------------------------- sessions

    @contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[Session]:
        """One transaction: commits on success, rolls back on error.

        Write transactions take SQLite's write lock at BEGIN, so keep them short and never
        call the bank inside one."""
        bind = self._read_engine if read_only else self.engine
        with Session(bind, expire_on_commit=False) as session, session.begin():
            yield session

    def dispose(self) -> None:
        from wxshop_cli.db.prepared import close_thread_connection

        close_thread_connection(self)
        if self.engine is not None:
            self.engine.dispose()


_SQLITE_MAGIC = b"SQLite format 3\x00"


def _check_sqlite_file(path: Path) -> None:
    """What can be told of an SQLite path before opening it (nothing is written): a device
    or pipe, a name the system refuses, a file that is not SQLite, a truncated header."""
    import errno
    import stat

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        what = {errno.ENAMETOOLONG: "a name too long", errno.ELOOP: "a symlink loop"}.get(
            exc.errno, exc.strerror or type(exc).__name__)
        raise UsageError(f"unusable database path {path}: {what}",
                         slug="invalid_database_path",
                         hint="give a shorter, plain file path, e.g. --db ./shop.db") from None
    if stat.S_ISDIR(mode):
        return
    if not stat.S_ISREG(mode):
        raise UsageError(f"the database path {path} is not a regular file (a device, pipe "
                         "or socket)", slug="database_not_a_file",
                         hint="give a file path, e.g. --db ./shop.db")
    try:
        with open(path, "rb") as file:
            head = file.read(100)
    except OSError as exc:
        raise Conflict(f"cannot read the database {path}: {exc.strerror or exc}",
                       slug="database_read_only" if exc.errno in (errno.EACCES, errno.EPERM)
                       else "database_io_error",
                       hint="make the database file readable and writable") from None
    if not head:
        return
    if head[:len(_SQLITE_MAGIC)] != _SQLITE_MAGIC[:len(head)]:
        raise UsageError("the --db file is not an SQLite database",
                         slug="invalid_database_path",
                         hint="point --db / WXSHOP_DB at a wxshop database or a new path")
    if len(head) < 100:
        raise Conflict("the database file is damaged (corrupt or truncated)",
                       slug="database_corrupt",
                       hint="restore it from a backup; wxshop did not change it")


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
