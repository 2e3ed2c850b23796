"""What every model is built from: the `SQLModel` base, `PartialIndex`, and the UTC time and
money fields."""

# No `from __future__ import annotations` here: pydantic would have to evaluate every field's
# annotation string when the models are defined (a quarter of this module's import time).
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import Index, Table
from sqlalchemy.util import PopulateDict, memoized_property
from sqlmodel import Field
from sqlmodel import SQLModel as _SQLModel
from sqlmodel.main import SQLModelConfig

from wxshop_cli.db.types import Money, UTCDateTime


class SQLModel(_SQLModel):
    """Every model's base: pydantic builds a model's validators when it is first validated,
    not when this module is imported (a command uses a few of these tables, and building
    all of them was a tenth of a database command's start-up)."""

    model_config = SQLModelConfig(defer_build=True)

    if TYPE_CHECKING:  # set by SQLModel on every table model; sqlmodel's types do not say so
        __table__: ClassVar[Table]


class PartialIndex(Index):
    """An index with a WHERE clause on both engines (`sqlite_where`, `postgresql_where`).

    Given as keywords, the PostgreSQL option is validated when the model is defined, which
    imports SQLAlchemy's whole PostgreSQL dialect (a tenth of a command's start-up) even on
    SQLite. Here each engine's option is filled in when that engine (or Alembic, through
    `dialect_kwargs`) first asks for it; the DDL is the same (tests/test_database.py)."""

    _ENGINES = ("sqlite", "postgresql")

    def __init__(self, name: str, *columns: str, where: Any, **kw: Any) -> None:
        self._wx_where = where
        super().__init__(name, *columns, **kw)

    @memoized_property
    def dialect_options(self) -> Any:
        def options(dialect: str) -> Any:
            found = self._kw_reg_for_dialect_cls(dialect)
            if dialect in self._ENGINES:
                found["where"] = self._wx_where
            return found

        return PopulateDict(options)

    @property
    def dialect_kwargs(self) -> Any:
        for dialect in self._ENGINES:
            self.dialect_options[dialect]  # fills the option in
        return super().dialect_kwargs

    @property
    def kwargs(self) -> Any:
        return self.dialect_kwargs


def utc_field(*, nullable: bool = False, index: bool = False):
    return Field(default=None if nullable else ..., sa_type=UTCDateTime, nullable=nullable,
                 index=index)


def money_field(default: int | None = None, *, nullable: bool = False):
    if default is None and not nullable:
        return Field(sa_type=Money, nullable=False)
    return Field(default=default, sa_type=Money, nullable=nullable)

