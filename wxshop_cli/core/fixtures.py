"""`wxshop fixtures load`: apply a JSON fixture, step by step (SPEC section 11).

A fixture is `{"steps": [{"name": "...", "op": "...", "args": {...}}, ...]}`. A step may refer
to an earlier result as `${name.field}` (a string that is exactly one reference keeps the
value's type). Steps are idempotent by name: a step already applied to this database is not
run again and its stored result is reused. If a step fails, the error names it (exit 3) and
the steps before it stay.

Operations live in `wxshop_cli/core/fixture_ops/<area>.py`, registered with `@op("name")`
from `fixture_ops/registry.py`.
An operation gets a `FixtureContext` and the step's arguments and returns a dict with `id`.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import pkgutil
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wxshop_cli.core.fixture_ops.registry import OP_ARGS, OPS, FixtureContext
from wxshop_cli.errors import InvalidInput, NotFound, UsageError, WxError

if TYPE_CHECKING:
    from wxshop_cli.db.engine import Database

_REFERENCE = re.compile(r"\$\{([A-Za-z0-9_.-]+)\.([A-Za-z0-9_]+)\}")


def _argument_mistakes(where: str, operation: str, args: dict[str, Any],
                       earlier: set[str]) -> list[str]:
    """What can be known about a step's arguments before anything runs: their names, and
    that every reference names an earlier step."""
    mistakes = []
    if operation in OP_ARGS:
        required, optional = OP_ARGS[operation]
        unknown = sorted(set(args) - required - optional)
        missing = sorted(required - set(args))
        if unknown:
            mistakes.append(f"{where}.args: unknown argument(s) {', '.join(unknown)} "
                            f"(known: {', '.join(sorted(required | optional))})")
        if missing:
            mistakes.append(f"{where}.args: missing argument(s) {', '.join(missing)}")

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, f"{path}.{key}")
        elif isinstance(value, list):
            for index, inner in enumerate(value):
                walk(inner, f"{path}[{index}]")
        elif isinstance(value, str):
            for match in _REFERENCE.finditer(value):
                if match[1] not in earlier:
                    mistakes.append(f"{path}: {match[0]} refers to no earlier step")

    walk(args, f"{where}.args")
    return mistakes


def _load_ops() -> None:
    from wxshop_cli.core import fixture_ops

    for module in pkgutil.iter_modules(fixture_ops.__path__):
        importlib.import_module(f"{fixture_ops.__name__}.{module.name}")


def resolve_source(source: str) -> Path:
    """An existing file path, else a fixture shipped with wxshop by name (`double11`)."""
    path = Path(source).expanduser()
    try:
        if path.exists() and not path.is_dir():
            return path  # a regular file, or a device or FIFO that read_fixture refuses
    except OSError:  # a name too long, a loop: not a path, maybe a shipped name
        pass
    from wxshop_cli.resources import fixtures_dir

    if re.fullmatch(r"[A-Za-z0-9_-]+", source):
        shipped = fixtures_dir() / f"{source}.json"
        if shipped.is_file():
            return shipped
    raise NotFound(f"no fixture file or shipped fixture named {source!r}",
                   slug="fixture_not_found", hint="give a JSON file path, or `double11`")


def read_fixture(path: Path) -> list[dict[str, Any]]:
    """Parse and check the whole file's form before any step runs."""
    from wxshop_cli.core.inputlimits import MAX_DEPTH, read_bounded, too_deep

    def unusable(reason: str) -> UsageError:
        return UsageError(f"{path}: {reason}", slug="invalid_file",
                          hint="give a JSON fixture file, or a shipped name such as double11")

    try:
        text = read_bounded(path, unusable).decode("utf-8-sig")
        where = too_deep(text, toml=False)
        if where is not None:
            raise InvalidInput(f"{path}: {where}: nested more than {MAX_DEPTH} levels deep",
                               slug="invalid_fixture", location=where)
        document = json.loads(text)
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text", slug="invalid_fixture") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}: not JSON: {exc.msg} at line {exc.lineno}",
                           slug="invalid_fixture", location=f"line {exc.lineno}") from None
    except (ValueError, RecursionError):  # an integer of thousands of digits
        raise InvalidInput(f"{path}: a number too long to be one",
                           slug="invalid_fixture") from None
    except OSError as exc:
        raise UsageError(f"cannot read fixture {path}: {exc.strerror or exc}",
                         slug="invalid_file") from None
    steps = document.get("steps") if isinstance(document, dict) else None
    if not isinstance(steps, list):
        raise InvalidInput(f"{path}: expected an object with a list of \"steps\"",
                           slug="invalid_fixture")
    _load_ops()
    mistakes: list[str] = []
    seen: set[str] = set()
    for index, step in enumerate(steps):
        where = f"steps[{index}]"
        if not isinstance(step, dict):
            mistakes.append(f"{where}: expected an object")
            continue
        name, operation = step.get("name"), step.get("op")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", name):
            mistakes.append(f"{where}.name: expected 1-100 characters of A-Z a-z 0-9 _ . -")
        elif name in seen:
            mistakes.append(f"{where}.name: {name!r} is used twice")
        else:
            seen.add(name)
        if operation not in OPS:
            mistakes.append(f"{where}.op: unknown operation {operation!r} "
                            f"(known: {', '.join(sorted(OPS))})")
        args = step.get("args", {})
        if not isinstance(args, dict):
            mistakes.append(f"{where}.args: expected an object")
        elif operation in OPS:
            mistakes.extend(_argument_mistakes(where, operation, args, seen - {name}))
        unknown = set(step) - {"name", "op", "args"}
        if unknown:
            mistakes.append(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    if mistakes:
        raise InvalidInput(f"{path}: {len(mistakes)} mistake(s) in the fixture",
                           slug="invalid_fixture", details=mistakes)
    return steps


def substitute(value: Any, results: dict[str, dict[str, Any]], step: str) -> Any:
    if isinstance(value, dict):
        return {k: substitute(v, results, step) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, results, step) for v in value]
    if not isinstance(value, str):
        return value

    def lookup(name: str, key: str) -> Any:
        if name not in results or key not in results[name]:
            raise InvalidInput(f"step {step!r}: unknown reference ${{{name}.{key}}}",
                               slug="fixture_step_failed", step=step)
        return results[name][key]

    whole = _REFERENCE.fullmatch(value)
    if whole:
        return lookup(whole[1], whole[2])
    return _REFERENCE.sub(lambda m: str(lookup(m[1], m[2])), value)


def load_steps(source: str) -> list[dict[str, Any]]:
    """Find and check a fixture before the database is opened (bad input changes nothing)."""
    return read_fixture(resolve_source(source))


def apply_steps(db: Database, steps: list[dict[str, Any]],
                now: dt.datetime) -> dict[str, dict[str, Any]]:
    """Apply every step in order; returns name → result (each result has an `id`)."""
    from sqlmodel import select

    from wxshop_cli.db.models import FixtureStep

    ctx = FixtureContext(db=db, now=now)
    with db.transaction(read_only=True) as session:
        applied = {row.name: json.loads(row.result_json)
                   for row in session.exec(select(FixtureStep)).all()}
    for step in steps:
        name = step["name"]
        if name in applied:
            ctx.results[name] = applied[name]
            continue
        try:
            args = substitute(step.get("args", {}), ctx.results, name)
            ctx.step = name
            result = OPS[step["op"]](ctx, args)
        except WxError as exc:
            raise InvalidInput(f"step {name!r} ({step['op']}) failed: {exc.message}",
                               slug="fixture_step_failed", hint=exc.hint, step=name,
                               cause=exc.slug) from exc
        ctx.results[name] = result
        with db.transaction() as session:
            session.add(FixtureStep(name=name, op=step["op"],
                                    result_json=json.dumps(result, ensure_ascii=False,
                                                           default=str),
                                    applied_at=now))
    return ctx.results
