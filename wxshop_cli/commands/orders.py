from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

import typer

from wxshop_cli.cli import Yes, confirm_or_stop, group
from wxshop_cli.output import emit
from wxshop_cli.paging_options import After, Limit, PageInfo
from wxshop_cli.views.orders import (
    LIST_COLUMNS,
    ORDER_COLUMNS,
    REFUND_COLUMNS,
    SHOW_COLUMNS,
    SWEEP_COLUMNS,
    show_order,
)

app = group("orders", """The order book: list, show, cancel, refund, sweep.

Examples:
  $ wxshop --buyer lilei orders list
  $ wxshop orders list --all --status paid --date 2013-11-11
  $ wxshop orders refund D201311110000000001 --amount 100 --yes
""")


class Status(StrEnum):
    pending_payment = "pending_payment"
    paying = "paying"
    paid = "paid"
    partially_refunded = "partially_refunded"
    refunded = "refunded"
    closed = "closed"


@app.command("list")
def list_(
    all_buyers: Annotated[bool, typer.Option("--all", help="Every buyer's orders.")] = False,
    status: Annotated[Status | None, typer.Option(
        "--status", metavar="STATUS", help="pending_payment, paying, paid, partially_refunded, "
                                           "refunded or closed.")] = None,
    promo: Annotated[str | None, typer.Option("--promo", metavar="CODE",
                                              help="Only this promotion's orders.")] = None,
    date: Annotated[dt.datetime | None, typer.Option("--date", formats=["%Y-%m-%d"],
                                                     metavar="YYYY-MM-DD",
                                                     help="Day of creation in WXSHOP_TZ.")]
    = None,
    limit: Limit = 100, after: After = None, page_info: PageInfo = False,
) -> None:
    """The acting buyer's orders, newest first.

    --all lists every buyer's orders: the merchant's view of the whole book.

    Examples:
      $ wxshop --buyer lilei orders list
      $ wxshop orders list --all --status paid --date 2013-11-11
      $ wxshop --json orders list --all --promo double11-2013
    """
    from wxshop_cli.config import current
    from wxshop_cli.core.order_queries import order_list
    from wxshop_cli.core.paging import check_limit
    from wxshop_cli.db.engine import database

    check_limit(limit)
    settings = current()
    from wxshop_cli.views.paging import page_out

    with database().transaction(read_only=True) as session:
        page = order_list(session, buyer=None if all_buyers else settings.buyer,
                          status=status.value if status else None, promo=promo,
                          day=date.date() if date is not None else None, tz=settings.tz,
                          limit=limit, after=after)
    page_out(page, page_info,
             lambda rows: emit(rows, LIST_COLUMNS, title="Orders", empty="no orders"))


def _show(order_no: str, *, settle: bool = True) -> dict:
    from wxshop_cli.config import current
    from wxshop_cli.core.order_queries import order_with_refunds
    from wxshop_cli.db.engine import database
    from wxshop_cli.gateway import get_gateway

    settings = current()
    db = database()
    return order_with_refunds(db, get_gateway(db), order_no, settings.clock.now(), settings.tz,
                              settle=settle)


@app.command("show")
def show(order_no: Annotated[str, typer.Argument(metavar="ORDER",
                                                 help="An order number (D…).")]) -> None:
    """One order with its refunds.

    An unknown payment is settled with the gateway first.

    Examples:
      $ wxshop --buyer lilei orders show D201311110000000001
      $ wxshop --json orders show D201311110000000001
    """
    emit(_show(order_no), SHOW_COLUMNS, title="Order", human=show_order)


@app.command("cancel")
def cancel(order_no: Annotated[str, typer.Argument(metavar="ORDER",
                                                   help="An unpaid order number (D…).")]
           ) -> None:
    """Cancel one of the acting buyer's unpaid orders.

    Its stock and the buyer's limit are given back.

    Examples:
      $ wxshop --buyer lilei orders cancel D201311110000000002
      $ wxshop --buyer lilei --json orders cancel D201311110000000002
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import orders
    from wxshop_cli.core.order_queries import buyer_order
    from wxshop_cli.db.engine import database
    from wxshop_cli.gateway import get_gateway

    settings = current()
    db = database()
    with db.transaction(read_only=True) as session:
        order = buyer_order(session, settings.buyer, order_no)
    orders.cancel(db, get_gateway(db), order, settings.clock.now())
    emit(_show(order_no, settle=False), ORDER_COLUMNS, title="Cancelled")


@app.command("refund")
def refund(
    order_no: Annotated[str, typer.Argument(metavar="ORDER", help="A paid order number (D…).")],
    amount: Annotated[str | None, typer.Option("--amount", metavar="YUAN",
                                               help="Default: all that is left.")] = None,
    refund_no: Annotated[str | None, typer.Option("--refund-no", metavar="NO",
                                                  help="Idempotency: the same number "
                                                       "refunds once.")] = None,
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT",
                                        help="Why (one line, kept with the refund).")] = "",
    yes: Yes = False,
) -> None:
    """Refund a paid order, fully or partly.

    The merchant's action: the money goes back to the buyer's card. On a terminal it asks
    first (--yes skips the question).

    Examples:
      $ wxshop orders refund D201311110000000001 --amount 100 --reason 价保 --yes
      # a retry with the same --refund-no refunds once
      $ wxshop orders refund D201311110000000001 --amount 50 --refund-no RF-1 --yes
      # all that is left
      $ wxshop orders refund D201311110000000001 --yes
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import orders, refunds
    from wxshop_cli.db.engine import database
    from wxshop_cli.gateway import get_gateway
    from wxshop_cli.money import display, parse_yuan

    settings = current()
    amount_fen = parse_yuan(amount, field="--amount") if amount is not None else None
    refunds.check_refund_no(refund_no)
    reason = refunds.check_reason(reason)
    what = display(amount_fen) if amount_fen is not None else "all that is left"
    confirm_or_stop(f"Refund {what} of order {order_no}? The money goes back to the buyer's "
                    "card.", yes=yes)
    db = database()
    done, replayed = orders.refund(db, get_gateway(db), order_no, amount_fen, refund_no,
                                   reason, settings.clock.now())
    emit({**refunds.refund_public(done, settings.tz), "replayed": replayed}, REFUND_COLUMNS,
         title="Refund")


@app.command("close-expired")
def close_expired() -> None:
    """Close orders left unpaid for 15 minutes.

    Unknown payments are settled with the gateway first; idempotency keys older than 24 hours
    are dropped too. Safe to run at any time (e.g. from cron).

    Examples:
      $ wxshop orders close-expired
      $ wxshop --json orders close-expired
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import orders
    from wxshop_cli.db.engine import database
    from wxshop_cli.gateway import get_gateway

    db = database()
    now = current().clock.now()
    outcome = orders.close_expired(db, get_gateway(db), now)
    with db.transaction() as session:
        purged = orders.purge_expired_keys(session, now)
    if current().json:
        emit({**outcome, "keys_purged": purged}, [])
        return
    # Tables and pipes get one row per order looked at.
    emit([{"order_no": order_no, "outcome": kind} for kind, numbers in outcome.items()
          for order_no in numbers], SWEEP_COLUMNS, title="Swept",
         empty="no unpaid orders to settle")
