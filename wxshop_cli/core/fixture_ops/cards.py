"""Fixture operations for buyers, cards and addresses: `buyer.create`, `card.bind`,
`address.add`."""

from __future__ import annotations

from typing import Any

from wxshop_cli.core.fixture_ops.registry import FixtureContext, op
from wxshop_cli.errors import InvalidInput


def _args(args: dict[str, Any], required: set[str], optional: set[str]) -> dict[str, Any]:
    """Argument types (their names are checked by the loader for the whole file, from the
    names each op declares)."""
    for name in (required | optional) & set(args):
        value = args[name]
        if name != "default" and not isinstance(value, str):
            raise InvalidInput(f"argument {name} must be a string", slug="invalid_fixture",
                               hint=f'write it in quotes, e.g. "{name}": "..."')
    if "default" in args and not isinstance(args["default"], bool):
        raise InvalidInput("argument default must be true or false", slug="invalid_fixture",
                           hint='write "default": true or leave it out')
    return args


@op("buyer.create", required=("name",))
def create_buyer(ctx: FixtureContext, args: dict[str, Any]) -> dict[str, Any]:
    """args: name. Result: id (the buyer's name, for `${step.id}` in later steps)."""
    from wxshop_cli.config import check_buyer_name
    from wxshop_cli.core.buyers import get_or_create_buyer

    name = check_buyer_name(_args(args, {"name"}, set())["name"])
    with ctx.db.transaction() as session:
        buyer = get_or_create_buyer(session, name, ctx.now)
        return {"id": buyer.name, "name": buyer.name, "buyer_id": buyer.id}


@op("card.bind", required=("buyer", "number", "holder", "id_number", "phone"),
    optional=("expiry", "cvn", "pay_password", "default"))
def bind_card(ctx: FixtureContext, args: dict[str, Any]) -> dict[str, Any]:
    """args: buyer, number (a sandbox test card only), holder, id_number, phone; expiry and
    cvn for credit cards; pay_password (needed by the buyer's first card); default.
    Completes the SMS step itself by reading the code from the buyer's inbox.
    Result: the card's public shape (id, display, masked_number, ...)."""
    from wxshop_cli.config import check_buyer_name, current
    from wxshop_cli.core import cards
    from wxshop_cli.core.cardnumber import is_test_card
    from wxshop_cli.core.inbox import find_message

    a = _args(args, {"buyer", "number", "holder", "id_number", "phone"},
              {"expiry", "cvn", "pay_password", "default"})
    buyer = check_buyer_name(a["buyer"])
    if not is_test_card(a["number"]):
        raise InvalidInput("fixtures bind only the sandbox's test cards",
                           slug="card_number_on_command_line",
                           hint="use a sandbox test card, e.g. 6222020000000000000 (debit) "
                                "or 6258000000000006 (credit); a fixture file is as readable "
                                "as a command line")
    today = ctx.now.astimezone(current().tz).date()
    password = a.get("pay_password")
    if password is not None:
        from wxshop_cli.core.identity import check_pay_password

        check_pay_password(password)
    data = cards.check_card_input(a["number"], a["holder"], a["id_number"], a["phone"],
                                  a.get("expiry"), a.get("cvn"), today)
    started = cards.start_binding(ctx.db, buyer, data, ctx.now,
                                  make_default=bool(a.get("default", False)))
    if started.needs_password and password is None:
        raise InvalidInput("the buyer's first card needs pay_password", slug="invalid_fixture",
                           hint="add \"pay_password\": six digits")
    # The buyer's phone: read the SMS the sandbox bank just sent.
    with ctx.db.transaction() as session:
        from wxshop_cli.core.buyers import require_buyer

        message = find_message(session, require_buyer(session, buyer).id, started.message_id)
        assert message is not None and message.code is not None
        code = message.code
        message.read = True
        session.add(message)
    card = cards.confirm_binding(ctx.db, buyer, started.binding_id, code, ctx.now,
                                 password=password if started.needs_password else None,
                                 tz=current().tz)
    return card


@op("address.add", required=("buyer", "region", "city", "street", "contact", "phone"),
    optional=("default",))
def add_address(ctx: FixtureContext, args: dict[str, Any]) -> dict[str, Any]:
    """args: buyer, region, city, street, contact, phone; default (true/false).
    Result: the address's public shape (id, region, phone_masked, is_default, ...)."""
    from wxshop_cli.config import check_buyer_name, current
    from wxshop_cli.core import addresses

    a = _args(args, {"buyer", "region", "city", "street", "contact", "phone"}, {"default"})
    buyer = check_buyer_name(a["buyer"])
    data = addresses.check_address_input(a["region"], a["city"], a["street"], a["contact"],
                                         a["phone"])
    with ctx.db.transaction() as session:
        return addresses.add_address(session, buyer, data, ctx.now,
                                     make_default=bool(a.get("default", False)),
                                     tz=current().tz)
