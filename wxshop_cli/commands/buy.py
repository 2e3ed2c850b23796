from __future__ import annotations

import contextlib
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
    item: Annotated[str | None, typer.Argument(
        help="A promo item id (item_…) or a SKU (not with --from).")] = None,
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
    from_file: Annotated[str | None, typer.Option(
        "--from", metavar="FILE|-",
        help="Many purchases from JSON lines (a file, or - for stdin); one result line each "
             "(with --json, one JSON object per line).")]
    = None,
    group: Annotated[int, typer.Option(
        "--group", metavar="N", help="With --from: up to N purchases share each commit.")] = 1,
    workers: Annotated[int, typer.Option(
        "--workers", metavar="N",
        help="With --from: N threads, each with its own connection, work the stream.")] = 1,
) -> None:
    """Buy in one step: item → saved address → bound card. The payment password comes from the
    terminal or WXSHOP_PAY_PASSWORD (with --from: WXSHOP_PAY_PASSWORD or each line's
    pay_password; a batch never prompts)."""
    if from_file is not None:
        if item is not None or any(v is not None for v in (region, address, card,
                                                            idempotency_key)) or qty != 1:
            from wxshop_cli.errors import UsageError

            raise UsageError("--from takes the purchases from the file; give no ITEM or "
                             "purchase options with it", slug="usage",
                             hint='put them on each line: {"item": "…", "qty": 1}')
        _buy_from(from_file, group, workers)
        return
    from wxshop_cli.errors import UsageError

    if group != 1 or workers != 1:
        raise UsageError("--group and --workers go with --from", slug="usage",
                         hint="wxshop buy --from FILE --group 500")
    if item is None:
        raise UsageError("missing ITEM", slug="missing_value",
                         hint="wxshop buy ITEM, or wxshop buy --from FILE")
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
        # with `orders list --status paying` (docs/decisions.md).
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
        # Still interrupted if this fails: the claim then lapses in 60 seconds.
        with contextlib.suppress(Exception):
            checkout.release_claim(db, settings.buyer, key, now)
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


BATCH_COLUMNS = ["line", "exit_code", "status", "order_no", "amount", "buyer",
                 "idempotency_key", "replayed", "error"]


def _buy_from(source: str, group: int, workers: int) -> None:
    """`buy --from`: one result line per input line, each printed after its commit."""
    import os
    import sys

    from wxshop_cli import money
    from wxshop_cli.config import current
    from wxshop_cli.core import bulkbuy, checkout
    from wxshop_cli.core.paypassword import ENV_PASSWORD
    from wxshop_cli.db.engine import database
    from wxshop_cli.errors import NotFound, UsageError
    from wxshop_cli.gateway import get_gateway
    from wxshop_cli.output import dumps, say, tsv_cell

    if not 1 <= group <= 10_000:
        raise UsageError("--group takes 1 to 10000", slug="usage", hint="e.g. --group 500")
    if not 1 <= workers <= 64:
        raise UsageError("--workers takes 1 to 64", slug="usage", hint="e.g. --workers 4")
    settings = current()
    if source == "-":
        stream = sys.stdin.buffer  # bytes: each line is decoded on its own (its own error)
    else:
        try:
            stream = open(source, "rb")  # noqa: SIM115 (closed below)
        except FileNotFoundError:
            raise NotFound(f"no file {source}", slug="file_not_found",
                           hint="give a JSON-lines file, or - for stdin") from None
        except (IsADirectoryError, PermissionError, OSError) as exc:
            raise UsageError(f"cannot read {source}: {exc.strerror}", slug="invalid_file",
                             hint="give a readable JSON-lines file") from None
    db = database()
    password = os.environ.get(ENV_PASSWORD) or None
    json_output = settings.json
    header = [not json_output]  # the TSV header goes out with the first result only

    def emit(result: bulkbuy.LineResult) -> None:
        outcome = result.outcome
        error = result.error or (outcome.error if outcome else None)
        order = (checkout.order_json(db, outcome, result.buyer, settings.tz)
                 if outcome is not None and outcome.order is not None else None)
        key = (outcome.idempotency_key if outcome else
               (error.extra.get("idempotency_key") if error else None)) or result.key or ""
        if json_output:
            row = dict(order or {"buyer": result.buyer, "idempotency_key": key or None})
            row.update(line=result.line_no, exit_code=result.exit_code)
            if error is not None:
                row["error"] = error.to_json()["error"]
            sys.stdout.write(dumps(row) + "\n")
        else:
            if header[0]:
                sys.stdout.write("\t".join(BATCH_COLUMNS) + "\n")
                header[0] = False
            cells = [result.line_no, result.exit_code, order["status"] if order else "",
                     order["order_no"] if order else "",
                     money.yuan(order["amount_fen"]) if order else "", result.buyer, key,
                     "true" if outcome is not None and outcome.replayed else "false",
                     error.line() if error else ""]
            sys.stdout.write("\t".join(tsv_cell(str(c)) for c in cells) + "\n")
        sys.stdout.flush()

    def parsed():
        for number, raw in enumerate(stream, start=1):
            if raw.strip():
                yield bulkbuy.parse_line(raw, number, default_buyer=settings.buyer,
                                         default_password=password)

    runner = bulkbuy.BatchBuy(db, get_gateway(db), settings.clock.now, group=group,
                              workers=workers, emit=emit)
    try:
        summary = runner.run(parsed())
    finally:
        if stream is not sys.stdin:
            stream.close()
    refused = ", ".join(f"{slug} {n}" for slug, n in summary.refused.most_common())
    say(f"{summary.lines} line{'s' if summary.lines != 1 else ''}: {summary.paid} paid "
        f"({summary.replayed} replayed), "
        f"{summary.not_paid} not paid{': ' + refused if refused else ''}; "
        f"{summary.orders_per_second:,.0f} orders/s")
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)
