from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wxshop_cli.cli import Yes

if TYPE_CHECKING:
    from wxshop_cli.core.checkout import BuyRequest
    from wxshop_cli.db.engine import Database

Item = Annotated[str | None, typer.Argument(
    metavar="ITEM", help="A promo item id (item_…) or a SKU (not with --from).")]
Qty = Annotated[int, typer.Option("--qty", metavar="N", help="Units to buy.")]
Region = Annotated[str | None, typer.Option("--region", metavar="CODE",
                                            help="Use the default address in this region.")]
Address = Annotated[str | None, typer.Option("--address", metavar="ID",
                                             help="Ship to this saved address.")]
Card = Annotated[str | None, typer.Option("--card", metavar="CARD",
                                          help="Pay with this bound card.")]
Mobile = Annotated[str | None, typer.Option(
    "--mobile", metavar="NUMBER",
    help="A top-up's mobile number (11 digits; shown masked). Top-ups only.")]
IdempotencyKey = Annotated[str | None, typer.Option(
    "--idempotency-key", metavar="KEY", help="Retry-safe key; one is generated if absent.")]
FromFile = Annotated[str | None, typer.Option(
    "--from", metavar="FILE|-",
    help="Many purchases from JSON lines (a file, or - for stdin); one result line each "
         "(with --json, one JSON object per line).")]
Group = Annotated[int, typer.Option(
    "--group", metavar="N", help="With --from: up to N purchases share each commit.")]
Workers = Annotated[int, typer.Option(
    "--workers", metavar="N",
    help="With --from: N threads, each with its own connection, work the stream.")]


def buy(item: Item = None, qty: Qty = 1, region: Region = None, address: Address = None,
        card: Card = None, mobile: Mobile = None, idempotency_key: IdempotencyKey = None,
        from_file: FromFile = None, group: Group = 1, workers: Workers = 1,
        yes: Yes = False) -> None:
    """Buy in one step: item → saved address → bound card. The payment password comes from the
    terminal or WXSHOP_PAY_PASSWORD (with --from: WXSHOP_PAY_PASSWORD or each line's
    pay_password; a batch never prompts). A mobile top-up takes --mobile instead of an
    address.

    Examples:
      $ wxshop --buyer lilei buy YX-1002 --qty 2
      # in a script: the password from the environment, a key to retry safely
      $ WXSHOP_PAY_PASSWORD=201311 wxshop --buyer lilei --json buy YX-3001 \\
          --idempotency-key lilei-nuts-1
      $ wxshop --buyer hanmeimei buy YX-1004 --region 440000
      $ wxshop buy --from purchases.jsonl --group 100 --workers 2
    """
    from wxshop_cli.errors import UsageError

    if from_file is not None:
        if item is not None or any(v is not None for v in (region, address, card, mobile,
                                                            idempotency_key)) or qty != 1:
            raise UsageError("--from takes the purchases from the file; give no ITEM or "
                             "purchase options with it", slug="usage",
                             hint='put them on each line: {"item": "…", "qty": 1}')
        _buy_from(from_file, group, workers)
        return
    if group != 1 or workers != 1:
        raise UsageError("--group and --workers go with --from", slug="usage",
                         hint="wxshop buy --from FILE --group 500")
    if item is None:
        raise UsageError("missing ITEM", slug="missing_value",
                         hint="wxshop buy ITEM, or wxshop buy --from FILE")
    from wxshop_cli.core import checkout

    if mobile is not None:
        from wxshop_cli.core.identity import check_mobile

        mobile = check_mobile(mobile)  # never echoed: its errors do not quote it
    request = checkout.BuyRequest(item=item, qty=qty, region=region, address=address,
                                  card=card, mobile=mobile)
    checkout.check_request(request, idempotency_key)
    _buy_one(request, idempotency_key, panel=not yes)


def _buy_one(request: BuyRequest, idempotency_key: str | None, *, panel: bool) -> None:
    """One purchase: on a terminal the one screen (item, address, card, stock) unless
    --yes, the password (verified, asked again on a terminal while tries are left), the
    order, the bank, the result."""
    from wxshop_cli.config import current
    from wxshop_cli.core import checkout
    from wxshop_cli.core.paypassword import env_password
    from wxshop_cli.db.engine import database
    from wxshop_cli.output import emit, say, stderr_is_terminal
    from wxshop_cli.terminal import pay_password_checked
    from wxshop_cli.views.orders import ORDER_COLUMNS

    settings = current()
    now = settings.clock.now()
    # Only a person at a terminal who will type the password sees the panel: scripts
    # (WXSHOP_PAY_PASSWORD, no terminal) read nothing more than before.
    if panel and settings.interactive and env_password() is None:
        from wxshop_cli.core.checkout.preview import preview
        from wxshop_cli.views.orders import buy_panel

        with database().transaction(read_only=True) as session:
            facts = preview(session, settings.buyer, request, now, settings.tz)
        if facts is not None:
            buy_panel(facts)
    pay_password_checked(
        lambda password: checkout.verify_password(database(), settings.buyer, password,
                                                  request.item, now))
    db = database()
    outcome = _place(db, request, now, idempotency_key)
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
    shown = checkout.outcome_public(db, outcome, settings.buyer, settings.tz)
    if outcome.replayed:
        say("replayed: this key already bought this; nothing was charged again")
    title = "Paid" if not outcome.replayed else "Paid (replayed)"
    emit(shown, ORDER_COLUMNS, title=title, human=lambda order: _paid(db, order, title))


def _paid(db: Any, order: dict, title: str) -> None:
    """The result on a terminal: the card and address as a person reads them."""
    from wxshop_cli.config import current
    from wxshop_cli.core.checkout.preview import order_facts
    from wxshop_cli.views.orders import paid_panel

    with db.transaction(read_only=True) as session:
        facts = order_facts(session, order.get("card_id"), order.get("address_id"),
                            current().tz)
    paid_panel(order, facts, title)


def _place(db: Database, request: BuyRequest, now: Any, idempotency_key: str | None) -> Any:
    """checkout.place_order, telling a person on a terminal how to retry before the bank is
    asked; an interrupt while the bank is asked becomes `Interrupted` with that advice."""
    from wxshop_cli.config import current
    from wxshop_cli.core import checkout
    from wxshop_cli.errors import Interrupted
    from wxshop_cli.gateway import get_gateway
    from wxshop_cli.output import say, stderr_is_terminal

    buyer = current().buyer
    claimed: list[tuple[str, str]] = []

    def before_the_bank(order_no: str, key: str) -> None:
        # Said before the bank is asked, so that a person who interrupts or loses the
        # terminal knows how to retry without paying twice. Scripts (no terminal) keep one
        # stderr line per error: they pass their own key, and a killed one finds the order
        # with `orders list --status paying` (docs/decisions.md).
        claimed.append((order_no, key))
        if stderr_is_terminal():
            say(f"order {order_no} claimed (idempotency key {key}); asking the bank")

    try:
        return checkout.place_order(db, get_gateway(db), buyer, request, now,
                                    idempotency_key, on_claimed=before_the_bank)
    except KeyboardInterrupt:
        if not claimed:
            raise
        order_no, key = claimed[0]
        # Still interrupted if this fails: the claim then lapses in 60 seconds.
        with contextlib.suppress(Exception):
            checkout.release_claim(db, buyer, key, now)
        raise Interrupted(
            f"interrupted while the bank was asked to pay order {order_no}: the payment may "
            "have gone through", order_no=order_no, idempotency_key=key,
            hint=f"see `wxshop orders show {order_no}`, or rerun with --idempotency-key {key} "
                 "(never pays twice); do not rerun without it") from None


def _open_lines(source: str) -> Any:
    """The JSON-lines input of `buy --from`: a file, or - for stdin (bytes: each line is
    decoded on its own, with its own error)."""
    import sys

    from wxshop_cli.errors import NotFound, UsageError

    if source == "-":
        return sys.stdin.buffer
    try:
        return open(source, "rb")
    except FileNotFoundError:
        raise NotFound(f"no file {source}", slug="file_not_found",
                       hint="give a JSON-lines file, or - for stdin") from None
    except (IsADirectoryError, PermissionError, OSError) as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}", slug="invalid_file",
                         hint="give a readable JSON-lines file") from None


def _buy_from(source: str, group: int, workers: int) -> None:
    """`buy --from`: one result line per input line, each printed after its commit."""
    import os
    import sys

    from wxshop_cli.config import current
    from wxshop_cli.core import bulkbuy
    from wxshop_cli.core.paypassword import ENV_PASSWORD
    from wxshop_cli.db.engine import database
    from wxshop_cli.errors import UsageError
    from wxshop_cli.gateway import get_gateway

    if not 1 <= group <= 10_000:
        raise UsageError("--group takes 1 to 10000", slug="usage", hint="e.g. --group 500")
    if not 1 <= workers <= 64:
        raise UsageError("--workers takes 1 to 64", slug="usage", hint="e.g. --workers 4")
    settings = current()
    stream = _open_lines(source)
    db = database()
    password = os.environ.get(ENV_PASSWORD) or None

    def parsed():
        for number, raw in enumerate(stream, start=1):
            if raw.strip():
                yield bulkbuy.parse_line(raw, number, default_buyer=settings.buyer,
                                         default_password=password)

    runner = bulkbuy.BatchBuy(db, get_gateway(db), settings.clock.now, group=group,
                              workers=workers, emit=_line_writer(db))
    try:
        summary = runner.run(parsed())
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    _say_summary(summary)
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


def _line_writer(db: Database):
    """What `BatchBuy` calls with each committed line: its result line on stdout."""
    from wxshop_cli.config import current
    from wxshop_cli.core import checkout
    from wxshop_cli.views.orders import BatchLines

    settings = current()
    lines = BatchLines(json_output=settings.json)

    def emit(result: Any) -> None:
        outcome = result.outcome
        error = result.error or (outcome.error if outcome else None)
        order = (checkout.outcome_public(db, outcome, result.buyer, settings.tz)
                 if outcome is not None and outcome.order is not None else None)
        key = (outcome.idempotency_key if outcome else
               (error.extra.get("idempotency_key") if error else None)) or result.key or ""
        lines.write(line_no=result.line_no, exit_code=result.exit_code, buyer=result.buyer,
                    key=key, order=order, error=error,
                    replayed=outcome is not None and outcome.replayed)

    return emit


def _say_summary(summary: Any) -> None:
    from wxshop_cli.output import counted, say

    refused = ", ".join(f"{slug} {n}" for slug, n in summary.refused.most_common())
    say(f"{counted(summary.lines, 'line')}: {summary.paid:,} paid "
        f"({summary.replayed:,} replayed), "
        f"{summary.not_paid:,} not paid{': ' + refused if refused else ''}; "
        f"{summary.orders_per_second:,.0f} orders/s")
