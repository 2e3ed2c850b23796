"""What a person types: the payment password (hidden, from the terminal or
WXSHOP_PAY_PASSWORD), a line with echo off, and a file piped on stdin.

The core takes these as values (`core.paypassword.verify_pay_password(db, buyer, password,
…)`); only this module and the commands read the terminal or stdin. Prompts and messages
go to stderr through `output`.
"""

from __future__ import annotations

import hmac
import sys
from collections import deque
from collections.abc import Callable

from wxshop_cli.core.paypassword import ENV_PASSWORD, check_form, env_password
from wxshop_cli.errors import InvalidInput, PaymentRefused, UsageError
from wxshop_cli.output import prompt_text, require_terminal, say

# ---------------------------------------------------------------- the payment password


MAX_MALFORMED = 3


def pay_password_checked(verify: Callable[[str], None]) -> None:
    """The payment password of a purchase, passed to `verify` (which counts a wrong try and
    raises `wrong_password` with the tries left, or `password_locked`).

    `WXSHOP_PAY_PASSWORD` is verified once, as scripts always had it. On a terminal a wrong
    password is asked again while tries are left (the lock rules are `verify`'s: the count
    lives in the database), and a typed password that is not 6 digits is asked again
    without counting, up to 3 times in a row; Ctrl-C at the prompt stops with nothing
    changed."""
    value = env_password()
    if value is not None:
        verify(check_form(value))
        return
    require_terminal("payment password", ENV_PASSWORD)
    malformed = 0
    while True:
        typed = _prompt_hidden("Payment password (6 digits)")
        try:
            verify(check_form(typed))
            return
        except InvalidInput as exc:
            malformed += 1
            if exc.slug != "invalid_password" or malformed >= MAX_MALFORMED:
                raise
            say(f"[red]{exc.line()}[/red]")
        except PaymentRefused as exc:
            if exc.slug != "wrong_password" or not exc.extra.get("tries_left"):
                raise
            malformed = 0
            say(f"[red]{exc.line()}[/red]")


def read_new_pay_password() -> str:
    """A new payment password: `WXSHOP_PAY_PASSWORD` (checked), else typed twice on a
    terminal (asked again on a mismatch or a weak password), else a usage error (exit 2)."""
    from wxshop_cli.core.identity import check_pay_password

    value = env_password()
    if value is not None:
        check_pay_password(value)
        return value
    require_terminal("new payment password", ENV_PASSWORD)
    last_error: InvalidInput | None = None
    for _ in range(3):
        first = _prompt_hidden("Set a 6-digit payment password")
        try:
            check_pay_password(first)
        except InvalidInput as exc:
            say(f"[red]{exc.line()}[/red]")
            last_error = exc
            continue
        second = _prompt_hidden("Type it again")
        if hmac.compare_digest(first, second):
            return first
        last_error = InvalidInput("the two passwords differ", slug="password_mismatch",
                                  hint="type the same 6 digits twice")
        say(f"[red]{last_error.line()}[/red]")
    assert last_error is not None
    raise last_error


def _prompt_hidden(label: str) -> str:
    try:
        return prompt_text(label, what="payment password", option=ENV_PASSWORD, secret=True)
    except EOFError:
        raise UsageError("no payment password given", slug="missing_value",
                         hint=f"type it, or set {ENV_PASSWORD}") from None


# ---------------------------------------------------------------- hidden lines


def read_hidden(label: str) -> str | None:
    """One line of the terminal on stdin, not echoed; the label goes to stderr once echo is
    off (as getpass does: what was typed before the label showed is discarded, never shown).
    None when the input has ended."""
    try:
        import termios
    except ImportError:  # not a POSIX terminal: getpass hides the input its own way
        import getpass

        try:
            return getpass.getpass(f"{label}: ", stream=sys.stderr).strip()
        except EOFError:
            return None
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    quiet = termios.tcgetattr(fd)
    quiet[3] &= ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSAFLUSH, quiet)
    try:
        sys.stderr.write(f"{label}: ")
        sys.stderr.flush()
        line = sys.stdin.readline()
    finally:
        termios.tcsetattr(fd, termios.TCSAFLUSH, saved)
        sys.stderr.write("\n")
        sys.stderr.flush()
    return line.strip() if line else None


# ---------------------------------------------------------------- a file on stdin


def _unreadable(reason: str) -> UsageError:
    return UsageError(f"<stdin>: {reason}", slug="invalid_file",
                      hint="give a readable TOML or JSON promotion file, or - to read it "
                           "from stdin")


def read_promo_stdin() -> bytes:
    """The promotion file from stdin (`promo publish -`, `rehearse --promo -`), which must
    not be a terminal (nothing prompts for a file: pipe it in); at most the size limit of
    every file wxshop reads whole (core.inputlimits)."""
    if sys.stdin.isatty():
        raise UsageError("`promo publish -` reads the promotion file from stdin, which is a "
                         "terminal", slug="missing_value",
                         hint="pipe the file in: wxshop promo publish - < double11.toml")
    from wxshop_cli.core.inputlimits import MAX_FILE_BYTES, read_stream_bounded

    stream = getattr(sys.stdin, "buffer", None)
    if stream is not None:
        data = read_stream_bounded(stream, _unreadable)
    else:
        data = sys.stdin.read(MAX_FILE_BYTES + 1).encode("utf-8")
        if len(data) > MAX_FILE_BYTES:
            raise _unreadable("larger than the limit")
    if not data.strip():
        raise UsageError("`promo publish -` got nothing on stdin", slug="missing_value",
                         hint="pipe the file in: wxshop promo publish - < double11.toml")
    return data


class StdinValues:
    """What the `-` options read: one value a line, the card number first, then the security
    code. A pipe is read to its end at the first value; a terminal is read one line per
    value with echo off, so a typed card number or security code never shows on the screen
    (or in a terminal recording)."""

    def __init__(self) -> None:
        self.terminal = sys.stdin.isatty()
        self.lines: deque[str] | None = None

    def next(self, label: str) -> str | None:
        """The next value, or None when the input has ended."""
        if self.terminal:
            return read_hidden(label)
        if self.lines is None:
            self.lines = deque(line.strip() for line in sys.stdin.read().splitlines())
        return self.lines.popleft() if self.lines else None
