"""The binding flow of SPEC section 5, without a terminal: two steps, every bad input, the
SMS code's life, one identity per buyer, conflicts, and what reaches the disk."""

from __future__ import annotations

import os
import stat

import pytest

from tests.binding_helpers import (
    CMB_CREDIT,
    CMB_DEBIT,
    HOLDER_A,
    HOLDER_B,
    ICBC_DEBIT_19,
    ID_A,
    ID_B,
    NOW,
    PASSWORD,
    PHONE,
    PHONE_B,
    TEST_CREDIT,
    TEST_DEBIT,
    TEST_DECLINE,
    TEST_VISA,
    bind,
    confirm,
    last_sms,
    query,
    snapshot,
    start,
)
from tests.conftest import TEST_SCRYPT_N


def test_two_step_binding_prints_the_pending_binding_then_the_card(cli, backend):
    pending = start(cli, CMB_DEBIT)
    assert set(pending) >= {"binding_id", "status", "phone_masked", "expires_at"}
    assert pending["binding_id"].startswith("bind_")
    assert pending["status"] == "pending_sms"
    assert pending["phone_masked"] == "138****8000"
    assert pending["expires_at"] == "2013-11-11T10:05:00+08:00"
    assert pending["display"] == "招商银行 储蓄卡 (3456)"

    sms = last_sms(cli)
    assert sms["kind"] == "sms" and len(sms["code"]) == 6 and sms["code"].isdigit()
    assert sms["code"] in sms["text"] and "3456" in sms["text"]

    card = confirm(cli, pending["binding_id"], sms["code"])
    assert card["id"].startswith("card_")
    assert {k: card[k] for k in ("brand", "bank", "bank_code", "card_type", "first6", "last4",
                                 "masked_number", "is_default", "display", "status")} == {
        "brand": "unionpay", "bank": "招商银行", "bank_code": "CMB_DEBIT",
        "card_type": "debit", "first6": "622588", "last4": "3456",
        "masked_number": "6225 **** **** 3456", "is_default": True,
        "display": "招商银行 储蓄卡 (3456)", "status": "bound"}
    assert card["holder_masked"] == "*三" and card["phone_masked"] == "138****8000"
    assert card["is_test"] is False
    assert cli.json("cards", "list") == [card]
    # The gateway learned the card under the same token, with the BIN row's limits.
    rows = query("SELECT behaviour, bank_code, single_limit_fen, daily_limit_fen FROM gw_card "
                 "WHERE token = :t", t=card["id"])
    assert [tuple(r) for r in rows] == [("approve", "CMB_DEBIT", 500000, 2000000)]


def test_the_gateway_records_a_test_cards_behaviour(cli, backend):
    card = bind(cli, TEST_DECLINE)
    rows = query("SELECT behaviour FROM gw_card WHERE token = :t", t=card["id"])
    assert [r[0] for r in rows] == ["decline"]


def test_a_pipe_gets_the_pending_binding_as_tsv_and_a_hint_on_stderr(cli):
    result = cli("--now", NOW, "bind-card", "--number", "-", "--holder", HOLDER_A,
                 "--id-number", ID_A, "--phone", PHONE, input=CMB_DEBIT + "\n")
    assert result.exit_code == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header == "binding_id\tstatus\tcard\tphone\texpires_at"
    assert row.split("\t")[1:] == ["pending_sms", "招商银行 储蓄卡 (3456)", "138****8000",
                                   "2013-11-11 10:05:00"]
    assert "bind-card confirm bind_" in result.stderr


def test_test_cards_may_be_literal_arguments(cli):
    pending = start(cli, TEST_DEBIT, stdin=False)
    assert pending["display"] == "中国工商银行 储蓄卡 (0000)"


def test_credit_cards_read_the_security_code_from_the_next_stdin_line(cli, backend):
    card = bind(cli, CMB_CREDIT, extra=("--expiry", "12/15"), input=f"{CMB_CREDIT}\n123\n")
    assert (card["card_type"], card["bank_code"]) == ("credit", "CMB_CREDIT")
    # A literal test credit card with --cvn - reads the code alone from stdin.
    pending = start(cli, TEST_CREDIT, stdin=False, extra=("--expiry", "11/13", "--cvn", "-"),
                    input="123\n")
    assert pending["display"] == "招商银行 信用卡 (0006)"
    pending = start(cli, TEST_VISA, stdin=False, extra=("--expiry", "01/20", "--cvn", "-"),
                    input="999\n")
    assert pending["brand"] == "visa"


def test_a_debit_card_needs_no_expiry_or_security_code_but_checks_those_given(cli):
    pending = start(cli, CMB_DEBIT, extra=("--expiry", "12/15", "--cvn", "-"),
                    input=f"{CMB_DEBIT}\n123\n")
    assert pending["status"] == "pending_sms"
    # Given, they are checked exactly as for a credit card (and then forgotten).
    base = ["--now", NOW, "bind-card", "--number", "-", "--holder", HOLDER_A, "--id-number",
            ID_A, "--phone", PHONE]
    for extra, stdin, slug in (
            (["--expiry", "13/30"], f"{CMB_DEBIT}\n", "invalid_expiry"),
            (["--expiry", "10/13"], f"{CMB_DEBIT}\n", "invalid_expiry"),
            (["--cvn", "-"], f"{CMB_DEBIT}\n12\n", "invalid_security_code")):
        error = cli.fails(3, *base, *extra, input=stdin)
        assert error["code"] == slug, extra
        assert error["hint"]
    assert cli.fails(2, *base, "--cvn", "-", input=f"{CMB_DEBIT}\n")["code"] == (
        "missing_value")


def test_a_literal_security_code_is_refused_for_every_card_but_the_test_cards(cli):
    """Whatever the card's type: the reviewer's debit card from stdin with `--cvn 123`."""
    base = ["bind-card", "--number", "-", "--holder", "周九", "--id-number",
            "110105198501010020", "--phone", "13700005555"]
    for number in ("6212267777777777778", CMB_DEBIT, CMB_CREDIT):
        error = cli.fails(3, *base, "--cvn", "123", "--expiry", "12/30",
                          input=number + "\n")
        assert error["code"] == "security_code_on_command_line", number
        assert "--cvn -" in error["hint"]
    # The sandbox's test cards may carry a literal code, debit or credit.
    assert start(cli, TEST_DEBIT, stdin=False, extra=("--cvn", "123"))["status"] == (
        "pending_sms")
    assert start(cli, TEST_CREDIT, stdin=False,
                 extra=("--expiry", "11/13", "--cvn", "123"))["status"] == "pending_sms"
    assert cli.fails(3, *base, "--cvn", "12", input=TEST_DEBIT + "\n")["code"] == (
        "invalid_security_code")


def test_spaces_and_dashes_in_the_number_are_fine(cli):
    pending = start(cli, CMB_DEBIT, input="6225 8800-0012 3456\n")
    assert pending["display"] == "招商银行 储蓄卡 (3456)"


# ---------------------------------------------------------------- bad input stores nothing

BAD_STEP_ONE = [
    # (what, number, stdin, extra options, exit code, slug)
    ("bad Luhn", "-", "6225880000123457\n", {}, 3, "invalid_card_number"),
    ("unknown bank", "-", "6200000000123450\n", {}, 3, "bank_not_supported"),
    ("wrong length", "-", "622202000012344\n", {}, 3, "invalid_card_number"),
    ("not digits", "-", "6225ABCD00123456\n", {}, 3, "invalid_card_number"),
    ("full-width digits", "-", "６２２５８８００００１２３４５６\n", {}, 3, "invalid_card_number"),
    ("Discover", "-", "6011000000000004\n", {}, 3, "brand_not_supported"),
    ("literal real number", CMB_DEBIT, "", {}, 3, "card_number_on_command_line"),
    ("bad ID checksum", "-", CMB_DEBIT + "\n", {"--id-number": "110105194912310021"}, 3,
     "invalid_id_number"),
    ("future birth date", "-", CMB_DEBIT + "\n", {"--id-number": "11010120200101001X"}, 3,
     "invalid_id_number"),
    ("landline", "-", CMB_DEBIT + "\n", {"--phone": "02164281234"}, 3, "invalid_mobile"),
    ("short mobile", "-", CMB_DEBIT + "\n", {"--phone": "1380013800"}, 3, "invalid_mobile"),
    ("empty holder", "-", CMB_DEBIT + "\n", {"--holder": "  "}, 3, "invalid_holder"),
    ("expired card", "-", CMB_CREDIT + "\n123\n", {"--expiry": "10/13"}, 3, "invalid_expiry"),
    ("bad expiry", "-", CMB_CREDIT + "\n123\n", {"--expiry": "13/20"}, 3, "invalid_expiry"),
    ("short security code", "-", CMB_CREDIT + "\n12\n", {"--expiry": "12/20"}, 3,
     "invalid_security_code"),
    ("literal real security code", "-", CMB_CREDIT + "\n", {"--expiry": "12/20",
                                                           "--cvn": "123"}, 3,
     "security_code_on_command_line"),
    ("literal security code, debit card", "-", CMB_DEBIT + "\n", {"--cvn": "123"}, 3,
     "security_code_on_command_line"),
    ("bad expiry, debit card", "-", CMB_DEBIT + "\n", {"--expiry": "13/30"}, 3,
     "invalid_expiry"),
    ("no number on stdin", "-", "", {}, 2, "missing_value"),
    ("credit without expiry", "-", CMB_CREDIT + "\n123\n", {}, 2, "missing_value"),
    ("credit without security code", "-", CMB_CREDIT + "\n", {"--expiry": "12/20"}, 2,
     "missing_value"),
]


@pytest.mark.parametrize(("what", "number", "stdin", "options", "exit_code", "slug"),
                         BAD_STEP_ONE, ids=[case[0] for case in BAD_STEP_ONE])
def test_bad_input_exits_with_one_line_and_stores_nothing(cli, what, number, stdin, options,
                                                          exit_code, slug):
    bind(cli, TEST_DEBIT)  # the buyer exists, with an identity, a card and a password
    before = snapshot()
    values = {"--holder": HOLDER_A, "--id-number": ID_A, "--phone": PHONE, **options}
    args = ["--now", NOW, "bind-card", "--number", number]
    for option, value in values.items():
        args += [option, value]
    error = cli.fails(exit_code, *args, input=stdin)
    assert error["code"] == slug
    if what == "future birth date":
        assert "future" in error["message"]
    # The human form: exactly one line on stderr, nothing on stdout.
    result = cli(*args, input=stdin)
    assert result.exit_code == exit_code
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert snapshot() == before
    # The refused number never shows up in what is printed.
    for text in (result.stderr, str(error)):
        assert CMB_DEBIT not in text and CMB_CREDIT not in text


def test_bad_input_for_a_new_buyer_creates_no_buyer_and_no_database(cli, wx_env):
    error = cli.fails(3, "--buyer", "newbie", "bind-card", "--number", "-", "--holder",
                      HOLDER_A, "--id-number", "110105194912310021", "--phone", PHONE,
                      input=CMB_DEBIT + "\n")
    assert error["code"] == "invalid_id_number"
    assert not (wx_env / "wxshop.db").exists()


def test_a_missing_number_without_a_terminal_is_a_usage_error(cli):
    error = cli.fails(2, "bind-card", "--holder", HOLDER_A, "--id-number", ID_A, "--phone",
                      PHONE)
    assert error["code"] == "missing_value"
    assert "--number -" in error["hint"]


def test_no_input_never_prompts(cli):
    result = cli("--no-input", "bind-card", "confirm", "bind_x")
    assert result.exit_code == 2
    assert "missing SMS code" in result.stderr


# ---------------------------------------------------------------- the SMS code


def test_the_sms_code_is_valid_for_5_minutes(cli, backend):
    pending = start(cli, CMB_DEBIT)
    code = last_sms(cli)["code"]
    error = confirm(cli, pending["binding_id"], code, now="2013-11-11T10:05:00+08:00",
                    exit_code=3)
    assert error["code"] == "sms_code_expired"
    # Start again: 4:59 later the code still works.
    pending = start(cli, CMB_DEBIT)
    code = last_sms(cli)["code"]
    card = confirm(cli, pending["binding_id"], code, now="2013-11-11T10:04:59+08:00")
    assert card["status"] == "bound"


def test_the_sms_code_is_not_valid_before_it_was_sent(cli, backend):
    """The window is half-open, [sent, sent + 5 min): a confirmation dated before the code
    was sent is refused, and uses no try."""
    pending = start(cli, CMB_DEBIT)  # sent at 10:00
    code = last_sms(cli)["code"]
    for early in ("2013-11-11T09:00:00+08:00", "2013-11-11T09:59:59+08:00"):
        error = confirm(cli, pending["binding_id"], code, now=early, exit_code=3)
        assert error["code"] == "sms_code_not_yet_valid"
        assert "2013-11-11 10:00:00" in error["message"] and "--now" in error["hint"]
    assert query("SELECT attempts, status FROM card_binding")[0] == (0, "pending_sms")
    assert cli.json("cards", "list") == []
    # From the moment it was sent, it works.
    assert confirm(cli, pending["binding_id"], code, now=NOW)["status"] == "bound"


def test_five_wrong_codes_cancel_the_binding(cli, backend):
    pending = start(cli, CMB_DEBIT)
    code = last_sms(cli)["code"]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1):
        error = confirm(cli, pending["binding_id"], wrong, exit_code=3)
        assert (error["code"], error["tries_left"]) == ("wrong_sms_code", left)
    error = confirm(cli, pending["binding_id"], wrong, exit_code=3)
    assert (error["code"], error["tries_left"]) == ("wrong_sms_code", 0)
    assert "cancelled" in error["message"]
    error = confirm(cli, pending["binding_id"], code, exit_code=5)
    assert error["code"] == "binding_cancelled"
    assert cli.json("cards", "list") == []
    # Starting again works.
    assert bind(cli, CMB_DEBIT)["status"] == "bound"


def test_a_malformed_code_is_refused_without_using_a_try(cli):
    pending = start(cli, CMB_DEBIT)
    for bad in ("12345", "abcdef", "１２３４５６"):
        error = confirm(cli, pending["binding_id"], bad, exit_code=3)
        assert error["code"] == "invalid_sms_code"
    code = last_sms(cli)["code"]
    assert confirm(cli, pending["binding_id"], code)["status"] == "bound"


def test_a_binding_confirms_once(cli):
    pending = start(cli, CMB_DEBIT)
    code = last_sms(cli)["code"]
    card = confirm(cli, pending["binding_id"], code)
    error = confirm(cli, pending["binding_id"], code, exit_code=5)
    assert error["code"] == "binding_already_confirmed"
    assert error["card_id"] == card["id"]


def test_another_buyers_binding_is_not_found(cli):
    pending = start(cli, CMB_DEBIT)
    code = last_sms(cli)["code"]
    error = confirm(cli, pending["binding_id"], code, buyer="mallory", exit_code=4)
    assert error["code"] == "binding_not_found"
    error = confirm(cli, "bind_nope", code, exit_code=4)
    assert error["code"] == "binding_not_found"


def test_starting_again_cancels_the_earlier_pending_binding_of_that_card(cli):
    first = start(cli, CMB_DEBIT)
    first_code = last_sms(cli)["code"]
    second = start(cli, CMB_DEBIT)
    second_code = last_sms(cli)["code"]
    assert confirm(cli, first["binding_id"], first_code, exit_code=5)["code"] == (
        "binding_cancelled")
    assert confirm(cli, second["binding_id"], second_code)["status"] == "bound"


# ---------------------------------------------------------------- the payment password


@pytest.mark.parametrize(("password", "slug"), [
    ("123456", "weak_password"), ("654321", "weak_password"), ("000000", "weak_password"),
    ("888888", "weak_password"), ("345678", "weak_password"), ("12345", "invalid_password"),
    ("1234567", "invalid_password"), ("12a456", "invalid_password"),
])
def test_weak_or_malformed_first_passwords_are_refused(cli, password, slug):
    pending = start(cli, CMB_DEBIT)
    code = last_sms(cli)["code"]
    before = snapshot()
    error = confirm(cli, pending["binding_id"], code, password=password, exit_code=3)
    assert error["code"] == slug
    assert password not in str(error)
    assert snapshot() == before  # not even an SMS try was used
    assert confirm(cli, pending["binding_id"], code)["status"] == "bound"


def test_the_first_card_without_a_password_is_a_usage_error(cli):
    pending = start(cli, CMB_DEBIT)
    code = last_sms(cli)["code"]
    before = snapshot()
    error = confirm(cli, pending["binding_id"], code, password=None, exit_code=2)
    assert error["code"] == "missing_value"
    assert "WXSHOP_PAY_PASSWORD" in error["hint"]
    assert snapshot() == before


def test_later_cards_need_no_password_and_keep_the_first(cli):
    bind(cli, TEST_DEBIT)
    pending = start(cli, CMB_DEBIT)
    card = confirm(cli, pending["binding_id"], last_sms(cli)["code"], password=None)
    assert card["is_default"] is False
    hashes = query("SELECT pay_password_hash FROM buyer WHERE name = 'me'")
    assert hashes[0][0].startswith(f"scrypt${TEST_SCRYPT_N}$8$1$")


# ---------------------------------------------------------------- identity and conflicts


def test_every_card_of_a_buyer_carries_one_identity(cli, backend):
    bind(cli, TEST_DEBIT)
    for holder, id_number in ((HOLDER_B, ID_B), (HOLDER_A, ID_B), (HOLDER_B, ID_A)):
        before = snapshot()
        error = cli.fails(3, "--now", NOW, "bind-card", "--number", "-", "--holder", holder,
                          "--id-number", id_number, "--phone", PHONE, input=CMB_DEBIT + "\n")
        assert error["code"] == "identity_mismatch"
        assert error["message"] == "identity differs from the buyer's"
        assert snapshot() == before
    # Spacing and a lowercase x do not make another identity.
    card = bind(cli, CMB_DEBIT, holder=f" {HOLDER_A} ", id_number=ID_A.lower())
    assert card["status"] == "bound"


def test_the_same_card_twice_is_a_conflict_until_unbound(cli, backend):
    card = bind(cli, CMB_DEBIT)
    before = snapshot()
    error = cli.fails(5, "--now", NOW, "bind-card", "--number", "-", "--holder", HOLDER_A,
                      "--id-number", ID_A, "--phone", PHONE, input=CMB_DEBIT + "\n")
    assert error["code"] == "card_already_bound"
    assert error["card_id"] == card["id"]
    assert snapshot() == before
    cli.json("cards", "unbind", card["id"])
    again = bind(cli, CMB_DEBIT)
    assert again["id"] != card["id"] and again["is_default"] is True
    listed = cli.json("cards", "list", "--all")
    assert [(c["id"], c["status"]) for c in listed] == [(again["id"], "bound"),
                                                       (card["id"], "unbound")]


def test_form_is_checked_before_the_conflict(cli):
    bind(cli, CMB_DEBIT)
    error = cli.fails(3, "--now", NOW, "bind-card", "--number", "-", "--holder", HOLDER_A,
                      "--id-number", ID_A, "--phone", "123", input=CMB_DEBIT + "\n")
    assert error["code"] == "invalid_mobile"


def test_a_card_of_another_identity_is_refused_except_test_cards(cli, backend):
    bind(cli, CMB_DEBIT, buyer="alice")
    bind(cli, TEST_DEBIT, buyer="alice")
    # Bob is someone else: the real card is refused, the test card is fine.
    bind(cli, TEST_DEBIT, buyer="bob", holder=HOLDER_B, id_number=ID_B, phone=PHONE_B)
    error = cli.fails(5, "--buyer", "bob", "--now", NOW, "bind-card", "--number", "-",
                      "--holder", HOLDER_B, "--id-number", ID_B, "--phone", PHONE_B,
                      input=CMB_DEBIT + "\n")
    assert error["code"] == "card_bound_elsewhere"
    # A brand-new buyer with no identity yet is refused too (the card is someone else's).
    error = cli.fails(5, "--buyer", "carol", "--now", NOW, "bind-card", "--number", "-",
                      "--holder", HOLDER_B, "--id-number", ID_B, "--phone", PHONE_B,
                      input=CMB_DEBIT + "\n")
    assert error["code"] == "card_bound_elsewhere"
    # The same person under a second buyer name may bind it.
    assert bind(cli, CMB_DEBIT, buyer="alice2")["status"] == "bound"


def test_a_conflict_that_appears_after_step_one_is_caught_at_confirmation(cli):
    first = start(cli, CMB_DEBIT, buyer="alice")
    first_code = last_sms(cli, "alice")["code"]
    second = start(cli, CMB_DEBIT, buyer="bob", holder=HOLDER_B, id_number=ID_B)
    second_code = last_sms(cli, "bob")["code"]
    confirm(cli, first["binding_id"], first_code, buyer="alice")
    error = confirm(cli, second["binding_id"], second_code, buyer="bob", exit_code=5)
    assert error["code"] == "card_bound_elsewhere"
    assert cli.json("--buyer", "bob", "cards", "list") == []


def test_default_option_makes_the_new_card_the_default(cli):
    first = bind(cli, TEST_DEBIT)
    second = bind(cli, CMB_DEBIT, extra=("--default",))
    assert second["is_default"] is True
    listed = {c["id"]: c["is_default"] for c in cli.json("cards", "list")}
    assert listed == {first["id"]: False, second["id"]: True}


# ---------------------------------------------------------------- what reaches the disk


def test_no_card_number_id_number_mobile_or_password_reaches_the_disk(cli, wx_env):
    secrets_ = [CMB_DEBIT, CMB_CREDIT, ICBC_DEBIT_19, ID_A, PHONE, PASSWORD, "12/15"]
    bind(cli, CMB_DEBIT)
    bind(cli, CMB_CREDIT, extra=("--expiry", "12/15"), input=f"{CMB_CREDIT}\n739\n")
    pending = start(cli, ICBC_DEBIT_19)
    confirm(cli, pending["binding_id"], last_sms(cli)["code"])
    # A failed attempt and a password check go through the same tables.
    cli.fails(5, "--now", NOW, "bind-card", "--number", "-", "--holder", HOLDER_A,
              "--id-number", ID_A, "--phone", PHONE, input=CMB_DEBIT + "\n")
    files = [p for p in wx_env.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"wxshop.db", "secret.key"} <= names
    for path in files:
        data = path.read_bytes()
        for secret in secrets_:
            for encoded in (secret.encode(), secret.encode("utf-16-le")):
                assert encoded not in data, (path.name, secret)
        # Nor the number in the spaced form a person types.
        assert b"6225 8800" not in data
    for name in ("wxshop.db", "secret.key", "wxshop.db-wal", "wxshop.db-shm"):
        path = wx_env / name
        if path.exists():
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, name
    assert stat.S_IMODE(os.stat(wx_env).st_mode) == 0o700
