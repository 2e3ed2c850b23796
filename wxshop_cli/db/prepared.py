"""Driver-level SQL for the purchase hot path, compiled once per process from Core statements.

Why this exists: one purchase through the ORM cost ~12.5 ms of CPU, most of it SQLAlchemy's
per-statement machinery (session identity map, compiled-cache lookups, result objects). The
hot path (checkout's claim and outcome, the sandbox bank's charge) instead runs statements
that are *built* with SQLAlchemy Core over the models — so the schema keeps one source of
truth — *compiled once* per dialect to the driver's SQL string, and *executed* on the raw
DBAPI cursor of a connection from the same engine and pool. Everything else uses the ORM.

    STATEMENT = Prepared(lambda: update(PromoItem).where(...))   # built lazily, once
    with hot_transaction(db) as tx:                               # BEGIN IMMEDIATE on SQLite
        tx.execute(STATEMENT, item_id=..., qty=...)

Bind values must already be what the driver takes: `tx.time(value)` converts an aware
datetime the way the `UTCDateTime` column type does (naive UTC text on SQLite).
"""

from __future__ import annotations

import operator
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeAlias

from sqlalchemy import bindparam

from wxshop_cli.errors import WxError

if TYPE_CHECKING:
    from sqlmodel import Session

    from wxshop_cli.db.engine import Database


class Prepared:
    """A Core statement compiled once per dialect into (driver SQL, parameter order)."""

    __slots__ = ("_build", "_by_dialect", "_statements", "_lock")

    def __init__(self, build: Callable[[str], Any]) -> None:
        self._build = build  # called with the dialect name ("sqlite", "postgresql")
        self._by_dialect: dict[str, tuple[str, Callable[[dict], Any]]] = {}
        self._statements: dict[str, Any] = {}
        self._lock = threading.Lock()

    def statement(self, dialect_name: str) -> Any:
        """The Core statement itself (for a caller that runs it through a Session)."""
        found = self._statements.get(dialect_name)
        if found is None:
            found = self._statements[dialect_name] = self._build(dialect_name)
        return found

    def compiled(self, dialect: Any) -> tuple[str, Callable[[dict], Any]]:
        """(driver SQL, a function from named values to the driver's parameters)."""
        found = self._by_dialect.get(dialect.name)
        if found is None:
            with self._lock:
                statement = self.statement(dialect.name)
                compiled = statement.compile(dialect=dialect)
                # Literal values in the statement (`status = 'bound'`, `LIMIT 1`) are written
                # into the SQL: as parameters they cost SQLite a re-plan per execution (a
                # bound value may make a partial index usable), measured 4x on the card
                # lookup. Named ones (`bindparam("x")`) are given per execution.
                literals = {name: value for name, value in compiled.params.items()
                            if value is not None}
                sql, names = _inline(compiled, dialect, literals)
                if not dialect.positional:
                    bind: Callable[[dict], Any] = _as_is
                elif len(names) == 1:
                    (only,) = names
                    bind = lambda values, name=only: (values[name],)  # type: ignore[misc]  # noqa: E731
                elif not names:
                    bind = lambda values: ()  # noqa: E731
                else:
                    bind = operator.itemgetter(*names)
                found = (sql, bind)
                self._by_dialect[dialect.name] = found
        return found


def _as_is(values: dict) -> dict:
    return values


def _inline(compiled: Any, dialect: Any, literals: dict[str, Any]) -> tuple[str, tuple]:
    """The compiled SQL with its literal parameters written in, and the names of the
    parameters left, in order (positional dialects)."""
    if not dialect.positional:  # psycopg: %(name)s
        sql = compiled.string
        for name, value in literals.items():
            sql = sql.replace(f"%({name})s", _literal(value, dialect).replace("%", "%%"))
        return sql, ()
    pieces = compiled.string.split("?")  # qmark: no literal text holds a "?" here
    if len(pieces) - 1 != len(compiled.positiontup):
        raise ValueError("cannot inline the parameters of this statement")
    sql, names = pieces[0], []
    for name, piece in zip(compiled.positiontup, pieces[1:], strict=True):
        if name in literals:
            sql += _literal(literals[name], dialect) + piece
        else:
            sql += "?" + piece
            names.append(name)
    return sql, tuple(names)


def _literal(value: Any, dialect: Any) -> str:
    if isinstance(value, bool):
        return ("1" if value else "0") if dialect.name == "sqlite" else (
            "true" if value else "false")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no literal for {type(value).__name__}")


class HotTransaction:
    """One transaction on a raw DBAPI connection (see `hot_transaction`)."""

    __slots__ = ("connection", "cursor", "dialect", "_time", "_from_time")

    def __init__(self, connection: Any, dialect: Any, time: Callable[[Any], Any],
                 from_time: Callable[[Any], Any]) -> None:
        self.connection = connection
        self.cursor = connection.cursor()
        self.dialect = dialect
        self._time = time
        self._from_time = from_time

    def execute(self, prepared: Prepared, **params: Any) -> Any:
        sql, bind = prepared.compiled(self.dialect)
        cursor = self.cursor
        cursor.execute(sql, bind(params))
        return cursor

    def one(self, prepared: Prepared, **params: Any) -> Any:
        """The first row (a tuple) or None; typed Any, as the driver's rows are: callers index
        it where the statement always returns a row."""
        return self.execute(prepared, **params).fetchone()

    def all(self, prepared: Prepared, **params: Any) -> list[tuple]:
        return self.execute(prepared, **params).fetchall()

    def rowcount(self, prepared: Prepared, **params: Any) -> int:
        return self.execute(prepared, **params).rowcount

    def time(self, value: Any) -> Any:
        """An aware datetime as the driver takes it for a `UTCDateTime` column."""
        return self._time(value)

    def from_time(self, value: Any) -> Any:
        """A `UTCDateTime` column's value as the driver returned it, as an aware datetime."""
        return self._from_time(value)

    def date(self, value: Any) -> Any:
        """A `Date` column's value as the driver takes it (ISO text on SQLite, as SQLAlchemy
        stores it)."""
        return value.isoformat() if self.dialect.name == "sqlite" else value

    def savepoint(self) -> None:
        self.cursor.execute("SAVEPOINT wx_line")

    def release(self) -> None:
        self.cursor.execute("RELEASE SAVEPOINT wx_line")

    def rollback_to(self) -> None:
        self.cursor.execute("ROLLBACK TO SAVEPOINT wx_line")
        self.cursor.execute("RELEASE SAVEPOINT wx_line")


class SessionTx:
    """The `HotTransaction` interface over an ORM Session, so that a state change written once
    (closing an order, giving stock back) serves the hot path and the ORM paths alike."""

    __slots__ = ("session", "dialect_name")

    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect_name = session.get_bind().dialect.name

    def execute(self, prepared: Prepared, **params: Any) -> Any:
        return self.session.execute(prepared.statement(self.dialect_name), params)

    def one(self, prepared: Prepared, **params: Any) -> Any:
        return self.execute(prepared, **params).fetchone()

    def all(self, prepared: Prepared, **params: Any) -> list[tuple]:
        return list(self.execute(prepared, **params).fetchall())

    def rowcount(self, prepared: Prepared, **params: Any) -> int:
        return self.execute(prepared, **params).rowcount

    def time(self, value: Any) -> Any:
        return value  # the Session applies the column types itself

    def from_time(self, value: Any) -> Any:
        return value

    def date(self, value: Any) -> Any:
        return value


#: What a statement written once runs on: the hot path's transaction or a Session wrapped.
Tx: TypeAlias = "HotTransaction | SessionTx"
#: What `as_tx` takes: either of those, or a Session.
TxOrSession: TypeAlias = "HotTransaction | SessionTx | Session"


def as_tx(session_or_tx: TxOrSession) -> Tx:
    """A HotTransaction as it is; a Session wrapped in SessionTx."""
    return session_or_tx if isinstance(session_or_tx, HotTransaction | SessionTx) \
        else SessionTx(session_or_tx)


def dialect_insert(dialect_name: str, table: Any) -> Any:
    """`INSERT` with the engine's `ON CONFLICT` support."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


_CONVERTERS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {}


def _time_converters(dialect: Any) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """The `UTCDateTime` column type's own bind and result processing, for the driver (the
    last value converted is remembered: a purchase binds the same `now` several times)."""
    found = _CONVERTERS.get(dialect.name)
    if found is None:
        found = _CONVERTERS[dialect.name] = _make_converters(dialect)
    return found


def guarded_increment(dialect_name: str, table: Any, keys: dict[str, str], column: str,
                      amount: str, ceiling: str) -> Any:
    """`INSERT … ON CONFLICT DO UPDATE SET column = column + amount WHERE column + amount <=
    :ceiling RETURNING key`: a counter raised by one conditional upsert, never count-then-
    insert. `keys` maps key columns to parameter names; no row comes back when it would pass
    the ceiling."""
    statement = dialect_insert(dialect_name, table).values(
        **{name: bindparam(param) for name, param in keys.items()},
        **{column: bindparam(amount)})
    raised = table.c[column] + statement.excluded[column]
    return statement.on_conflict_do_update(
        index_elements=list(keys), set_={column: raised},
        where=raised <= bindparam(ceiling)).returning(table.c[next(iter(keys))])


def _make_converters(dialect: Any) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    from sqlalchemy import DateTime

    from wxshop_cli.db.types import UTCDateTime

    column_type = UTCDateTime().dialect_impl(dialect)
    process = column_type.bind_processor(dialect) or (lambda value: value)
    last: list[tuple[Any, Any]] = [(None, None)]  # one (value, converted) pair: swapped whole

    def to_db(value: Any) -> Any:
        seen, converted = last[0]
        if value is not seen:
            converted = process(value)
            last[0] = (value, converted)
        return converted

    from_db = column_type.result_processor(dialect, DateTime(timezone=True)) or (
        lambda value: value)
    return to_db, from_db


class HotConnection:
    """A pooled DBAPI connection held for a run of hot transactions (a batch worker holds one
    for the whole batch; a single purchase checks one out per transaction)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.engine = db.engine
        self.dialect = self.engine.dialect
        self.sqlite = self.dialect.name == "sqlite"
        self.time, self.from_time = _time_converters(self.dialect)
        self._fairy: Any = None

    def _raw(self) -> Any:
        if self._fairy is None:
            try:
                self._fairy = self.engine.raw_connection()
            except Exception as exc:
                raise _translated(exc) from exc
        return self._fairy

    @contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[HotTransaction]:
        fairy = self._raw()
        driver = fairy.driver_connection
        try:
            tx = HotTransaction(driver, self.dialect, self.time, self.from_time)
            if self.sqlite:
                tx.cursor.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")
            yield tx
            if self.sqlite:
                tx.cursor.execute("COMMIT")
            else:
                driver.commit()
        except BaseException as exc:
            try:
                if self.sqlite:
                    if driver.in_transaction:
                        driver.execute("ROLLBACK")
                else:
                    driver.rollback()
            except Exception:
                self.close(invalidate=True)  # a connection we cannot roll back is not reused
            if isinstance(exc, Exception) and not isinstance(exc, WxError) and _is_driver_error(
                    exc):
                raise _translated(exc) from exc
            raise

    def close(self, *, invalidate: bool = False) -> None:
        if self._fairy is not None:
            fairy, self._fairy = self._fairy, None
            try:
                if invalidate:
                    fairy.invalidate()
                else:
                    fairy.close()
            except Exception:  # closing is best effort: the pool drops a broken connection
                pass


def thread_connection(db: Database) -> HotConnection:
    """This thread's hot connection to `db`, kept between purchases (checking one out of the
    pool and back for every transaction cost ~50 us a purchase). `db.dispose()` closes it."""
    local = db.__dict__.setdefault("_hot_local", threading.local())
    connection = getattr(local, "connection", None)
    if connection is None:
        connection = local.connection = HotConnection(db)
    return connection


def close_thread_connection(db: Database) -> None:
    local = db.__dict__.get("_hot_local")
    connection = getattr(local, "connection", None) if local is not None else None
    if local is not None and connection is not None:
        connection.close()
        local.connection = None


@contextmanager
def hot_transaction(db: Database, *, read_only: bool = False) -> Iterator[HotTransaction]:
    """One hot transaction on this thread's connection (see `thread_connection`)."""
    with thread_connection(db).transaction(read_only=read_only) as tx:
        yield tx


def _is_driver_error(exc: BaseException) -> bool:
    """A database's error (not a bug in a statement, which stays a bug)."""
    from sqlalchemy.exc import DBAPIError

    module = type(exc).__module__ or ""
    return module.startswith(("sqlite3", "psycopg")) or isinstance(exc, DBAPIError)


def _translated(exc: BaseException) -> WxError:
    from wxshop_cli.db.faults import translate_db_error

    return translate_db_error(exc)
