"""Every filter of `orders list`, `report sales --date` and `reconciliations list` reads
through an index that also gives its order (revision 0002), on both engines (issue 10).

The statements checked are the ones the services really execute (captured from the engine),
run under EXPLAIN. A few thousand orders are enough for SQLite's planner; on PostgreSQL a
table this small is cheaper to scan, so sequential scans and sorts are priced out
(`enable_seqscan`/`enable_sort` off): the plan then uses an index that serves the filter
and the order, or shows the scan or the sort that the test refuses. bench/growth.py measures
the same queries at a million orders.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from contextlib import contextmanager
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, text

from tests.shop import WINDOW_START, buyer, open_db, product, promo
from wxshop_cli.core import orders, reconcile, reports
from wxshop_cli.db.models import Order, ReconcileRun

TZ = ZoneInfo("Asia/Shanghai")
# A common status and a rare one: a filter on a rare one is what walking the created_at
# index (skipping the others) made slow at a million orders.
STATUSES = ("paid",) * 60 + ("closed",) * 20 + ("refunded", "partially_refunded") * 9 + (
    "paying",)


def _book(db, count: int = 4000) -> dict:
    rng = random.Random(10)
    buyers = [buyer(db, f"b{i}") for i in range(8)]
    product(db, "S1")
    product(db, "S2")
    promo(db, "p1", [{"sku": "S1", "price_fen": 100, "stock": 10}])
    promo(db, "p2", [{"sku": "S2", "price_fen": 100, "stock": 10}])
    with db.transaction(read_only=True) as session:
        promo_ids = [row[0] for row in session.execute(text("SELECT id FROM promo"))]
    rare_buyer, rare_promo = buyers[-1], promo_ids[-1]
    rows = []
    for n in range(count):
        created = WINDOW_START + dt.timedelta(minutes=n * 7)
        status = rng.choice(STATUSES)
        sold = status in reports.SOLD
        rare = rng.random() < 0.01
        rows.append(dict(order_no=f"D{n:012d}",
                         buyer_id=rare_buyer if rare else rng.choice(buyers[:-1]),
                         promo_id=rare_promo if rng.random() < 0.01 else promo_ids[0],
                         item_id=None, sku="S1",
                         title="t", qty=1, unit_price_fen=100, amount_fen=100,
                         refunded_fen=100 if status == "refunded" else 0, card_id="c",
                         address_id="a", region_code="310000", status=status,
                         transaction_id=f"T{n}" if sold else None, idempotency_key=None,
                         stock_returned=False, created_at=created,
                         paid_at=created + dt.timedelta(seconds=5) if sold else None,
                         closed_at=None, close_reason=None))
    runs = [dict(id=f"run_{n:04d}", content_sha256=f"{n:064d}", bill_date=dt.date(2013, 11, 11),
                 bill_type="ALL", source="", rows=0, matched=0,
                 created_at=WINDOW_START + dt.timedelta(hours=n)) for n in range(300)]
    with db.transaction() as session:
        session.execute(Order.__table__.insert(), rows)
        session.execute(ReconcileRun.__table__.insert(), runs)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return {"buyer": rare_buyer, "promo": rare_promo}


@contextmanager
def _captured(db):
    statements: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)


def _plan(db, statement: str, parameters) -> str:
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        if db.dialect == "postgresql":
            with raw.cursor() as cursor:
                cursor.execute("SET LOCAL enable_seqscan = off")
                cursor.execute("SET LOCAL enable_sort = off")
                cursor.execute("EXPLAIN " + statement, parameters)
                plan = "\n".join(row[0] for row in cursor.fetchall())
            raw.rollback()
            return plan
        cursor = raw.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


def _plans_of(db, call, table: str) -> list[str]:
    """The plans of the statements `call` runs that read `table`."""
    with _captured(db) as statements, db.transaction(read_only=True) as session:
        call(session)
    chosen = [(s, p) for s, p in statements
              if f"FROM {table}" in s and s.lstrip().upper().startswith("SELECT")]
    assert chosen, statements
    return [_plan(db, s, p) for s, p in chosen]


def _uses(plan: str, index: str, dialect: str) -> None:
    """The plan reads through `index` and needs no sort of its own."""
    assert index in plan, plan
    if dialect == "postgresql":
        assert "Seq Scan" not in plan, plan
        assert not re.search(r"(^|->)\s*(Incremental )?Sort\b", plan, re.M), plan
    else:
        assert "TEMP B-TREE" not in plan, plan


@pytest.fixture
def book(cli, backend):
    cli.json("db", "upgrade")
    db = open_db()
    facts = _book(db)
    return db, facts


@pytest.mark.parametrize("filters,index", [
    ({"buyer": True}, "ix_orders_buyer_created"),
    ({"status": "paying"}, "ix_orders_status_created"),
    ({"promo": True}, "ix_orders_promo_created"),
    ({"day": True}, "ix_orders_created"),
])
def test_orders_list_filters_use_their_index(book, filters, index):
    db, facts = book
    start = dt.datetime(2013, 11, 12, tzinfo=TZ)
    bounds = (start.astimezone(dt.UTC), (start + dt.timedelta(days=1)).astimezone(dt.UTC))

    def call(session):
        found = orders.list_orders(
            session, buyer_id=facts["buyer"] if filters.get("buyer") else None,
            status=filters.get("status"),
            promo_id=facts["promo"] if filters.get("promo") else None,
            day_bounds=bounds if filters.get("day") else None).rows
        assert found  # the filter selects something, newest first
        assert [o.created_at for o in found] == sorted((o.created_at for o in found),
                                                       reverse=True)

    (plan,) = _plans_of(db, call, "orders")
    _uses(plan, index, db.dialect)


@pytest.mark.parametrize("by", reports.GROUPINGS)
def test_a_days_sales_report_reads_the_sold_orders_of_that_day_by_index(book, by):
    db, _ = book

    def call(session):
        assert reports.sales(session, by, TZ, dt.date(2013, 11, 12))

    for plan in _plans_of(db, call, "orders"):
        assert "ix_orders_paid_at" in plan, plan  # the day's range, not the whole book
        assert "Seq Scan" not in plan and "SCAN orders\n" not in plan + "\n", plan


def test_reconciliations_list_reads_the_newest_runs_by_index(book):
    db, _ = book

    def call(session):
        assert len(reconcile.list_runs(session, TZ, limit=20).rows) == 20

    plans = _plans_of(db, call, "reconcile_run")
    _uses(plans[0], "ix_reconcile_run_created", db.dialect)
