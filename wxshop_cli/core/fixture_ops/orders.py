from __future__ import annotations

from typing import Any

from wxshop_cli.core.fixture_ops.registry import FixtureContext, op
from wxshop_cli.errors import InvalidInput


@op("order.place", required=("buyer", "item", "pay_password"),
    optional=("qty", "region", "address", "card", "idempotency_key"))
def place(ctx: FixtureContext, args: dict[str, Any]) -> dict[str, Any]:
    """Buy as a buyer would: args buyer, item, pay_password, and optionally qty, region,
    address, card, idempotency_key (default: the step's own, so re-applying never buys
    twice). The password is verified like any purchase; a refused payment fails the step."""
    from wxshop_cli.core import checkout
    from wxshop_cli.core.paypassword import verify_pay_password
    from wxshop_cli.gateway import get_gateway

    qty = args.get("qty", 1)
    if isinstance(qty, bool) or not isinstance(qty, int):
        raise InvalidInput("qty: expected a whole number", hint="e.g. \"qty\": 2")
    request = checkout.BuyRequest(item=str(args["item"]), qty=qty, region=args.get("region"),
                                  address=args.get("address"), card=args.get("card"))
    key = args.get("idempotency_key") or f"fixture-{ctx.step}"
    checkout.check_request(request, key)
    verify_pay_password(ctx.db, args["buyer"], str(args["pay_password"]), ctx.now)
    outcome = checkout.place_order(ctx.db, get_gateway(ctx.db), args["buyer"], request,
                                   ctx.now, key)
    if outcome.error is not None:
        raise outcome.error
    order = outcome.order
    assert order is not None  # no error: the buy made an order
    return {"id": order.order_no, "status": order.status, "amount_fen": order.amount_fen,
            "transaction_id": order.transaction_id}
