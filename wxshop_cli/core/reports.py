"""`report sales` (SPEC section 10): orders, units, GMV and average order value per group.

Counted: orders with a payment that stands in the book — `paid`, `partially_refunded` and
`refunded` (a fully refunded order still counts as an order, with GMV 0). GMV is what was paid
minus what was refunded (`amount_fen - refunded_fen`); the average order value is GMV / orders,
rounded half-up to the fen. An order belongs to the moment it was paid (`paid_at`).

Hours and days are the merchant's: `WXSHOP_TZ` (default Asia/Shanghai), like every time wxshop
shows — unlike bills, which are always Beijing time. The database adds up sales per quarter
hour of UTC (every real zone offset is a multiple of 15 minutes) and Python folds those
buckets into local hours or days, so any zone, DST included, groups exactly on both engines.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, cast, func, literal_column, select

from wxshop_cli.db.models import Order, Promo

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlmodel import Session

GROUPINGS = ("promo", "item", "region", "hour", "day")
SOLD = ("paid", "partially_refunded", "refunded")
_BUCKET_SECONDS = 900


def _quarter_hour(dialect: str) -> Any:
    """The UTC quarter hour of paid_at, as an integer (seconds since the epoch / 900)."""
    paid_at = Order.__table__.c.paid_at
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", paid_at) / _BUCKET_SECONDS), BigInteger)
    # SQLite keeps UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'; strftime('%s') reads it.
    return cast(func.strftime("%s", paid_at), BigInteger).op("/")(
        literal_column(str(_BUCKET_SECONDS)))


def _row(key: Any, label: str, orders: int, units: int, paid: int, refunded: int
         ) -> dict[str, Any]:
    # PostgreSQL sums bigints as numeric: back to int before any arithmetic.
    orders, units, paid, refunded = int(orders), int(units), int(paid), int(refunded)
    gmv = paid - refunded
    average = (2 * gmv + orders) // (2 * orders) if orders else 0  # half-up, gmv >= 0
    return {"key": key, "label": label, "orders": orders, "units": units, "paid_fen": paid,
            "refunded_fen": refunded, "gmv_fen": gmv, "avg_order_fen": average}


def sales(session: Session, by: str, tz: ZoneInfo,
          day: dt.date | None = None) -> list[dict[str, Any]]:
    """One row per group: key, label, orders, units, paid_fen, refunded_fen, gmv_fen,
    avg_order_fen. Promo, region: by GMV; item: best sellers (units) first; hour, day: in
    time order."""
    if by not in GROUPINGS:
        raise ValueError(by)
    o = Order.__table__.c
    where: list[ColumnElement[bool]] = [o.status.in_(SOLD), o.paid_at.is_not(None)]
    if day is not None:
        start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
        where += [o.paid_at >= start.astimezone(dt.UTC), o.paid_at < end.astimezone(dt.UTC)]
    measures = (func.count(), func.coalesce(func.sum(o.qty), 0),
                func.coalesce(func.sum(o.amount_fen), 0),
                func.coalesce(func.sum(o.refunded_fen), 0))
    dialect = session.get_bind().dialect.name
    if by == "promo":
        p = Promo.__table__.c
        query = (select(o.promo_id, func.max(p.code), func.max(p.title), *measures)
                 .select_from(Order.__table__.outerjoin(Promo.__table__, p.id == o.promo_id))
                 .where(*where).group_by(o.promo_id))
        rows = [_row(code, title if code else "(no promotion: list price)", *m)
                for _, code, title, *m in session.execute(query)]
        return sorted(rows, key=lambda r: (-r["gmv_fen"], -r["orders"], r["key"] or ""))
    if by == "item":
        query = (select(o.sku, func.max(o.title), *measures).where(*where).group_by(o.sku))
        rows = [_row(sku, title, *m) for sku, title, *m in session.execute(query)]
        return sorted(rows, key=lambda r: (-r["units"], -r["gmv_fen"], r["key"]))
    if by == "region":
        from wxshop_cli.core.regions import all_regions

        names = {r["code"]: r["name"] for r in all_regions()}
        query = select(o.region_code, *measures).where(*where).group_by(o.region_code)
        rows = [_row(code, names.get(code, code), *m) for code, *m in session.execute(query)]
        return sorted(rows, key=lambda r: (-r["gmv_fen"], -r["orders"], r["key"]))
    # hour / day: quarter hours of UTC from the database, folded into local time here.
    bucket = _quarter_hour(dialect).label("bucket")
    query = select(bucket, *measures).where(*where).group_by(bucket)
    groups: dict[dt.datetime, list[int]] = {}
    for quarter, *m in session.execute(query):
        local = dt.datetime.fromtimestamp(int(quarter) * _BUCKET_SECONDS, dt.UTC).astimezone(tz)
        if by == "hour":
            start = local.replace(minute=0, second=0, microsecond=0)
        else:
            start = dt.datetime.combine(local.date(), dt.time(0), tzinfo=tz)
        total = groups.setdefault(start, [0, 0, 0, 0])
        for i, value in enumerate(m):
            total[i] += int(value)
    rows = []
    for start in sorted(groups):
        if by == "hour":
            key, label = start.isoformat(), start.strftime("%Y-%m-%d %H:00")
        else:
            key = label = start.date().isoformat()
        rows.append(_row(key, label, *groups[start]))
    return rows


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    orders = sum(r["orders"] for r in rows)
    return _row(None, "total", orders, sum(r["units"] for r in rows),
                sum(r["paid_fen"] for r in rows), sum(r["refunded_fen"] for r in rows))
