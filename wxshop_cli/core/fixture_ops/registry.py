"""The fixture operations' registry: `@op("area.verb")` registers an operation, and
`FixtureContext` is what each one gets. Apart from the loader (core/fixtures.py), so that the
operation modules and the loader import it and not each other."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wxshop_cli.db.engine import Database

Operation = Callable[["FixtureContext", dict[str, Any]], dict[str, Any]]
OPS: dict[str, Operation] = {}
#: op name → (required, optional) argument names, for ops that declare them: the loader
#: checks them for the whole file before any step runs.
OP_ARGS: dict[str, tuple[frozenset[str], frozenset[str]]] = {}


def op(name: str, *, required: tuple[str, ...] | None = None,
       optional: tuple[str, ...] = ()) -> Callable[[Operation], Operation]:
    def register(func: Operation) -> Operation:
        OPS[name] = func
        if required is not None:
            OP_ARGS[name] = (frozenset(required), frozenset(optional))
        return func

    return register


@dataclass
class FixtureContext:
    db: Database
    now: dt.datetime
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    step: str = ""  # the name of the step being applied (ops may key idempotency on it)
