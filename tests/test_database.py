"""The database layer: migrations on both engines, key check, concurrent first runs."""

import json
import sqlite3
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.real_migrations


def test_upgrade_creates_the_schema_then_is_a_no_op(cli, backend):
    first = cli.json("db", "upgrade")
    from wxshop_cli.db.migrations import HEAD

    assert first["revision"] == HEAD
    assert first["upgraded"] is True
    second = cli.json("db", "upgrade")
    assert second == {"revision": HEAD, "previous": HEAD, "upgraded": False}


def test_models_and_migrations_agree(backend, cli):
    """A fresh database built by the migrations has exactly the models' schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import wxshop_cli.db.models  # noqa: F401
    from wxshop_cli.db.engine import database

    cli.json("db", "upgrade")
    with database().engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_revision_constants_match_the_scripts():
    from alembic.script import ScriptDirectory

    from wxshop_cli.db.migrations import HEAD, REVISIONS
    from wxshop_cli.db.migrations.runner import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config())
    assert scripts.get_current_head() == HEAD
    chain = [rev.revision for rev in scripts.walk_revisions()][::-1]
    assert tuple(chain) == REVISIONS


def test_merchant_defaults_are_created_with_the_database(cli, backend):
    settings = cli.json("merchant", "show")
    assert settings["app_id"].startswith("wx") and len(settings["app_id"]) == 18
    int(settings["app_id"][2:], 16)
    assert len(settings["mch_id"]) == 10 and settings["mch_id"].isdigit()
    assert settings["fee_rate"] == "0.60%"
    assert settings["fee_rate_ppm"] == 6000


def test_merchant_set_changes_and_reports(cli, backend):
    changed = cli.json("merchant", "set", "--app-id", "wx8888888888888888",
                       "--mch-id", "1230000109", "--fee-rate", "0.38")
    assert changed["changed"] == ["app_id", "mch_id", "fee_rate_ppm"]
    assert cli.json("merchant", "show")["fee_rate"] == "0.38%"
    again = cli.json("merchant", "set", "--fee-rate", "0.38%")
    assert again["changed"] == []


def test_bad_merchant_settings_change_nothing(cli, backend):
    before = cli.json("merchant", "show")
    cli.fails(3, "merchant", "set", "--mch-id", "1230000109", "--fee-rate", "101%")
    assert cli("merchant", "set", "--mch-id", "1230000109", "--fee-rate", "lots"
               ).exit_code == 2  # not a number at all: a usage error
    assert cli.json("merchant", "show") == before


def test_a_different_secret_key_is_refused(cli, wx_env, tmp_path, backend):
    cli.json("db", "upgrade")
    other = tmp_path / "other.key"
    other.write_bytes(b"x" * 32)
    error = cli.fails(5, "merchant", "show", env={"WXSHOP_SECRET_KEY_FILE": str(other)})
    assert error["code"] == "wrong_secret_key"


def test_a_newer_database_is_refused_and_not_touched(cli, wx_env):
    cli.json("db", "upgrade")
    path = wx_env / "wxshop.db"
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    error = cli.fails(5, "db", "upgrade")
    assert error["code"] == "database_newer"
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("9999",)


def test_sqlite_runs_in_wal_mode_with_secure_delete(cli, wx_env):
    cli.json("db", "upgrade")
    from wxshop_cli.db.engine import database

    with database().engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0


def test_times_keep_their_instant_on_both_engines(cli, backend):
    import datetime as dt

    from wxshop_cli.db.engine import database
    from wxshop_cli.db.models import Buyer

    cli.json("db", "upgrade")
    db = database()
    beijing = dt.timezone(dt.timedelta(hours=8))
    moment = dt.datetime(2013, 11, 11, 0, 0, 1, tzinfo=beijing)
    with db.transaction() as session:
        session.add(Buyer(name="t", created_at=moment))
    with db.transaction(read_only=True) as session:
        from sqlmodel import select

        stored = session.exec(select(Buyer).where(Buyer.name == "t")).one().created_at
    assert stored == moment
    assert stored.utcoffset() == dt.timedelta(0)


@pytest.mark.slow
def test_many_processes_on_an_empty_home_agree_on_one_key_and_schema(tmp_path, backend):
    """Six processes start at once on an empty data directory (and, for PostgreSQL, an empty
    database): one key file, one schema, one merchant row, every process succeeds."""
    import os

    home = tmp_path / "race-home"
    env = dict(os.environ, WXSHOP_HOME=str(home), PYTHONPATH=str(REPO))
    procs = [subprocess.Popen([sys.executable, "-m", "wxshop_cli", "--json", "merchant", "show"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(6)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    merchants = {json.loads(out)["mch_id"] for out, _ in outputs}
    assert len(merchants) == 1
    assert (home / "secret.key").stat().st_size == 32


def test_the_partial_card_index_has_its_where_clause_on_both_engines():
    """models.PartialIndex fills each engine's option in late (start-up): same DDL."""
    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.schema import CreateIndex

    from wxshop_cli.db.models import Card

    (index,) = [i for i in Card.__table__.indexes if i.name == "uq_card_bound_fingerprint"]
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        ddl = str(CreateIndex(index).compile(dialect=dialect))
        assert ddl.endswith("ON card (buyer_id, fingerprint) WHERE status = 'bound'"), ddl
        assert ddl.startswith("CREATE UNIQUE INDEX")
    assert {k: str(v) for k, v in index.dialect_kwargs.items()} == {
        "sqlite_where": "status = 'bound'", "postgresql_where": "status = 'bound'"}


def test_a_database_command_on_sqlite_does_not_load_the_postgresql_dialect(cli):
    import os

    cli.json("db", "upgrade")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "wxshop_cli", "--json",
                           "merchant", "show"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert "sqlalchemy.dialects.sqlite" in imported  # the check sees the engine's imports
    assert "sqlalchemy.dialects.postgresql" not in imported
    assert "alembic" not in imported  # the schema is current: only its revision is read
