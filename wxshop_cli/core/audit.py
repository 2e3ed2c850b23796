"""`wxshop audit`: every invariant of the book, checked in one consistent read.

`audit_book(db, now)` opens one snapshot (PostgreSQL: a REPEATABLE READ, READ ONLY
transaction; SQLite: one read transaction, which in WAL mode is one snapshot) and runs each
check inside it; `audit_session(session, now)` runs them in a transaction the caller holds.

Each check is one SQL query over the tables (aggregates, GROUP BY, LEFT JOINs), never a loop
over orders in Python. It is run first as a count — `COUNT(*)` of the rows checked and, per
violation kind, `SUM(CASE WHEN <violated> …)` — so a clean book costs one pass per check and
Python receives one row per check. A check with violations is read once more, streaming only
the rows that violate something, and Python keeps the `limit` smallest ids per kind in a
bounded heap: memory stays flat however big the book or the damage.

What counts as a violation: a state nothing will ever repair by itself. A state that the
sweep (`orders close-expired`, a read, a retry) or the process in the middle of it settles is
in flight, not a violation: a `pending_payment` or `paying` order whatever the gateway says,
an unpaid order past its window, a refund `processing` or a closed order's late charge for
less than IN_FLIGHT. See docs/reconcile.md ("wxshop audit") for the list of kinds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    func,
    literal,
    not_,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from wxshop_cli.core import orders as states
from wxshop_cli.core.checkout import CLAIM_TIMEOUT, KEY_TTL
from wxshop_cli.core.refunds import MAX_REFUNDS_PER_ORDER
from wxshop_cli.db.models import (
    Buyer,
    BuyerItemUsage,
    Card,
    GatewayCard,
    GatewayPayment,
    GatewayRefund,
    IdempotencyKey,
    InboxMessage,
    Order,
    Product,
    Promo,
    PromoItem,
    Refund,
)

#: Violations listed by default (every one is counted).
DEFAULT_LIMIT = 1000
MAX_LIMIT = 1_000_000

PAID_LIKE = (states.PAID, states.PARTIALLY_REFUNDED, states.REFUNDED)
#: A refund still `processing`, or a charge of a closed order not yet refunded, younger than
#: this (by the audit's clock) is in flight: the process making it writes its next step in
#: a moment. Older, nothing will finish it. The same 60 s as an idempotency claim's.
IN_FLIGHT = CLAIM_TIMEOUT
ORDER_NO_FORM = "D + 8-digit date + 10 digits"


@dataclass
class Violation:
    """One broken invariant: its kind, the ids of what broke it, and what was expected."""

    kind: str
    ids: dict[str, Any]
    expected: Any
    found: Any
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.ids, "expected": self.expected, "found": self.found,
                "detail": self.detail}


@dataclass
class AuditReport:
    """What was checked (rows per invariant), how many violations of each kind, and the
    first `limit` of them."""

    now: dt.datetime
    engine: str
    limit: int
    checked: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # kind → violations (non-zero only)
    violations: list[Violation] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def clean(self) -> bool:
        return self.total == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "checked": dict(self.checked),
            "violation_count": self.total,
            "counts": dict(self.counts),
            "listed": len(self.violations),
            "truncated": len(self.violations) < self.total,
            "violations": [v.to_json() for v in self.violations],
        }


# ------------------------------------------------------------------ the checks


@dataclass
class Kind:
    """A kind of violation of a check: when a row violates it and how that row reads."""

    name: str
    violated: ColumnElement[bool]
    describe: Callable[[Any], Violation]


@dataclass
class Check:
    name: str
    kinds: list[Kind]
    source: Any  # the subquery whose rows are checked
    order_by: Sequence[Any]  # how its violations are listed (by id)
    rows: Any = None  # what `checked` counts, when not the source's rows


def _in(column, values) -> ColumnElement[bool]:
    return column.in_(list(values))


def _order_no_malformed(column, dialect: str) -> ColumnElement[bool]:
    """Not `D` + a plausible 8-digit date (month 01-12, day 01-31) + 10 digits."""
    if dialect == "postgresql":
        digits = column.op("~")(literal("^D[0-9]{18}$"))
    else:
        # (ltrim of the digits: a tenth of the cost of an 18-class GLOB per row)
        digits = and_(func.length(column) == 19, func.substr(column, 1, 1) == "D",
                      func.ltrim(func.substr(column, 2), "0123456789") == "")
    month, day = func.substr(column, 6, 2), func.substr(column, 8, 2)
    return not_(and_(digits, month.between("01", "12"), day.between("01", "31")))


def _seconds_between(later, earlier, dialect: str):
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _promo_items() -> Check:
    held = (select(Order.item_id, func.sum(Order.qty).label("units"))
            .where(Order.item_id.is_not(None), Order.stock_returned.is_(False))
            .group_by(Order.item_id).subquery())
    s = (select(PromoItem.id.label("item_id"), PromoItem.sku, PromoItem.stock_total,
                PromoItem.sold, func.coalesce(held.c.units, 0).label("units"))
         .outerjoin(held, held.c.item_id == PromoItem.id)).subquery()
    c = s.c

    def ids(r):
        return {"item_id": r.item_id, "sku": r.sku}

    return Check("promo_items", [
        Kind("item_sold_mismatch", c.sold != c.units, lambda r: Violation(
            "item_sold_mismatch", ids(r), r.units, r.sold,
            f"sold is {r.sold}, but its orders that hold stock have {r.units} units")),
        Kind("item_oversold", or_(c.sold > c.stock_total, c.units > c.stock_total),
             lambda r: Violation(
                 "item_oversold", ids(r), r.stock_total, max(r.sold, r.units),
                 f"{max(r.sold, r.units)} units sold of a stock of {r.stock_total} "
                 f"(sold {r.sold}, orders hold {r.units})")),
        Kind("item_sold_negative", c.sold < 0, lambda r: Violation(
            "item_sold_negative", ids(r), 0, r.sold, f"sold is {r.sold}, below zero")),
    ], s, [c.item_id])


def _products() -> Check:
    s = select(Product.sku, Product.stock).subquery()
    c = s.c
    return Check("products", [
        Kind("product_stock_negative", c.stock < 0, lambda r: Violation(
            "product_stock_negative", {"sku": r.sku}, 0, r.stock,
            f"list-price stock is {r.stock}, below zero")),
    ], s, [c.sku])


def _buyer_items() -> Check:
    """Buyer × item of items with a per-buyer limit: the counter against the orders.

    A UNION ALL of the counters and the orders that count, grouped once, is a full outer
    join of the two (a counter without orders, orders without a counter)."""
    both = union_all(
        select(BuyerItemUsage.buyer_id, BuyerItemUsage.item_id,
               BuyerItemUsage.used.label("used"), literal(0).label("units")),
        select(Order.buyer_id, Order.item_id, literal(0).label("used"),
               Order.qty.label("units"))
        .where(Order.item_id.is_not(None), Order.stock_returned.is_(False)),
    ).subquery()
    s = (select(both.c.buyer_id, both.c.item_id, PromoItem.sku,
                PromoItem.per_buyer_limit.label("limit"),
                func.sum(both.c.used).label("used"), func.sum(both.c.units).label("units"))
         .join(PromoItem, PromoItem.id == both.c.item_id)
         .where(PromoItem.per_buyer_limit.is_not(None))
         .group_by(both.c.buyer_id, both.c.item_id, PromoItem.sku,
                   PromoItem.per_buyer_limit)).subquery()
    c = s.c

    def ids(r):
        return {"buyer_id": r.buyer_id, "item_id": r.item_id, "sku": r.sku}

    return Check("buyer_items", [
        Kind("usage_mismatch", c.used != c.units, lambda r: Violation(
            "usage_mismatch", ids(r), r.units, r.used,
            f"the buyer's counter says {r.used}, their orders that count have {r.units} "
            "units")),
        Kind("over_limit", or_(c.used > c.limit, c.units > c.limit), lambda r: Violation(
            "over_limit", ids(r), r.limit, max(r.used, r.units),
            f"{max(r.used, r.units)} units for one buyer, the limit is {r.limit}")),
    ], s, [c.item_id, c.buyer_id])


def _orders(dialect: str, now: dt.datetime) -> Check:
    refunds = (select(Refund.order_no, func.count().label("n"),
                      func.sum(case((Refund.status.in_(("success", "processing")),
                                     Refund.amount_fen), else_=0)).label("active_fen"),
                      func.sum(case((Refund.status == "success", 1), else_=0)).label("ok"))
               .group_by(Refund.order_no).subquery())
    gw = GatewayPayment
    s = (select(Order.order_no, Order.buyer_id, Order.item_id, Order.status, Order.qty,
                Order.unit_price_fen, Order.amount_fen, Order.refunded_fen,
                Order.transaction_id, Order.stock_returned, Order.closed_at,
                gw.status.label("gw_status"), gw.amount_fen.label("gw_fen"),
                gw.transaction_id.label("gw_txn"), gw.created_at.label("gw_at"),
                func.coalesce(refunds.c.n, 0).label("refunds"),
                func.coalesce(refunds.c.active_fen, 0).label("active_fen"),
                func.coalesce(refunds.c.ok, 0).label("refunds_ok"),
                PromoItem.id.label("known_item"))
         .outerjoin(gw, gw.out_trade_no == Order.order_no)
         .outerjoin(refunds, refunds.c.order_no == Order.order_no)
         .outerjoin(PromoItem, PromoItem.id == Order.item_id)).subquery()
    c = s.c
    # In each condition the test that is rarely true comes first: SQLite stops there.
    returned = c.stock_returned.is_(True)
    charged = or_(_in(c.status, PAID_LIKE), c.transaction_id.is_not(None))
    gw_ok = c.gw_status == "SUCCESS"
    covered = and_(c.transaction_id.is_not(None), c.active_fen >= c.gw_fen)

    def ids(r):
        return {"order_no": r.order_no, "buyer_id": r.buyer_id}

    def status_problem(r) -> str:
        if r.active_fen > 0 and r.transaction_id is None:
            return "refunds of an order that was never paid"
        if r.refunds_ok and r.status not in (states.PARTIALLY_REFUNDED, states.REFUNDED):
            return f"{r.refunds_ok} successful refund(s), but the order is {r.status}"
        if r.status == states.REFUNDED:
            return (f"refunded, but {r.refunded_fen} of {r.amount_fen} fen are refunded")
        return "partially_refunded without a successful refund"

    return Check("orders", [
        Kind("order_no_malformed", _order_no_malformed(c.order_no, dialect),
             lambda r: Violation("order_no_malformed", ids(r), ORDER_NO_FORM, r.order_no,
                                 f"order number {r.order_no!r} is not {ORDER_NO_FORM}")),
        Kind("order_amount_wrong", or_(c.qty < 1, c.amount_fen != c.unit_price_fen * c.qty),
             lambda r: Violation("order_amount_wrong", ids(r), r.unit_price_fen * r.qty,
                                 r.amount_fen, f"{r.qty} × {r.unit_price_fen} fen is not "
                                               f"the amount {r.amount_fen} fen")),
        Kind("order_item_missing", and_(c.known_item.is_(None), c.item_id.is_not(None)),
             lambda r: Violation("order_item_missing", {**ids(r), "item_id": r.item_id},
                                 "a promo item", None,
                                 f"the order's promo item {r.item_id} does not exist")),
        Kind("closed_order_holds_stock", and_(c.status == states.CLOSED, not_(returned)),
             lambda r: Violation("closed_order_holds_stock", ids(r), "stock returned",
                                 "stock held", f"closed, but its {r.qty} unit(s) were never "
                                               "given back")),
        Kind("stock_returned_while_active", and_(returned, or_(
            _in(c.status, (states.PENDING_PAYMENT, states.PAYING, states.PAID,
                           states.PARTIALLY_REFUNDED)),
            and_(c.status == states.REFUNDED, c.closed_at.is_(None)))),
             lambda r: Violation("stock_returned_while_active", ids(r), "stock held",
                                 "stock returned", f"a {r.status} order gave its {r.qty} "
                                                   "unit(s) back")),
        Kind("payment_missing", and_(or_(c.gw_status.is_(None), not_(gw_ok)), charged),
             lambda r: Violation("payment_missing", ids(r), "SUCCESS", r.gw_status,
                                 f"a {r.status} order without a successful payment at the "
                                 f"gateway ({r.gw_status or 'none'})")),
        Kind("payment_amount_mismatch", and_(c.gw_fen != c.amount_fen, gw_ok, charged),
             lambda r: Violation("payment_amount_mismatch", ids(r), r.amount_fen, r.gw_fen,
                                 f"the gateway charged {r.gw_fen} fen for an order of "
                                 f"{r.amount_fen} fen")),
        Kind("payment_txn_mismatch", and_(or_(
            c.transaction_id.is_(None), c.gw_txn.is_(None), c.transaction_id != c.gw_txn),
            gw_ok, charged),
             lambda r: Violation("payment_txn_mismatch", ids(r), r.gw_txn, r.transaction_id,
                                 "the order's transaction id is not the gateway's")),
        Kind("closed_order_charged", and_(c.status == states.CLOSED,
                                          _in(c.gw_status, ("SUCCESS", "PENDING")),
                                          not_(covered), c.gw_at <= now - IN_FLIGHT),
             lambda r: Violation("closed_order_charged", ids(r), r.gw_fen, r.active_fen,
                                 f"closed, but charged {r.gw_fen} fen at the gateway "
                                 f"({r.gw_status}) with {r.active_fen} fen refunded"
                                 + ("" if r.transaction_id else
                                    " and the charge not recorded on the order"))),
        Kind("paying_without_charge", and_(c.status == states.PAYING, or_(
            c.gw_status.is_(None), c.gw_status == "FAILED")),
             lambda r: Violation("paying_without_charge", ids(r), "PENDING or SUCCESS",
                                 r.gw_status, "a paying order the gateway has "
                                              + ("refused" if r.gw_status else
                                                 "no charge for"))),
        Kind("too_many_refunds", c.refunds > MAX_REFUNDS_PER_ORDER,
             lambda r: Violation("too_many_refunds", ids(r), MAX_REFUNDS_PER_ORDER,
                                 r.refunds, f"{r.refunds} refunds, at most "
                                            f"{MAX_REFUNDS_PER_ORDER} per order")),
        Kind("refunds_exceed_amount", c.active_fen > c.amount_fen,
             lambda r: Violation("refunds_exceed_amount", ids(r), r.amount_fen, r.active_fen,
                                 f"refunds of {r.active_fen} fen on an order of "
                                 f"{r.amount_fen} fen")),
        Kind("refunded_fen_mismatch", c.refunded_fen != c.active_fen,
             lambda r: Violation("refunded_fen_mismatch", ids(r), r.active_fen,
                                 r.refunded_fen, f"refunded_fen is {r.refunded_fen}, its "
                                                 "successful and processing refunds sum to "
                                                 f"{r.active_fen}")),
        Kind("refund_status_mismatch", or_(
            and_(c.active_fen > 0, c.transaction_id.is_(None)),
            and_(c.refunds_ok > 0, not_(_in(c.status, (states.PARTIALLY_REFUNDED,
                                                        states.REFUNDED)))),
            and_(c.status == states.REFUNDED, c.refunded_fen != c.amount_fen),
            and_(c.status == states.PARTIALLY_REFUNDED, c.refunds_ok == 0)),
             lambda r: Violation("refund_status_mismatch", ids(r),
                                 _expected_refund_status(r), r.status, status_problem(r))),
    ], s, [c.order_no])


def _expected_refund_status(r) -> str:
    if r.transaction_id is None:
        return "no refunds"
    if r.refunds_ok == 0:
        return states.PAID
    return states.REFUNDED if r.refunded_fen >= r.amount_fen else states.PARTIALLY_REFUNDED


def _gateway_payments() -> Check:
    gw = GatewayPayment
    s = (select(gw.out_trade_no, gw.status, gw.amount_fen, Order.order_no.label("order"))
         .outerjoin(Order, Order.order_no == gw.out_trade_no)).subquery()
    c = s.c
    return Check("gateway_payments", [
        Kind("payment_without_order", and_(c.order.is_(None),
                                           _in(c.status, ("SUCCESS", "PENDING"))),
             lambda r: Violation("payment_without_order", {"out_trade_no": r.out_trade_no},
                                 "an order", None, f"the gateway charged {r.amount_fen} fen "
                                                   f"({r.status}) for no order")),
    ], s, [c.out_trade_no])


_REFUND_STATES = {"success": "SUCCESS", "processing": "PROCESSING", "closed": "CLOSED"}


def _refunds(now: dt.datetime) -> Check:
    gw = GatewayRefund
    s = (select(Refund.refund_no, Refund.order_no, Refund.amount_fen, Refund.status,
                Refund.gateway_refund_id, Refund.created_at, gw.refund_id.label("gw_id"),
                gw.status.label("gw_status"), gw.amount_fen.label("gw_fen"),
                gw.out_trade_no.label("gw_order"))
         .outerjoin(gw, gw.out_refund_no == Refund.refund_no)).subquery()
    c = s.c
    known = c.gw_id.is_not(None)
    settled = or_(c.status != "processing", c.created_at <= now - IN_FLIGHT)
    same_state = or_(and_(c.status == "success", c.gw_status == "SUCCESS",
                          c.gateway_refund_id == c.gw_id),
                     and_(c.status == "processing", c.gw_status == "PROCESSING"),
                     and_(c.status == "closed", c.gw_status == "CLOSED"))

    def ids(r):
        return {"refund_no": r.refund_no, "order_no": r.order_no}

    def state_detail(r) -> str:
        if r.status == "success" and r.gw_status == "SUCCESS":
            return (f"the book's gateway refund id {r.gateway_refund_id} is not the "
                    f"gateway's {r.gw_id}")
        return f"the book's refund is {r.status}, the gateway's {r.gw_status}"

    return Check("refunds", [
        Kind("refund_unknown_to_gateway", and_(not_(known), settled,
                                               _in(c.status, ("success", "processing"))),
             lambda r: Violation("refund_unknown_to_gateway", ids(r), "a gateway refund",
                                 None, f"a {r.status} refund of {r.amount_fen} fen the "
                                       "gateway has no record of")),
        Kind("refund_state_mismatch", and_(known, settled, not_(same_state)),
             lambda r: Violation("refund_state_mismatch", ids(r),
                                 _REFUND_STATES.get(r.status, r.status), r.gw_status,
                                 state_detail(r))),
        Kind("refund_amount_mismatch", and_(known, or_(c.gw_fen != c.amount_fen,
                                                       c.gw_order != c.order_no)),
             lambda r: Violation("refund_amount_mismatch", ids(r), r.amount_fen, r.gw_fen,
                                 f"the gateway refunded {r.gw_fen} fen of {r.gw_order}, the "
                                 f"book {r.amount_fen} fen of {r.order_no}")),
    ], s, [c.refund_no])


def _gateway_refunds() -> Check:
    gw = GatewayRefund
    s = (select(gw.out_refund_no, gw.out_trade_no, gw.status, gw.amount_fen,
                Refund.refund_no.label("book"))
         .outerjoin(Refund, Refund.refund_no == gw.out_refund_no)).subquery()
    c = s.c
    return Check("gateway_refunds", [
        Kind("gateway_refund_without_refund", and_(c.book.is_(None), c.status != "CLOSED"),
             lambda r: Violation("gateway_refund_without_refund",
                                 {"refund_no": r.out_refund_no, "out_trade_no": r.out_trade_no},
                                 "a refund in the book", None,
                                 f"the gateway refunded {r.amount_fen} fen ({r.status}) "
                                 "for no refund of the book")),
    ], s, [c.out_refund_no])


def _idempotency_keys(now: dt.datetime) -> Check:
    k = IdempotencyKey
    s = (select(k.buyer_id, k.key, k.state, k.order_no, k.response_json.is_not(None)
                .label("has_refusal"), k.claimed_at, Order.order_no.label("order"),
                Order.buyer_id.label("order_buyer"), Order.idempotency_key.label("order_key"))
         .outerjoin(Order, Order.order_no == k.order_no)).subquery()
    c = s.c
    stale = now - CLAIM_TIMEOUT

    def ids(r):
        return {"buyer_id": r.buyer_id, "idempotency_key": r.key}

    def age(r) -> str:
        seconds = int((now - r.claimed_at).total_seconds())
        return f"running since {r.claimed_at.isoformat()}, {seconds} s before the audit"

    return Check("idempotency_keys", [
        Kind("key_stuck_running", and_(c.state == "running", c.claimed_at <= stale),
             lambda r: Violation("key_stuck_running", {**ids(r), "order_no": r.order_no},
                                 "done", "running",
                                 f"{age(r)} (claims time out after "
                                 f"{int(CLAIM_TIMEOUT.total_seconds())} s)")),
        Kind("key_order_missing", and_(c.order_no.is_not(None), c.order.is_(None)),
             lambda r: Violation("key_order_missing", {**ids(r), "order_no": r.order_no},
                                 r.order_no, None, f"the key points at order {r.order_no}, "
                                                   "which does not exist")),
        Kind("key_order_mismatch", and_(c.order.is_not(None), or_(
            c.order_buyer != c.buyer_id, c.order_key.is_(None), c.order_key != c.key)),
             lambda r: Violation("key_order_mismatch", {**ids(r), "order_no": r.order_no},
                                 {"buyer_id": r.buyer_id, "idempotency_key": r.key},
                                 {"buyer_id": r.order_buyer, "idempotency_key": r.order_key},
                                 f"order {r.order_no} belongs to another buyer or key")),
        Kind("key_without_outcome", and_(c.state == "done", c.order_no.is_(None),
                                         not_(c.has_refusal)),
             lambda r: Violation("key_without_outcome", ids(r),
                                 "an order or a stored refusal", None,
                                 "a finished key with neither an order nor the refusal it "
                                 "replays")),
    ], s, [c.buyer_id, c.key])


def _order_keys(dialect: str) -> Check:
    """One order per key: two orders of one buyer with one key less than the key's 24 h
    apart (a key can only be used again once it has expired).

    A GROUP BY finds the keys with several orders (normally none); only their orders go
    through the window that compares neighbours — a window over every order costs several
    times the grouping on SQLite."""
    keyed = Order.idempotency_key.is_not(None)
    # Key first: grouping by buyer first walks the buyer index in random table order.
    several = (select(Order.idempotency_key.label("key"), Order.buyer_id.label("buyer"))
               .where(keyed).group_by(Order.idempotency_key, Order.buyer_id)
               .having(func.count() > 1)).subquery()
    window = {"partition_by": (Order.idempotency_key, Order.buyer_id),
              "order_by": (Order.created_at, Order.order_no)}
    s = (select(Order.order_no, Order.buyer_id, Order.idempotency_key, Order.created_at,
                func.lag(Order.created_at).over(**window).label("prev_at"),
                func.lag(Order.order_no).over(**window).label("prev_no"))
         .join(several, and_(several.c.key == Order.idempotency_key,
                             several.c.buyer == Order.buyer_id))).subquery()
    c = s.c
    twice = and_(c.prev_no.is_not(None),
                 _seconds_between(c.created_at, c.prev_at, dialect)
                 < KEY_TTL.total_seconds())
    return Check("order_keys", [
        Kind("key_ordered_twice", twice, lambda r: Violation(
            "key_ordered_twice", {"order_no": r.order_no, "buyer_id": r.buyer_id,
                                  "idempotency_key": r.idempotency_key,
                                  "other_order_no": r.prev_no},
            1, 2, f"orders {r.prev_no} and {r.order_no} were made with one key within "
                  f"{int(KEY_TTL.total_seconds() // 3600)} h")),
    ], s, [c.order_no], rows=select(func.count()).select_from(Order).where(keyed))


def _pushes() -> Check:
    m = InboxMessage
    s = (select(m.buyer_id, m.promo_id, func.count().label("n"))
         .where(m.kind == "promo").group_by(m.buyer_id, m.promo_id)).subquery()
    c = s.c
    return Check("pushes", [
        Kind("promo_pushed_twice", and_(c.promo_id.is_not(None), c.n > 1),
             lambda r: Violation("promo_pushed_twice", {"buyer_id": r.buyer_id,
                                                        "promo_id": r.promo_id},
                                 1, r.n, f"{r.n} messages of one promotion to one buyer")),
        Kind("push_without_promo", c.promo_id.is_(None),
             lambda r: Violation("push_without_promo", {"buyer_id": r.buyer_id},
                                 "a promotion", None,
                                 f"{r.n} promo message(s) that name no promotion")),
    ], s, [c.promo_id, c.buyer_id])


def _cards() -> Check:
    s = (select(Card.id.label("card_id"), Card.buyer_id, GatewayCard.token)
         .outerjoin(GatewayCard, GatewayCard.token == Card.id)
         .where(Card.status == "bound")).subquery()
    c = s.c
    return Check("cards", [
        Kind("card_unknown_to_gateway", c.token.is_(None),
             lambda r: Violation("card_unknown_to_gateway", {"card_id": r.card_id,
                                                             "buyer_id": r.buyer_id},
                                 "a gateway card", None,
                                 "a bound card the gateway does not know")),
    ], s, [c.card_id])


def checks(dialect: str, now: dt.datetime) -> list[Check]:
    """Every check, in the order the report lists them."""
    return [_promo_items(), _products(), _buyer_items(), _orders(dialect, now),
            _gateway_payments(), _refunds(now), _gateway_refunds(), _idempotency_keys(now),
            _order_keys(dialect), _pushes(), _cards()]


def kinds() -> dict[str, str]:
    """Every violation kind → the check (invariant) it belongs to, in the report's order."""
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    return {kind.name: check.name for check in checks("sqlite", epoch) for kind in check.kinds}


# ------------------------------------------------------------------ running them


def check_limit(limit: int) -> int:
    from wxshop_cli.errors import InvalidInput

    if not 0 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"--limit must be from 0 to {MAX_LIMIT:,}, not {limit}",
                           slug="invalid_audit_limit",
                           hint="how many violations to list; all are counted")
    return limit


def audit_session(session: Session, now: dt.datetime, *,
                  limit: int = DEFAULT_LIMIT) -> AuditReport:
    """Run every check in the caller's transaction (one snapshot is the caller's job)."""
    check_limit(limit)
    dialect = session.get_bind().dialect.name
    report = AuditReport(now=now, engine=dialect, limit=limit)
    for check in checks(dialect, now):
        counts = session.execute(select(
            func.count(),
            *(func.coalesce(func.sum(case((kind.violated, 1), else_=0)), 0)
              for kind in check.kinds)).select_from(check.source)).one()
        report.checked[check.name] = int(counts[0] if check.rows is None
                                         else session.execute(check.rows).scalar_one())
        found = {kind.name: int(n) for kind, n in zip(check.kinds, counts[1:], strict=True)
                 if n}
        report.counts.update(found)
        room = limit - len(report.violations)
        if found and room > 0:
            report.violations.extend(_listed(session, check, found, room))
    _name_ids(session, report.violations)
    return report


def _listed(session: Session, check: Check, found: dict[str, int],
            room: int) -> list[Violation]:
    """The first `room` violations of a check, kind by kind, each kind in id order.

    One streamed query over the rows that violate any kind found, without ORDER BY (sorting
    in SQL made SQLite walk an index in random table order); Python keeps, per kind, the
    `room` smallest ids in a bounded heap, so memory stays bounded by `room`."""
    import heapq

    kinds = [kind for kind in check.kinds if kind.name in found]
    flags = [kind.violated.label(f"wx_kind_{n}") for n, kind in enumerate(kinds)]
    statement = (select(check.source, *flags).where(or_(*(kind.violated for kind in kinds)))
                 .execution_options(yield_per=1000))
    names = [column.name for column in check.order_by]
    heaps: list[list[tuple[_Reversed, int, Violation]]] = [[] for _ in kinds]
    seen = 0
    for row in session.execute(statement):
        key = _Reversed(tuple((row._mapping[name] is not None, row._mapping[name])
                              for name in names))
        for n, kind in enumerate(kinds):
            if not row[len(row) - len(kinds) + n]:
                continue
            heap = heaps[n]
            seen += 1
            if len(heap) < room:
                heapq.heappush(heap, (key, seen, kind.describe(row)))
            elif heap[0][0] < key:  # smaller id than the largest kept
                heapq.heapreplace(heap, (key, seen, kind.describe(row)))
    listed = [violation for heap in heaps
              for _, _, violation in sorted(heap, key=lambda entry: entry[0].key)]
    return listed[:room]


class _Reversed:
    """A sort key in reverse, so heapq's min-heap keeps the largest id on top."""

    __slots__ = ("key",)

    def __init__(self, key: tuple) -> None:
        self.key = key

    def __lt__(self, other: _Reversed) -> bool:
        return self.key > other.key


def _name_ids(session: Session, violations: list[Violation]) -> None:
    """Buyer ids become buyer names, promotion ids promotion codes (in the listed ones)."""
    buyer_ids = {v.ids["buyer_id"] for v in violations if "buyer_id" in v.ids}
    promo_ids = {v.ids["promo_id"] for v in violations if "promo_id" in v.ids}
    names = dict(session.execute(select(Buyer.id, Buyer.name).where(
        Buyer.id.in_(buyer_ids))).all()) if buyer_ids else {}
    codes = dict(session.execute(select(Promo.id, Promo.code).where(
        Promo.id.in_(promo_ids))).all()) if promo_ids else {}
    for violation in violations:
        renamed: dict[str, Any] = {}
        for key, value in violation.ids.items():
            if key == "buyer_id":
                renamed["buyer"] = names.get(value, f"#{value}")
            elif key == "promo_id":
                renamed["promo"] = codes.get(value, f"#{value}")
            else:
                renamed[key] = value
        violation.ids = renamed


def audit_book(db: Any, now: dt.datetime, *, limit: int = DEFAULT_LIMIT) -> AuditReport:
    """Audit the whole book in one snapshot of the database `db` (a Database). Given a
    Session instead, the audit runs in that session's transaction (see audit_session)."""
    check_limit(limit)
    if isinstance(db, Session):
        return audit_session(db, now, limit=limit)
    with db.transaction(read_only=True) as session:
        if session.get_bind().dialect.name == "postgresql":
            # First statement of the transaction: every query below sees one snapshot, and
            # the audit can write nothing.
            session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        return audit_session(session, now, limit=limit)
