"""Every test gets its own data directory and database; no test touches the real home.

Database tests that take the `backend` fixture run on SQLite and on PostgreSQL when
`WXSHOP_TEST_DATABASE_URL` is set; in CI (`CI=true`) a missing PostgreSQL fails instead of
skipping.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from wxshop_cli.app import app
from wxshop_cli.db import engine as db_engine

REPO = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("WXSHOP_TEST_DATABASE_URL") or None
IN_CI = os.environ.get("CI") == "true"


@pytest.fixture(autouse=True)
def wx_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private WXSHOP_HOME and a clean environment for each test."""
    for name in list(os.environ):
        if name.startswith("WXSHOP_") and name != "WXSHOP_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.delenv("NO_COLOR", raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("WXSHOP_HOME", str(home))
    # Cheap scrypt for tests: configuration, never a code path that skips hashing.
    monkeypatch.setenv("WXSHOP_SCRYPT_N", "1024")
    db_engine.forget()
    yield home
    db_engine.forget()


def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

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
