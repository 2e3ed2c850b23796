"""Databases a command makes for itself and throws away (`demo`, `rehearse`): a named file in
the data directory, recreated each run, never the one in WXSHOP_DB; or, with `--db`, a
database that must be empty (or is wiped with `--force`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wxshop_cli.errors import Conflict

if TYPE_CHECKING:
    from sqlmodel import Session

    from wxshop_cli.db.engine import Database


def is_empty(session: Session) -> bool:
    """True when the database holds no buyers, products, promotions, orders or fixtures."""
    from sqlalchemy import func, select

    from wxshop_cli.db.models import Buyer, FixtureStep, Order, Product, Promo

    return all(session.execute(select(func.count()).select_from(model)).scalar() == 0
               for model in (Buyer, Product, Promo, Order, FixtureStep))


def wipe(db: Database) -> None:
    """Drop every wxshop table (a `--force` on a database given with --db)."""
    from sqlalchemy import text
    from sqlmodel import SQLModel

    import wxshop_cli.db.models  # noqa: F401

    with db.engine.begin() as conn:
        SQLModel.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


def open_scratch(settings: Any, filename: str, *, force: bool, slug: str) -> Any:
    """`filename` in the data directory, recreated (with its -wal/-shm), unless `--db` named
    a database: that one must be empty, or `force` wipes it (else Conflict `slug`, exit 5)."""
    from wxshop_cli.db import engine

    if settings.db_option is None:
        path = settings.home / filename
        for suffix in ("", "-wal", "-shm"):
            candidate = path.with_name(path.name + suffix)
            if candidate.exists():
                candidate.unlink()
        settings.db_option = str(path)
        engine.forget()
    db = engine.database()
    with db.transaction(read_only=True) as session:
        empty = is_empty(session)
    if not empty:
        if not force:
            raise Conflict("the database given with --db is not empty", slug=slug,
                           hint="use an empty database, or --force to wipe it")
        wipe(db)
        engine.forget()
        db = engine.database()
    return db
