"""The one clock the whole program reads, and time parsing/display.

`--now`/`WXSHOP_NOW` freezes it for an invocation. Times are aware datetimes in UTC inside
the program and the database; they are shown in `WXSHOP_TZ` (default Asia/Shanghai). Bills
always use Beijing time, whatever `WXSHOP_TZ` says.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC
BEIJING_TZ_NAME = "Asia/Shanghai"


@cache
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        from wxshop_cli.errors import UsageError

        raise UsageError(f"unknown time zone {name!r}", slug="invalid_time_zone",
                         hint="WXSHOP_TZ takes an IANA name such as Asia/Shanghai") from exc


def beijing() -> ZoneInfo:
    return zone(BEIJING_TZ_NAME)


def parse_instant(text: str, tz: ZoneInfo) -> dt.datetime:
    """ISO 8601 → aware UTC datetime. A time without an offset is read in `tz`.

    Raises ValueError on anything that is not ISO 8601 (callers turn that into a usage error
    for options, or an invalid-input error for file fields)."""
    raw = text.strip()
    if not raw:
        raise ValueError("empty time")
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    value = dt.datetime.fromisoformat(raw)
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 pushed past the calendar by its offset
        raise ValueError(f"time out of range: {text!r}") from None
    # Keep a day of margin at both ends so that any display zone can show it.
    if not 2 <= value.year <= 9998:
        raise ValueError(f"time out of range: {text!r}")
    return value


class Clock:
    """Real or frozen. Every "now" in wxshop comes from here, never from the database."""

    def __init__(self, frozen: dt.datetime | None = None) -> None:
        self.frozen = frozen.astimezone(UTC) if frozen is not None else None

    def now(self) -> dt.datetime:
        if self.frozen is not None:
            return self.frozen
        return dt.datetime.now(UTC)

    def today_beijing(self) -> dt.date:
        return self.now().astimezone(beijing()).date()


def as_utc(value: dt.datetime) -> dt.datetime:
    """Aware UTC; a naive value is taken to be UTC already (as read back from a database)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@overload
def iso(value: dt.datetime, tz: dt.tzinfo | None) -> str: ...


@overload
def iso(value: dt.datetime | None, tz: dt.tzinfo | None) -> str | None: ...


def iso(value: dt.datetime | None, tz: dt.tzinfo | None) -> str | None:
    """JSON form: ISO 8601 with the offset of the display zone."""
    if value is None:
        return None
    return as_utc(value).astimezone(tz).isoformat()


def human(value: dt.datetime | None, tz: dt.tzinfo) -> str:
    """Table/TSV form: `2013-11-11 10:02:11` in the display zone."""
    if value is None:
        return ""
    return as_utc(value).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def beijing_day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a natural day in Beijing time, as UTC instants."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=beijing())
    end = start + dt.timedelta(days=1)
    return start.astimezone(UTC), end.astimezone(UTC)
