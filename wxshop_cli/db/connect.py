"""From a database URL to an engine: the busy timeout, SQLite's connection set-up (WAL,
`secure_delete`, `BEGIN IMMEDIATE` for writers, another program's database refused), and what
can be told of an SQLite path before it is opened."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

from wxshop_cli import security
from wxshop_cli.config import Settings
from wxshop_cli.errors import Conflict, TryAgain, UsageError

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


def prepare_files(url: str, settings: Settings) -> None:
    """The SQLite file (checked, created private) and the data directory, before connecting."""
    parsed = make_url(url) if "://" in url else None
    if parsed is not None and parsed.get_backend_name() == "sqlite" and parsed.database and (
        parsed.database != ":memory:" and not parsed.database.startswith("file:")
    ):
        path = Path(parsed.database)
        check_sqlite_file(path)
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


_SQLITE_MAGIC = b"SQLite format 3\x00"


def check_sqlite_file(path: Path) -> None:
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
            exc.errno or 0, exc.strerror or type(exc).__name__)
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
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise Conflict(f"cannot read the database {path}: {exc.strerror or exc}",
                           slug="database_read_only",
                           hint="make the database file readable and writable") from None
        # The disk failing is the same fault whether it shows before or after opening.
        raise TryAgain(f"the disk of the database reported an I/O error reading {path}",
                       slug="database_io_error",
                       hint="check the disk, then run the same command again") from None
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

