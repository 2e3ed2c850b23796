from __future__ import annotations

from typing import Annotated

import typer

from wxshop_cli.output import Column

ORDER_COLUMNS = [
    Column("order_no", "order_no"), Column("status", "status"), Column("sku", "sku"),
    Column("title", "title"), Column("qty", "qty"), Column("amount", "amount_fen", "money"),
    Column("refunded", "refunded_fen", "money"), Column("card", "card_id"),
    Column("address", "address_id"), Column("transaction_id", "transaction_id"),
    Column("created_at", "created_at", "time"), Column("paid_at", "paid_at", "time"),
    Column("idempotency_key", "idempotency_key"), Column("replayed", "replayed", "bool"),
]


def buy(
    item: Annotated[str, typer.Argument(help="A promo item id (item_…) or a SKU.")],
    qty: Annotated[int, typer.Option("--qty", help="Units to buy.")] = 1,
    region: Annotated[str | None, typer.Option("--region", metavar="CODE",
                                               help="Use the default address in this region.")]
    = None,
    address: Annotated[str | None, typer.Option("--address", metavar="ID",
                                                help="Ship to this saved address.")] = None,
    card: Annotated[str | None, typer.Option("--card", metavar="CARD",
                                             help="Pay with this bound card.")] = None,
    idempotency_key: Annotated[str | None, typer.Option(
        "--idempotency-key", metavar="K", help="Retry-safe key; one is generated if absent.")]
    = None,
) -> None:
    """Buy in one step: item → saved address → bound card. The payment password comes from the
    terminal or WXSHOP_PAY_PASSWORD."""
    from wxshop_cli.config import current
    from wxshop_cli.core import checkout
    from wxshop_cli.core.paypassword import read_pay_password, verify_pay_password
    from wxshop_cli.db.engine import database
    from wxshop_cli.errors import Interrupted
    from wxshop_cli.gateway import get_gateway
    from wxshop_cli.output import emit, say, stderr_is_terminal

    settings = current()
    request = checkout.BuyRequest(item=item, qty=qty, region=region, address=address,
                                  card=card)
    checkout.check_request(request, idempotency_key)
    password = read_pay_password()
    db = database()
    now = settings.clock.now()
    verify_pay_password(db, settings.buyer, password, now)
    claimed: list[tuple[str, str]] = []

    def before_the_bank(order_no: str, key: str) -> None:
        # Said before the bank is asked, so that a person who interrupts or loses the
        # terminal knows how to retry without paying twice. Scripts (no terminal) keep one
        # stderr line per error: they pass their own key, and a killed one finds the order
        # with `orders list --status paying` (README, Decisions).
        claimed.append((order_no, key))
        if stderr_is_terminal():
            say(f"order {order_no} claimed (idempotency key {key}); asking the bank")

    try:
        outcome = checkout.place_order(db, get_gateway(db), settings.buyer, request, now,
                                       idempotency_key, on_claimed=before_the_bank)
    except KeyboardInterrupt:
        if not claimed:
            raise
        order_no, key = claimed[0]
        raise Interrupted(
            f"interrupted while the bank was asked to pay order {order_no}: the payment may "
            "have gone through", order_no=order_no, idempotency_key=key,
            hint=f"see `wxshop orders show {order_no}`, or rerun with --idempotency-key {key} "
                 "(never pays twice); do not rerun without it") from None
    if outcome.error is not None:
        if outcome.replayed:
            outcome.error.extra["replayed"] = True
        if outcome.key_generated:  # one stderr line: the key rides in the hint
            retry = f"idempotency key {outcome.idempotency_key}"
            outcome.error.hint = f"{outcome.error.hint}; {retry}" if outcome.error.hint \
                else retry
        raise outcome.error
    if outcome.key_generated and not stderr_is_terminal():
        say(f"idempotency key: {outcome.idempotency_key} (retry with it to never pay twice)")
    shown = checkout.order_json(db, outcome, settings.buyer, settings.tz)
    if outcome.replayed:
        say("replayed: this key already bought this; nothing was charged again")
    emit(shown, ORDER_COLUMNS, title="Paid" if not outcome.replayed else "Paid (replayed)")
