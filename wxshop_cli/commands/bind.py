"""`wxshop bind-card [confirm]`: bind a bank card (the bound cards are commands/cards.py).

On a terminal `bind-card` is one interactive command (hidden card number and security code,
the SMS code, the payment password typed twice). Without one it is two steps: `bind-card
--number - …` prints the pending binding, `bind-card confirm BINDING --code CODE` prints the
card. A card number is never taken as a literal argument except the sandbox's test cards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import typer

from wxshop_cli.cli import WxTyper, _with_common_options
from wxshop_cli.errors import InvalidInput, UsageError
from wxshop_cli.output import emit
from wxshop_cli.views.cards import BINDING_COLUMNS, CARD_COLUMNS

T = TypeVar("T")

bind_app = WxTyper(name="bind-card", help="""Bind a bank card: card, identity, then an SMS code.
The buyer's first card also sets the payment password.

On a terminal: one interactive command. Without one: it prints the pending binding; finish
it with `wxshop bind-card confirm BINDING --code CODE` (the code is in `wxshop inbox`).
Test cards and identities: `wxshop sandbox cards`, `wxshop sandbox identities`.

Examples:
  $ wxshop --buyer wangwu bind-card
  # the card number on stdin (a real card's number is never an argument)
  $ wxshop --buyer wangwu bind-card --number - --holder 王五 \\
      --id-number 110101197811117894 --phone 15000000000 < card.txt
  $ wxshop --buyer wangwu bind-card --number 6222020000000000000 --holder 王五 \\
      --id-number 110101197811117894 --phone 15000000000
  $ wxshop --buyer wangwu bind-card confirm bind_7a3e90c15d2b46f8 --code 428613
""", no_args_is_help=False, add_completion=False,
                   pretty_exceptions_show_locals=False, rich_markup_mode=None)
_LITERAL_HINT = ("give it on stdin with --number -, or run `wxshop bind-card` on a terminal to "
                 "type it hidden")


# ---------------------------------------------------------------- bind-card (step one)


def bind_card(
    ctx: typer.Context,
    number: Annotated[str | None, typer.Option(
        "--number", metavar="NUMBER|-",
        help="`-` reads the number from stdin (one value per line: the number, then a credit "
             "card's security code; hidden when stdin is a terminal). Only the sandbox's test "
             "cards may be literal.")] = None,
    holder: Annotated[str | None, typer.Option("--holder", metavar="NAME",
                                               help="Card holder's name.")] = None,
    id_number: Annotated[str | None, typer.Option(
        "--id-number", metavar="ID", help="Holder's Chinese resident ID number.")] = None,
    phone: Annotated[str | None, typer.Option(
        "--phone", metavar="MOBILE", help="Mobile number reserved at the bank.")] = None,
    expiry: Annotated[str | None, typer.Option(
        "--expiry", metavar="MM/YY", help="Credit cards: expiry (checked, never kept; checked "
                                          "too if given for a debit card).")] = None,
    cvn: Annotated[str | None, typer.Option(
        "--cvn", metavar="-", help="Credit cards: `-` reads the 3-digit security code from "
                                   "stdin (checked, never kept). Only the sandbox's test "
                                   "cards may take it literally.")] = None,
    default: Annotated[bool, typer.Option(
        "--default", help="Make the new card the default (the first card always is).")]
    = False,
) -> None:
    """`wxshop bind-card`: its help is bind_app's (interactive, or two steps)."""
    if ctx.invoked_subcommand is not None:
        return
    from wxshop_cli.config import current

    settings = current()
    if settings.interactive and number != "-" and cvn != "-":
        _interactive(number, holder, id_number, phone, expiry, cvn, default)
        return
    _two_step(number, holder, id_number, phone, expiry, cvn, default)


bind_app.callback(invoke_without_command=True)(_with_common_options(bind_card))


def _literal_number(number: str) -> str:
    from wxshop_cli.core.cardnumber import is_test_card

    if not is_test_card(number):
        raise InvalidInput("card numbers are not taken on the command line",
                           slug="card_number_on_command_line", hint=_LITERAL_HINT)
    return number


def _refuse_literal_cvn(card, cvn: str | None, *, hint: str) -> None:
    """A literal --cvn is taken only with a sandbox test card, whatever the card's type: the
    process list and shell history are readable by others."""
    if cvn is not None and cvn != "-" and not card.is_test:
        raise InvalidInput("security codes are not taken on the command line",
                           slug="security_code_on_command_line", hint=hint)


def _missing(what: str, hint: str) -> UsageError:
    return UsageError(f"missing {what}", slug="missing_value", hint=hint)


def _two_step(number: str | None, holder: str | None, id_number: str | None,
              phone: str | None, expiry: str | None, cvn: str | None, default: bool) -> None:
    from wxshop_cli.config import current
    from wxshop_cli.core import cards
    from wxshop_cli.output import say

    settings = current()
    now = settings.clock.now()
    today = now.astimezone(settings.tz).date()
    from wxshop_cli.terminal import StdinValues

    stdin = StdinValues()
    # Form first, in the order of the flow; nothing is opened before every value passed.
    if number is None:
        raise _missing("card number", "pass --number - and give the number on stdin")
    if number == "-":
        raw = stdin.next("Card number (hidden)")
        if not raw:
            raise _missing("card number", "--number - reads it from the first line of stdin")
    else:
        raw = _literal_number(number)
    card = cards.check_number(raw)
    _refuse_literal_cvn(card, cvn, hint="use --cvn - and give it on stdin")
    for value, option in ((holder, "--holder"), (id_number, "--id-number"),
                          (phone, "--phone")):
        if value is None:
            raise _missing(option.lstrip("-").replace("-", " "), f"pass {option}")
    assert holder is not None and id_number is not None and phone is not None
    name, id_no, mobile = cards.check_holder_fields(holder, id_number, phone, today)
    if card.is_credit and expiry is None:
        raise _missing("card expiry", "credit cards need --expiry MM/YY")
    security_code: str | None = cvn if cvn != "-" else None  # a literal test card's code
    # `--cvn -` reads the code for any card; a credit card read from stdin reads it too.
    if cvn == "-" or (cvn is None and number == "-" and card.is_credit):
        security_code = stdin.next("Security code (3 digits, hidden)")
        if not security_code:
            raise _missing("security code", "give it on stdin, on the line after the card "
                           "number (alone when the number is a literal test card)")
    if card.is_credit and security_code is None:
        raise _missing("security code", "credit cards need --cvn - with the code on stdin")
    # Checked for any card that was given them (a debit card needs neither), then forgotten.
    cards.check_credit_fields(card, expiry, security_code, today)
    data = cards.CardInput(number=card, holder=name, id_number=id_no, mobile=mobile)

    from wxshop_cli.db.engine import database

    started = cards.start_binding(database(), settings.buyer, data, now,
                                  make_default=default, tz=settings.tz)
    say(f"The sandbox bank sent an SMS code to {started.public['phone_masked']} "
        "(see `wxshop inbox`); finish with "
        f"`wxshop bind-card confirm {started.binding_id} --code CODE`.")
    emit(started.public, BINDING_COLUMNS, title="Pending binding")


# ---------------------------------------------------------------- bind-card confirm


@bind_app.command("confirm")
def confirm(
    binding: Annotated[str, typer.Argument(metavar="BINDING", help="The binding id (bind_…).")],
    code: Annotated[str | None, typer.Option(
        "--code", metavar="CODE", help="The 6-digit SMS code from `wxshop inbox`.")] = None,
) -> None:
    """Finish a binding with its SMS code.

    The buyer's first card also sets the payment password (typed twice on a terminal, else
    WXSHOP_PAY_PASSWORD).

    Examples:
      $ wxshop --buyer wangwu bind-card confirm bind_7a3e90c15d2b46f8 --code 428613
      $ WXSHOP_PAY_PASSWORD=201311 wxshop --buyer wangwu --json bind-card confirm \\
          bind_7a3e90c15d2b46f8 --code 428613
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import cards, paypassword
    from wxshop_cli.core.identity import check_pay_password
    from wxshop_cli.output import prompt_text, say
    from wxshop_cli.terminal import read_new_pay_password

    settings = current()
    now = settings.clock.now()
    if code is None:
        code = _ask(lambda: prompt_text("SMS code", what="SMS code", option="--code"))
    cards.check_sms_code_form(code)
    from_env = paypassword.env_password()
    if from_env is not None:
        check_pay_password(from_env)

    from wxshop_cli.db.engine import database

    db = database()
    password = from_env
    with db.transaction(read_only=True) as session:
        needs_password = cards.binding_needs_password(session, settings.buyer, binding, now)
    if needs_password and password is None:
        if not settings.interactive:
            raise UsageError("missing payment password", slug="missing_value",
                             hint=f"the first card sets it: set {paypassword.ENV_PASSWORD}")
        cards.check_sms_code(db, settings.buyer, binding, code, now)  # before typing it
        password = read_new_pay_password()
    card = cards.confirm_binding(db, settings.buyer, binding, code, now, password=password,
                                 tz=settings.tz)
    say(f"Bound {card['display']}" + (" (default card)" if card["is_default"] else ""))
    emit(card, CARD_COLUMNS, title="Card bound")


# ---------------------------------------------------------------- the interactive flow


def _ask(read: Callable[[], str]) -> str:
    try:
        return read()
    except EOFError:
        raise UsageError("input ended", slug="missing_value",
                         hint="run it again and answer every prompt, or give the values as "
                              "options") from None


def _ask_valid(label: str, check: Callable[[str], T], *, secret: bool = False,
               given: str | None = None, tries: int = 3) -> T:
    """Prompt until the value passes its check (3 tries); a value given as an option is
    checked once, without a prompt."""
    from wxshop_cli.output import prompt_text, say

    if given is not None:
        return check(given)
    error: InvalidInput | None = None
    for _ in range(tries):
        value = _ask(lambda: prompt_text(label, what=label.lower(), option="", secret=secret))
        try:
            return check(value)
        except InvalidInput as exc:
            say(f"[red]{exc.line()}[/red]")
            error = exc
    assert error is not None
    raise error


def _interactive(number: str | None, holder: str | None, id_number: str | None,
                 phone: str | None, expiry: str | None, cvn: str | None,
                 default: bool) -> None:
    from wxshop_cli.config import current
    from wxshop_cli.core import cards, identity
    from wxshop_cli.output import prompt_text, say
    from wxshop_cli.terminal import read_new_pay_password

    settings = current()
    now = settings.clock.now()
    today = now.astimezone(settings.tz).date()
    say("[bold]Bind a bank card[/bold] [dim](sandbox bank)[/dim]")
    card = _ask_valid("Card number (hidden)", cards.check_number, secret=True,
                      given=_literal_number(number) if number is not None else None)
    from wxshop_cli.core.cardnumber import BRAND_NAMES

    _refuse_literal_cvn(card, cvn, hint="leave --cvn out to type it hidden")
    say(f"{card.row.bank} {card.row.type_label} · {BRAND_NAMES[card.brand]} · "
        f"{card.first6[:4]} **** **** {card.last4}")
    name = _ask_valid("Holder name", identity.check_holder_name, given=holder)
    id_no = _ask_valid("Resident ID number", lambda v: identity.check_id_number(v, today),
                       given=id_number)
    mobile = _ask_valid("Mobile number reserved at the bank", identity.check_mobile,
                        given=phone)
    if card.is_credit:
        _ask_valid("Expiry (MM/YY)", lambda v: identity.check_expiry(v, today), given=expiry)
        _ask_valid("Security code (3 digits, hidden)", identity.check_security_code,
                   secret=True, given=cvn)
    else:  # a debit card asks neither; one given as an option is still checked
        cards.check_credit_fields(card, expiry, cvn, today)
    data = cards.CardInput(number=card, holder=name, id_number=id_no, mobile=mobile)

    from wxshop_cli.db.engine import database

    db = database()
    started = cards.start_binding(db, settings.buyer, data, now, make_default=default,
                                  tz=settings.tz)
    say(f"The sandbox bank sent a 6-digit code to {started.public['phone_masked']} "
        "(it is in `wxshop inbox`; valid 5 minutes).")
    while True:
        code = _ask(lambda: prompt_text("SMS code", what="SMS code", option="--code"))
        try:
            cards.check_sms_code(db, settings.buyer, started.binding_id, code, now)
            break
        except InvalidInput as exc:
            if exc.slug == "invalid_sms_code" or exc.extra.get("tries_left", 0) > 0:
                say(f"[red]{exc.line()}[/red]")
                continue
            raise
    password = None
    with db.transaction(read_only=True) as session:
        needs = cards.binding_needs_password(session, settings.buyer, started.binding_id, now)
    if needs:
        say("This is your first card: set the payment password you will pay with.")
        password = read_new_pay_password()
    result = cards.confirm_binding(db, settings.buyer, started.binding_id, code, now,
                                   password=password, tz=settings.tz)
    say(f"[green]Bound {result['display']}[/green]"
        + (" (default card)" if result["is_default"] else ""))
    emit(result, CARD_COLUMNS, title="Card bound")
