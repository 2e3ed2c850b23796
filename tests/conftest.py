"""Every test gets its own data directory and database; no test touches the real home.

Database tests that take the `backend` fixture run on SQLite and on PostgreSQL when
`WXSHOP_TEST_DATABASE_URL` is set; in CI (`CI=true`) a missing PostgreSQL fails instead of
skipping.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
import typer.testing
from typer.testing import CliRunner

from wxshop_cli import security
from wxshop_cli.app import app
from wxshop_cli.db import engine as db_engine

REPO = Path(__file__).resolve().parent.parent
# Cache compiled bytecode, as a normal Python does: with PYTHONDONTWRITEBYTECODE set (some
# sandboxes and CI images set it), every wxshop process a test starts compiled wxshop's
# modules from source again, and every xdist worker re-rewrote every test module's asserts.
# The caches go to the ignored __pycache__ directories; they change what runs, not how.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False
PG_URL = os.environ.get("WXSHOP_TEST_DATABASE_URL") or None
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1… under pytest-xdist
if PG_URL and XDIST_WORKER:  # each worker resets its own database, never its neighbour's
    from sqlalchemy.engine import make_url

    _base = make_url(PG_URL)
    PG_URL = _base.set(database=f"{_base.database}_{XDIST_WORKER}").render_as_string(
        hide_password=False)
IN_CI = os.environ.get("CI") == "true"
#: The payment password's scrypt cost in tests (SPEC 5: tests may configure cheaper
#: parameters; every path still hashes). The sandbox crowd of `rehearse` uses the same.
TEST_SCRYPT_N = "16"


# Modules whose tests drive wxshop through a pseudo-terminal (pexpect): slow, and timing
# sensitive under load. They get the `terminal` marker (`-m "not terminal"` skips them).
TERMINAL_MODULES = {"test_bind_terminal", "test_buy_interrupted", "test_buy_terminal",
                    "test_confirm_terminal", "test_red_dot_terminal", "test_terminal_tables"}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark terminal tests; under pytest-xdist keep every process-heavy test (terminal or
    `slow`: races, rehearsals, builds) on one worker, one at a time, so that they do not
    starve each other of the machine's cores while the other worker runs the quick tests."""
    for item in items:
        if item.module is not None and item.module.__name__.rsplit(".", 1)[-1] in \
                TERMINAL_MODULES:
            item.add_marker(pytest.mark.terminal)
        if item.get_closest_marker("terminal") or item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.xdist_group("heavy"))


SHM = Path("/dev/shm")


def pytest_configure(config: pytest.Config) -> None:
    # A shell starts background jobs, and pytest-xdist its workers, with SIGINT ignored;
    # children inherit that, and the Ctrl-C tests would see a wxshop deaf to Ctrl-C.
    import signal

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # A safety net under wx_env's private WXSHOP_HOME: a test that undoes its monkeypatches
    # wholesale loses that home, and must then land in a throwaway one, not the machine's.
    import tempfile

    os.environ["XDG_DATA_HOME"] = config.stash[_XDG_HOME] = tempfile.mkdtemp(
        prefix="wxshop-tests-xdg-")
    """Test homes in memory when the machine has /dev/shm: every SQLite commit fsyncs, and
    on a busy disk those waits were most of a test's time. `--basetemp` still wins."""
    if config.option.basetemp is None and SHM.is_dir() and os.access(SHM, os.W_OK):
        import tempfile

        config.option.basetemp = tempfile.mkdtemp(prefix="wxshop-tests-", dir=SHM)
        config.stash[_SHM_BASE] = config.option.basetemp


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the run's throwaway directories (a failed run's files are not kept in memory)."""
    import shutil

    for key in (_XDG_HOME, _SHM_BASE):
        path = config.stash.get(key, None)
        if path is not None:
            shutil.rmtree(path, ignore_errors=True)


_SHM_BASE = pytest.StashKey[str]()
_XDG_HOME = pytest.StashKey[str]()


_real_make_engine = db_engine.make_engine
_SHARED_ENGINES: dict[str, Any] = {}


def _engine_sharing_compiled_sql(url: str) -> Any:
    """`make_engine`, but every engine of one dialect in this test process shares the first
    one's dialect object and statement cache. SQLAlchemy keys compiled SQL (and each column
    type's per-dialect form) by the dialect *object*, so each test's new database started
    with a cold cache and recompiled every statement: a third of an in-process test's CPU.
    A wxshop process opens one database, so this changes what tests pay, not what they run:
    connections, pools, events and settings are still each engine's own."""
    from sqlalchemy.util import LRUCache

    engine = _real_make_engine(url)
    first = _SHARED_ENGINES.get(engine.dialect.name)
    if first is None:
        engine._compiled_cache = LRUCache(5000)
        _SHARED_ENGINES[engine.dialect.name] = engine
    else:
        engine.dialect = engine.pool._dialect = first.dialect
        engine._compiled_cache = first._compiled_cache
    return engine


db_engine.make_engine = _engine_sharing_compiled_sql  # type: ignore[assignment]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """One SQLite database migrated by the real Alembic chain, once per test session.

    Each test's new SQLite file starts as a copy of it (see `wx_env`), so the ~0.2 s upgrade
    is paid once instead of per test; the merchant settings row (random ids, the key check
    of the test's own key) is still created per database by the code under test."""
    from wxshop_cli.db.migrations.runner import upgrade_connection

    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = db_engine.make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        upgrade_connection(conn)
    engine.dispose()
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as raw:  # fold the WAL into the file
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.read_bytes()


@pytest.fixture(autouse=True)
def wx_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
           sqlite_template: bytes) -> Path:
    """A private WXSHOP_HOME and a clean environment for each test.

    A SQLite file wxshop creates starts as the migrated template; tests marked
    `real_migrations` (the migration tests themselves) get the real, empty first run."""
    for name in list(os.environ):
        if name.startswith("WXSHOP_") and name != "WXSHOP_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.delenv("NO_COLOR", raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("WXSHOP_HOME", str(home))
    # Cheap scrypt for tests: configuration, never a code path that skips hashing.
    monkeypatch.setenv("WXSHOP_SCRYPT_N", TEST_SCRYPT_N)
    if request.node.get_closest_marker("real_migrations") is None:
        monkeypatch.setattr(security, "precreate_private_file",
                            lambda path: _precreate_from_template(path, sqlite_template))
    db_engine.forget()
    yield home
    db_engine.forget()


def _precreate_from_template(path: Path, template: bytes) -> None:
    """`security.precreate_private_file`, but a new file gets the template's bytes."""
    security.ensure_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    try:
        os.write(fd, template)
    finally:
        os.close(fd)


def _create_worker_database(url: str) -> None:
    """Create this xdist worker's database next to the configured one, once."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = create_engine(target.set(database=_base.database), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                        {"n": target.database}).scalar() is None:
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


_worker_database_ready = False


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    global _worker_database_ready
    if XDIST_WORKER and not _worker_database_ready:
        _create_worker_database(url)
        _worker_database_ready = True
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test on each engine: SQLite always, PostgreSQL when configured."""
    if request.param == "postgresql":
        if not PG_URL:
            if IN_CI:
                pytest.fail("CI=true but WXSHOP_TEST_DATABASE_URL is not set")
            pytest.skip("PostgreSQL not configured (set WXSHOP_TEST_DATABASE_URL)")
        reset_postgres(PG_URL)
        monkeypatch.setenv("WXSHOP_DB", PG_URL)
    return request.param


_ROOT_COMMANDS: dict[bool, Any] = {}


def _root_command(typer_app: Any) -> Any:
    """The Click command of the app, built once per run (per completion state) instead of on
    every invocation: Typer rebuilds the whole command tree from the functions' signatures
    each time `CliRunner.invoke` runs, which was a quarter of an in-process test's CPU. A real
    wxshop process builds it once too. Completion attaches its value completers at build time
    (`lazy.completing()`), so a run with `_WXSHOP_COMPLETE` set gets a tree of its own."""
    if typer_app is not app:
        return typer.main.get_command(typer_app)
    from wxshop_cli.lazy import completing

    key = completing()
    if key not in _ROOT_COMMANDS:
        _ROOT_COMMANDS[key] = typer.main.get_command(typer_app)
    return _ROOT_COMMANDS[key]


typer.testing._get_command = _root_command  # type: ignore[attr-defined]


class Cli:
    """Drive wxshop in-process through Typer's CliRunner."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None,
                 env: dict[str, str] | None = None):
        return self.runner.invoke(app, list(args), input=input, env=env,
                                  catch_exceptions=False)

    def json(self, *args: str, input: str | None = None, env: dict[str, str] | None = None,
             exit_code: int = 0) -> Any:
        """Run with --json before the command and return the parsed stdout."""
        result = self("--json", *args, input=input, env=env)
        assert result.exit_code == exit_code, (result.exit_code, result.stdout, result.stderr)
        return json.loads(result.stdout)

    def fails(self, exit_code: int, *args: str, input: str | None = None,
              env: dict[str, str] | None = None) -> dict[str, Any]:
        """Run with --json, expect failure with `exit_code`; return the error object."""
        result = self("--json", *args, input=input, env=env)
        assert result.exit_code == exit_code, (result.exit_code, result.stdout, result.stderr)
        assert result.stdout == "", result.stdout
        lines = result.stderr.strip().splitlines()
        error = json.loads(lines[-1])["error"]
        assert error["exit_code"] == exit_code
        return error


@pytest.fixture
def cli() -> Cli:
    return Cli()


def run_wxshop(*args: str, env: dict[str, str] | None = None, input: str | None = None,
               cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run wxshop in a real process (cross-process tests: races, crashes, start-up)."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(REPO) + os.pathsep + full_env.get("PYTHONPATH", "")
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-m", "wxshop_cli", *args], env=full_env,
                          input=input, capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)
