from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

import typer

from wxshop_cli.cli import Yes, confirm_or_stop, group
from wxshop_cli.commands.buy import ORDER_COLUMNS
from wxshop_cli.output import Column, emit

app = group("orders", "The order book: list, show, cancel, refund, close expired orders.")

LIST_COLUMNS = [Column("order_no", "order_no"), Column("status", "status"),
                Column("buyer", "buyer"), Column("sku", "sku"), Column("title", "title"),
                Column("qty", "qty"), Column("amount", "amount_fen", "money"),
                Column("refunded", "refunded_fen", "money"),
                Column("created_at", "created_at", "time")]
REFUND_COLUMNS = [Column("refund_no", "refund_no"), Column("order_no", "order_no"),
                  Column("amount", "amount_fen", "money"), Column("status", "status"),
                  Column("created_at", "created_at", "time"),
                  Column("replayed", "replayed", "bool")]


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
    status: Annotated[Status | None, typer.Option("--status")] = None,
    promo: Annotated[str | None, typer.Option("--promo", metavar="CODE")] = None,
    date: Annotated[dt.datetime | None, typer.Option("--date", formats=["%Y-%m-%d"],
                                                     help="Day of creation in WXSHOP_TZ.")]
    = None,
) -> None:
    """The acting buyer's orders, newest first (--all: every buyer's, the merchant's view)."""
    from sqlalchemy import select

    from wxshop_cli.config import current
    from wxshop_cli.core import orders
    from wxshop_cli.core.buyers import find_buyer
    from wxshop_cli.db.engine import database
    from wxshop_cli.db.models import Promo
    from wxshop_cli.errors import NotFound

    settings = current()
    bounds = None
    if date is not None:
        start = dt.datetime.combine(date.date(), dt.time(0), tzinfo=settings.tz)
        bounds = (start.astimezone(dt.UTC), (start + dt.timedelta(days=1)).astimezone(dt.UTC))
    with database().transaction(read_only=True) as session:
        promo_id = None
        if promo is not None:
            promo_id = session.execute(select(Promo.id).where(Promo.code == promo)).scalar()
            if promo_id is None:
                raise NotFound(f"no promotion {promo!r}", slug="promo_not_found")
        buyer_id = None
        if not all_buyers:
            buyer = find_buyer(session, settings.buyer)
            if buyer is None:
                emit([], LIST_COLUMNS, empty="no orders")
                return
            buyer_id = buyer.id
        found = orders.list_orders(session, buyer_id=buyer_id,
                                   status=status.value if status else None, promo_id=promo_id,
                                   day_bounds=bounds)
        emit(orders.public_many(session, found, settings.tz), LIST_COLUMNS, title="Orders",
             empty="no orders")


def _show(order_no: str, *, settle: bool = True) -> dict:
    from wxshop_cli.config import current
    from wxshop_cli.core import orders, refunds
    from wxshop_cli.db.engine import database
    from wxshop_cli.gateway import get_gateway

    settings = current()
    db = database()
    with db.transaction(read_only=True) as session:
        order = orders.get_order(session, order_no)
    if settle:
        order = orders.settle(db, get_gateway(db), order, settings.clock.now())
    with db.transaction(read_only=True) as session:
        shown = orders.describe(session, order, settings.tz)
        shown["refunds"] = [refunds.public(r, settings.tz)
                            for r in refunds.refunds_of(session, order_no)]
    return shown


@app.command("show")
def show(order_no: Annotated[str, typer.Argument(metavar="ORDER")]) -> None:
    """One order with its refunds. An unknown payment is settled with the gateway first."""
    emit(_show(order_no), ORDER_COLUMNS, title="Order")


@app.command("cancel")
def cancel(order_no: Annotated[str, typer.Argument(metavar="ORDER")]) -> None:
    """Cancel one of the acting buyer's unpaid orders; stock and limit are given back."""
    from wxshop_cli.config import current
    from wxshop_cli.core import orders
    from wxshop_cli.core.buyers import find_buyer
    from wxshop_cli.db.engine import database
    from wxshop_cli.errors import NotFound
    from wxshop_cli.gateway import get_gateway

    settings = current()
    db = database()
    with db.transaction(read_only=True) as session:
        buyer = find_buyer(session, settings.buyer)
        if buyer is None:
            raise NotFound(f"no order {order_no}", slug="order_not_found")
        order = orders.get_order(session, order_no, buyer.id)
    orders.cancel(db, get_gateway(db), order, settings.clock.now())
    emit(_show(order_no, settle=False), ORDER_COLUMNS, title="Cancelled")


@app.command("refund")
def refund(
    order_no: Annotated[str, typer.Argument(metavar="ORDER")],
    amount: Annotated[str | None, typer.Option("--amount", metavar="YUAN",
                                               help="Default: all that is left.")] = None,
    refund_no: Annotated[str | None, typer.Option("--refund-no", metavar="NO",
                                                  help="Idempotency: the same number "
                                                       "refunds once.")] = None,
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT")] = "",
    yes: Yes = False,
) -> None:
    """Refund a paid order, fully or partly (the merchant's action)."""
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
    emit({**refunds.public(done, settings.tz), "replayed": replayed}, REFUND_COLUMNS,
         title="Refund")


@app.command("close-expired")
def close_expired() -> None:
    """Settle unknown payments with the gateway, close orders unpaid after 15 minutes, and
    drop idempotency keys older than 24 hours."""
    from wxshop_cli.config import current
    from wxshop_cli.core import orders
    from wxshop_cli.db.engine import database
    from wxshop_cli.gateway import get_gateway

    db = database()
    now = current().clock.now()
    outcome = orders.close_expired(db, get_gateway(db), now)
    purged = orders.purge_expired_keys(db, now)
    if current().json:
        emit({**outcome, "keys_purged": purged}, [])
        return
    # Tables and pipes get one row per order looked at.
    emit([{"order_no": order_no, "outcome": kind} for kind, numbers in outcome.items()
          for order_no in numbers], [Column("order_no", "order_no"), Column("outcome", "outcome")],
         title="Swept", empty="no unpaid orders to settle")
