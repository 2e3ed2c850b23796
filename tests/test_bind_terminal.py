"""`wxshop bind-card` on a real terminal (a pseudo-terminal driven by pexpect): one
interactive command with hidden card number and security code, the SMS code and the payment
password typed twice."""

from __future__ import annotations

import io
import os
import sys

import pytest

from tests.binding_helpers import (
    CMB_CREDIT,
    CMB_DEBIT,
    HOLDER_A,
    ID_A,
    NOW,
    PASSWORD,
    PHONE,
    TEST_DEBIT,
)
from tests.conftest import REPO, Cli

pexpect = pytest.importorskip("pexpect")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(NO_COLOR="1", TERM="dumb", COLUMNS="120")
    return env


def spawn(*args: str):
    child = pexpect.spawn(sys.executable, ["-m", "wxshop_cli", "--now", NOW, *args],
                          env=_env(), encoding="utf-8", timeout=30, dimensions=(40, 120))
    return child


def inbox_code(buyer: str = "me") -> str:
    """The SMS code on the buyer's phone, read in-process: only the prompts need a terminal."""
    messages = Cli().json("--buyer", buyer, "inbox", "--all")
    return next(m for m in messages if m["kind"] == "sms")["code"]


def finish(child) -> str:
    child.expect(pexpect.EOF)
    child.close()
    return child.before


def test_the_interactive_flow_binds_a_card_and_sets_the_password():
    child = spawn("bind-card")
    transcript = []
    child.expect("Card number")
    child.sendline("6225 8800 0012 3457")  # a typo first: refused, asked again
    child.expect("Luhn")
    transcript.append(child.before)
    child.expect("Card number")
    child.sendline(CMB_DEBIT)
    child.expect("招商银行 储蓄卡")
    transcript.append(child.before)
    child.expect("Holder name")
    child.sendline(HOLDER_A)
    child.expect("Resident ID number")
    child.sendline(ID_A)
    child.expect("Mobile number")
    child.sendline(PHONE)
    child.expect("138\\*\\*\\*\\*8000")
    child.expect("SMS code")
    code = inbox_code()
    child.sendline("000000" if code != "000000" else "111111")
    child.expect("4 tries left")
    child.expect("SMS code")
    child.sendline(code)
    child.expect("Set a 6-digit payment password")
    child.sendline("123456")
    child.expect("too easy")
    child.expect("Set a 6-digit payment password")
    child.sendline(PASSWORD)
    child.expect("again")
    child.sendline("147259")
    child.expect("differ")
    child.expect("Set a 6-digit payment password")
    child.sendline(PASSWORD)
    child.expect("again")
    child.sendline(PASSWORD)
    child.expect("Bound 招商银行 储蓄卡 \\(3456\\)")
    rest = finish(child)
    assert child.exitstatus == 0, rest
    # Hidden input: neither the number nor the password was echoed.
    whole = "".join(transcript) + rest
    assert CMB_DEBIT not in whole and "6225 8800 0012 3457" not in whole
    assert PASSWORD not in whole
    cards = Cli().json("cards", "list")
    assert [c["display"] for c in cards] == ["招商银行 储蓄卡 (3456)"]
    # The password works for payments.
    from wxshop_cli import config
    from wxshop_cli.core.paypassword import verify_pay_password
    from wxshop_cli.db import engine

    config.activate(config.Settings())
    verify_pay_password(engine.database(), "me", PASSWORD, config.current().clock.now())
    engine.forget()


def test_a_credit_card_asks_expiry_and_a_hidden_security_code_and_a_second_card_no_password():
    cli = Cli()  # the first card in-process: only the second one is under test
    binding = cli.json("--now", NOW, "bind-card", "--number", TEST_DEBIT, "--holder",
                       HOLDER_A, "--id-number", ID_A, "--phone", PHONE)["binding_id"]
    cli.json("--now", NOW, "bind-card", "confirm", binding, "--code", inbox_code(),
             env={"WXSHOP_PAY_PASSWORD": PASSWORD})

    child = spawn("bind-card", "--holder", HOLDER_A, "--id-number", ID_A, "--phone", PHONE,
                  "--default")
    child.expect("Card number")
    child.sendline(CMB_CREDIT)
    child.expect("招商银行 信用卡")
    child.expect("Expiry")
    child.sendline("10/13")
    child.expect("expired")
    child.expect("Expiry")
    child.sendline("12/15")
    child.expect("Security code")
    child.sendline("739")
    child.expect("SMS code")
    child.sendline(inbox_code())
    child.expect("Bound 招商银行 信用卡 \\(3451\\) \\(default card\\)")
    rest = finish(child)
    assert child.exitstatus == 0, rest
    assert "739" not in rest and "password" not in rest.lower()


def test_a_literal_real_number_is_refused_on_a_terminal_too():
    child = spawn("bind-card", "--number", CMB_DEBIT)
    rest = finish(child)
    assert child.exitstatus == 3
    assert "not taken on the command line" in rest


def test_ctrl_c_interrupts_with_130_and_stores_nothing(wx_env):
    child = spawn("bind-card")
    child.expect("Card number")
    child.sendline(TEST_DEBIT)
    child.expect("Holder name")
    child.sendintr()
    finish(child)
    assert child.exitstatus == 130
    assert not (wx_env / "wxshop.db").exists()


def test_number_dash_on_a_terminal_reads_the_number_and_code_hidden():
    """`--number -` with stdin a terminal: the two-step flow, but the card number (and a
    credit card's security code) are read with echo off, never shown on the screen."""
    child = spawn("--json", "bind-card", "--number", "-", "--holder", HOLDER_A, "--id-number",
                  ID_A, "--phone", PHONE, "--expiry", "12/15")
    child.logfile_read = transcript = io.StringIO()  # everything the terminal showed
    child.expect("Card number \\(hidden\\)")
    child.sendline(CMB_CREDIT)
    child.expect("Security code \\(3 digits, hidden\\)")
    child.sendline("739")
    finish(child)
    shown = transcript.getvalue()
    assert child.exitstatus == 0, shown
    assert "pending_sms" in shown
    assert CMB_CREDIT not in shown and "739" not in shown
    # The control: such a terminal does show what is typed at a plain prompt.
    child = spawn("bind-card", "--number", TEST_DEBIT)
    child.logfile_read = transcript = io.StringIO()
    child.expect("Holder name")
    child.sendline("王五")
    child.expect("Resident ID number")
    child.sendintr()
    finish(child)
    assert "王五" in transcript.getvalue()


def test_number_dash_on_a_terminal_with_nothing_typed_is_a_usage_error():
    child = spawn("bind-card", "--number", "-", "--holder", HOLDER_A, "--id-number", ID_A,
                  "--phone", PHONE)
    child.expect("Card number \\(hidden\\)")
    child.sendeof()
    rest = finish(child)
    assert child.exitstatus == 2
    assert "missing card number" in rest
