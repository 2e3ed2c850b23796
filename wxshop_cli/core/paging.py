"""Pages of a list (issue 14, item 3; docs/decisions-cli.md "Paging"): `--limit N` rows
after an opaque cursor, by keyset — never OFFSET.

Each list declares its `Ordering` once: a name (the cursor carries it, so the cursor of one
list is refused by another) and the keys it sorts by, the last one unique, all of them
non-null and backed by an index on the list's filter. A page is read as `WHERE (keys) come
after the cursor's values ORDER BY keys LIMIT n + 1`: the extra row says whether there is
more, and rows inserted meanwhile before the cursor (newer orders of a newest-first list)
never shift the next page, so every row is seen exactly once.

The cursor is the last row's key values as JSON, base64url-encoded (`o1…`): opaque to a
script, stable across runs and engines. A cursor that does not decode, belongs to another
list or carries values of the wrong kind is a usage error (exit 2, `invalid_cursor`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, literal, or_, tuple_

from wxshop_cli.errors import UsageError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_PREFIX = "c1."
_MAX_CURSOR = 1024


@dataclass(frozen=True)
class Key:
    """One sort key: a column or SQL expression, its direction, and the kind of its values
    (`str`, `int`, `bool`, `time`: how a cursor carries them)."""

    expr: Any
    kind: str = "str"
    descending: bool = False


@dataclass(frozen=True)
class Ordering:
    """How one list is sorted: its name (`orders`, `promos`, …) and its keys, the last
    unique."""

    name: str
    keys: tuple[Key, ...]

    def order_by(self) -> list[Any]:
        return [k.expr.desc() if k.descending else k.expr.asc() for k in self.keys]

    def after(self, values: Sequence[Any]) -> Any:
        """The rows that come after `values` in this order (mixed directions allowed):
        k1 > v1 OR (k1 = v1 AND k2 > v2) OR …; keys all in one direction compare as one
        row value, `(k1, k2) < (v1, v2)`, which an index on the keys answers as a range."""
        # Bound with each key's own type (UTC times as the column stores them; booleans as
        # parameters, which SQLAlchemy would otherwise refuse to compare with < or >).
        values = [literal(v, type_=k.expr.type) for k, v in zip(self.keys, values, strict=True)]
        if len({k.descending for k in self.keys}) == 1:
            row = tuple_(*(k.expr for k in self.keys))
            bound = tuple_(*values)
            return row < bound if self.keys[0].descending else row > bound
        terms = []
        for i, key in enumerate(self.keys):
            equal = [self.keys[j].expr == values[j] for j in range(i)]
            beyond = key.expr < values[i] if key.descending else key.expr > values[i]
            terms.append(and_(*equal, beyond))
        return or_(*terms)


@dataclass
class Page:
    """The rows of one page, whether more come after it, and the cursor of the next."""

    rows: list[Any]
    has_more: bool
    next_cursor: str | None

    def map(self, shape: Callable[[Any], Any]) -> Page:
        return Page([shape(row) for row in self.rows], self.has_more, self.next_cursor)

    def info(self) -> dict[str, Any]:
        return {"has_more": self.has_more, "next_cursor": self.next_cursor}


def check_limit(limit: int) -> int:
    """`--limit`: 1 to MAX_LIMIT (exit 2 otherwise; a non-number is refused by the parser)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"--limit must be 1 to {MAX_LIMIT}, got {limit}",
                         slug="invalid_page_size", param="--limit",
                         hint=f"the default is {DEFAULT_LIMIT}; page on with --after CURSOR")
    return limit


def empty_page(ordering: Ordering, *, limit: int, after: str | None) -> Page:
    """The page of a list that has no rows at all (a buyer who does not exist yet): the
    limit and the cursor are checked as for any page."""
    check_limit(limit)
    if after is not None:
        decode(ordering, after)
    return Page([], False, None)


# ---------------------------------------------------------------- cursors


def _bad_cursor(why: str) -> UsageError:
    return UsageError(f"--after: {why}", slug="invalid_cursor", param="--after",
                      hint="pass the next_cursor of the same list's previous page "
                           "(--page-info), or leave --after out for the first page")


def encode(ordering: Ordering, values: Sequence[Any]) -> str:
    carried = []
    for key, value in zip(ordering.keys, values, strict=True):
        if key.kind == "time":
            value = value.astimezone(dt.UTC).isoformat()
        elif key.kind == "bool":
            value = bool(value)
        carried.append(value)
    raw = json.dumps([ordering.name, *carried], ensure_ascii=True, separators=(",", ":"))
    return _PREFIX + base64.urlsafe_b64encode(raw.encode("ascii")).decode("ascii").rstrip("=")


def decode(ordering: Ordering, cursor: str) -> list[Any]:
    """The key values a cursor carries, checked against `ordering` (exit 2 otherwise)."""
    if not cursor.startswith(_PREFIX) or len(cursor) > _MAX_CURSOR:
        raise _bad_cursor("not a cursor of wxshop")
    body = cursor[len(_PREFIX):]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        parsed = json.loads(raw.decode("ascii"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _bad_cursor("not a cursor of wxshop") from None
    if not isinstance(parsed, list) or not parsed or not isinstance(parsed[0], str):
        raise _bad_cursor("not a cursor of wxshop")
    if parsed[0] != ordering.name:
        raise _bad_cursor(f"this cursor pages another list ({parsed[0][:40]!r}), not "
                          f"{ordering.name!r}")
    values = parsed[1:]
    if len(values) != len(ordering.keys):
        raise _bad_cursor("not a cursor of this list")
    return [_value(key, value) for key, value in zip(ordering.keys, values, strict=True)]


def _value(key: Key, value: Any) -> Any:
    ok = {"str": isinstance(value, str), "bool": isinstance(value, bool),
          "int": isinstance(value, int) and not isinstance(value, bool),
          "time": isinstance(value, str)}[key.kind]
    if not ok:
        raise _bad_cursor("not a cursor of this list")
    if key.kind == "time":
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise _bad_cursor("not a cursor of this list") from None
        if moment.tzinfo is None:
            raise _bad_cursor("not a cursor of this list")
        return moment
    return value


# ---------------------------------------------------------------- reading a page


def read_page(session: Any, query: Any, ordering: Ordering, *, limit: int,
              after: str | None, keep: Callable[[Any], bool] | None = None,
              entity: bool = True) -> Page:
    """One page of `query` (a `select(...)` with its filters, no ORDER BY or LIMIT) in
    `ordering`'s order: up to `limit` rows after the cursor `after`.

    `keep` filters rows the database cannot (a promotion's derived status): rows are then
    read in keyset chunks until the page is full or the list ends, and the cursor is the
    last kept row's. With `entity` the query selects one ORM entity and the rows are those
    objects; otherwise the rows are the selected tuples."""
    check_limit(limit)
    bound = decode(ordering, after) if after is not None else None
    n_keys = len(ordering.keys)
    base = query.add_columns(*(k.expr for k in ordering.keys)).order_by(*ordering.order_by())
    kept: list[tuple[Any, list[Any]]] = []
    chunk = limit + 1 if keep is None else max(limit + 1, 200)
    while True:
        statement = base.where(ordering.after(bound)) if bound is not None else base
        fetched = session.execute(statement.limit(chunk)).all()
        for row in fetched:
            values = list(row[-n_keys:])
            item = row[0] if entity else tuple(row[:-n_keys])
            if keep is None or keep(item):
                kept.append((item, values))
            bound = values
            if len(kept) > limit:
                break
        if len(kept) > limit or len(fetched) < chunk:
            break
    more = len(kept) > limit
    kept = kept[:limit]
    cursor = encode(ordering, kept[-1][1]) if more else None
    return Page([item for item, _ in kept], more, cursor)
