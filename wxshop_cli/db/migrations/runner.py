"""Run Alembic programmatically on a connection the caller already holds (and has locked)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

SCRIPT_LOCATION = Path(__file__).parent


def alembic_config(connection=None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_connection(connection, revision: str = "head") -> None:
    command.upgrade(alembic_config(connection), revision)
