"""The matching engine: every comparison of the staged bill with the book is SQL (joins of
the staged rows with `orders` / `refund`, anti-joins for what the book has and the bill
lacks), whose findings land in the FOUND temporary table. See the package docstring for the
classification."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    String,
    and_,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    not_,
    null,
    or_,
    select,
)

from wxshop_cli.clock import beijing_day_bounds
from wxshop_cli.core.reconcile.stage import FOUND, FOUND_COLUMNS, STAGE
from wxshop_cli.db.models import Order, Refund

KINDS = ("duplicate", "missing_in_book", "status_mismatch", "amount_mismatch",
         "refund_mismatch", "fee_mismatch", "missing_in_bill")

#: A book payment this close before midnight that is missing from the bill is deferred.
MIDNIGHT_TOLERANCE = dt.timedelta(minutes=5)


def text(value: str) -> Any:
    return literal(value, String())


def _num(expression: Any) -> Any:
    return cast(expression, String())


#: The bill's own column names in a finding's detail, by the bill's layout (an Alipay bill
#: has no 微信退款单号 nor 费率; its fee is 服务费).
_WORDS = {
    "wechat": {"amount": "订单金额", "refund_id": "the book's refund is 微信退款单号 ",
               "fee": "手续费 is not the amount × 费率 rounded half-up"},
    "alipay": {"amount": "订单金额（元）",
               "refund_id": "the book's refund has the platform's refund id ",
               "fee": "服务费（元） is not the amount × the merchant's rate rounded half-up"},
}


def match(conn: Any, bill_type: str, day: dt.date, layout: str) -> None:
    """Every comparison, in SQL; findings go to the FOUND temporary table."""
    _bill_rows(conn, _WORDS["alipay" if layout == "alipay" else "wechat"])
    start, end = beijing_day_bounds(day)
    if bill_type != "REFUND":
        _payments_the_bill_lacks(conn, day, start, end)
    if bill_type != "SUCCESS":
        _refunds_the_bill_lacks(conn, start, end)


def _bill_rows(conn: Any, words: dict[str, str]) -> None:
    """Each bill row as the first kind of finding that applies, if any."""
    rows = _compared_rows()
    k = rows.c.kind
    row_amount = case((rows.c.row_kind == "P", rows.c.order_fen), else_=rows.c.refund_fen)
    bill_amount = case((k == "fee_mismatch", rows.c.fee_fen), else_=row_amount)
    book_amount = case(
        (k.in_(("status_mismatch", "amount_mismatch")), rows.c.book_order_fen),
        (k == "refund_mismatch", rows.c.book_refund_fen),
        (k == "fee_mismatch", rows.c.fee_expected),
        else_=null())
    conn.execute(insert(FOUND).from_select(FOUND_COLUMNS, select(
        rows.c.line_no, k, rows.c.out_trade_no, rows.c.transaction_id, rows.c.refund_no,
        bill_amount, book_amount, text("open"), _detail(rows, words)).where(k.is_not(None))))


def _compared_rows() -> Any:
    """The staged rows joined with the book's order (payment rows) or refund (refund rows),
    each with its kind of finding (`kind`, NULL when the row matches)."""
    s = STAGE.alias("s")
    d = STAGE.alias("d")
    o = Order.__table__.alias("o")
    r = Refund.__table__.alias("r")
    first_copy = select(func.min(d.c.line_no)).where(
        d.c.dup_key == s.c.dup_key).scalar_subquery()
    is_payment = s.c.kind == "P"
    is_refund = s.c.kind == "R"
    book_paid = and_(o.c.paid_at.is_not(None), o.c.transaction_id.is_not(None))
    kind = _row_kind(s, o, r, first_copy, book_paid, is_payment, is_refund)
    return (
        select(s.c.line_no, s.c.kind.label("row_kind"), s.c.trade_state, s.c.transaction_id,
               s.c.out_trade_no, s.c.refund_no, s.c.order_fen, s.c.refund_fen,
               s.c.refund_status, s.c.fee_fen, s.c.fee_expected,
               first_copy.label("first_line"),
               o.c.amount_fen.label("book_order_fen"), o.c.status.label("book_status"),
               o.c.transaction_id.label("book_txn"),
               case((book_paid, 1), else_=0).label("book_paid"),
               r.c.amount_fen.label("book_refund_fen"), r.c.status.label("book_refund_status"),
               r.c.order_no.label("book_refund_order"), r.c.refund_no.label("book_refund_no"),
               r.c.gateway_refund_id.label("book_refund_id"), s.c.refund_id,
               kind.label("kind"))
        .select_from(s.outerjoin(o, and_(is_payment, o.c.order_no == s.c.out_trade_no))
                     .outerjoin(r, and_(is_refund, r.c.refund_no == s.c.refund_no)))
        .subquery("rows")
    )


def _row_kind(s: Any, o: Any, r: Any, first_copy: Any, book_paid: Any, is_payment: Any,
              is_refund: Any) -> Any:
    """The first kind of finding that applies to a staged row `s` joined with the book's
    order `o` and refund `r` (NULL: it matches)."""
    success = s.c.trade_state == "SUCCESS"
    state_ok = or_(and_(s.c.refund_status == "SUCCESS", r.c.status == "success"),
                   and_(s.c.refund_status == "PROCESSING", r.c.status == "processing"),
                   and_(s.c.refund_status == "CLOSED", r.c.status == "closed"))
    return case(
        (first_copy < s.c.line_no, "duplicate"),
        (and_(is_payment, o.c.order_no.is_(None)), "missing_in_book"),
        (and_(is_payment, success, or_(not_(book_paid),
                                       o.c.transaction_id != s.c.transaction_id)),
         "status_mismatch"),
        (and_(is_payment, not_(success), book_paid), "status_mismatch"),
        (and_(is_payment, success, s.c.order_fen != o.c.amount_fen), "amount_mismatch"),
        (and_(is_refund, or_(r.c.refund_no.is_(None), r.c.order_no != s.c.out_trade_no,
                             r.c.amount_fen != s.c.refund_fen, not_(state_ok),
                             and_(r.c.gateway_refund_id.is_not(None),
                                  r.c.gateway_refund_id != s.c.refund_id))),
         "refund_mismatch"),
        (s.c.fee_fen != s.c.fee_expected, "fee_mismatch"),
        else_=null(),
    )


def _detail(rows: Any, words: dict[str, str]) -> Any:
    """The finding's detail: what differs, in words and the bill's own column names."""
    k = rows.c.kind
    return case(
        (k == "duplicate", text("a copy of line ") + _num(rows.c.first_line)),
        (k == "missing_in_book",
         text("no order ") + rows.c.out_trade_no + text(" in the book")),
        (and_(k == "status_mismatch", rows.c.trade_state != "SUCCESS"),
         text("the bill says ") + rows.c.trade_state + text(", the book has the payment")),
        (and_(k == "status_mismatch", rows.c.book_paid == 0),
         text("the book has the order ") + rows.c.book_status
         + text(", with no successful payment")),
        (k == "status_mismatch",
         text("the book's payment is transaction ") + rows.c.book_txn),
        (k == "amount_mismatch", text(f"{words['amount']} differs from the order amount")),
        (and_(k == "refund_mismatch", rows.c.book_refund_no.is_(None)),
         text("no refund ") + rows.c.refund_no + text(" in the book")),
        (and_(k == "refund_mismatch", rows.c.book_refund_order != rows.c.out_trade_no),
         text("the book's refund is of order ") + rows.c.book_refund_order),
        (and_(k == "refund_mismatch", rows.c.book_refund_fen != rows.c.refund_fen),
         text("refund amounts differ")),
        (and_(k == "refund_mismatch", rows.c.book_refund_id.is_not(None),
              rows.c.book_refund_id != rows.c.refund_id),
         text(words["refund_id"]) + rows.c.book_refund_id),
        (k == "refund_mismatch",
         text("the bill says ") + rows.c.refund_status + text(", the book ")
         + rows.c.book_refund_status),
        else_=text(words["fee"]),
    )


def _payments_the_bill_lacks(conn: Any, day: dt.date, start: dt.datetime,
                             end: dt.datetime) -> None:
    """The book's payments of the day that the bill lacks: `missing_in_bill`, deferred when
    paid just before midnight."""
    book = Order.__table__
    next_day = (day + dt.timedelta(days=1)).isoformat()
    in_bill = exists().where(STAGE.c.kind == "P", STAGE.c.trade_state == "SUCCESS",
                             STAGE.c.out_trade_no == book.c.order_no)
    late = book.c.paid_at >= end - MIDNIGHT_TOLERANCE
    conn.execute(insert(FOUND).from_select(FOUND_COLUMNS, select(
        null(), text("missing_in_bill"), book.c.order_no, book.c.transaction_id, null(),
        null(), book.c.amount_fen,
        case((late, text("deferred")), else_=text("open")),
        case((late, text("paid within 5 minutes before midnight: the bill of "
                         f"{next_day} decides")),
             else_=text("paid that day, not in the bill"))).where(
        book.c.paid_at >= start, book.c.paid_at < end,
        book.c.transaction_id.is_not(None), not_(in_bill))))


def _refunds_the_bill_lacks(conn: Any, start: dt.datetime, end: dt.datetime) -> None:
    """The book's live refunds of the day that the bill lacks: `refund_mismatch`."""
    refund = Refund.__table__
    order = Order.__table__
    in_bill = exists().where(STAGE.c.kind == "R", STAGE.c.refund_no == refund.c.refund_no)
    conn.execute(insert(FOUND).from_select(FOUND_COLUMNS, select(
        null(), text("refund_mismatch"), refund.c.order_no, order.c.transaction_id,
        refund.c.refund_no, null(), refund.c.amount_fen, text("open"),
        text("refund ") + refund.c.status + text(" in the book, not in the bill"))
        .select_from(refund.outerjoin(order, order.c.order_no == refund.c.order_no))
        .where(refund.c.created_at >= start, refund.c.created_at < end,
               refund.c.status.in_(("success", "processing")), not_(in_bill))))


def totals(conn: Any, bill_type: str, day: dt.date) -> dict[str, int]:
    """What was compared, on both sides."""
    start, end = beijing_day_bounds(day)
    st = STAGE.c
    paid_row = and_(st.kind == "P", st.trade_state == "SUCCESS")
    live_refund = and_(st.kind == "R", st.refund_status.in_(("SUCCESS", "PROCESSING")))

    def total(condition: Any, amount: Any) -> Any:
        return func.coalesce(func.sum(case((condition, amount), else_=0)), 0)

    bill = conn.execute(select(
        total(paid_row, 1), total(paid_row, st.order_fen), total(live_refund, 1),
        total(live_refund, st.refund_fen), func.coalesce(func.sum(st.fee_fen), 0))).one()
    out = {"bill_payments": int(bill[0]), "bill_payment_fen": int(bill[1]),
           "bill_refunds": int(bill[2]), "bill_refund_fen": int(bill[3]),
           "bill_fee_fen": int(bill[4]), "book_payments": 0, "book_payment_fen": 0,
           "book_refunds": 0, "book_refund_fen": 0}
    if bill_type != "REFUND":
        o = Order.__table__.c
        count, amount = conn.execute(select(func.count(), func.coalesce(func.sum(o.amount_fen),
                                                                        0)).where(
            o.paid_at >= start, o.paid_at < end, o.transaction_id.is_not(None))).one()
        out.update(book_payments=int(count), book_payment_fen=int(amount))
    if bill_type != "SUCCESS":
        f = Refund.__table__.c
        count, amount = conn.execute(select(func.count(), func.coalesce(func.sum(f.amount_fen),
                                                                        0)).where(
            f.created_at >= start, f.created_at < end,
            f.status.in_(("success", "processing")))).one()
        out.update(book_refunds=int(count), book_refund_fen=int(amount))
    return out
