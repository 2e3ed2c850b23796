"""Driver errors onto the exit-code contract (without echoing SQL parameters)."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from wxshop_cli.errors import Conflict, TryAgain, UsageError, WxError


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

