"""The payment password (SPEC section 5): scrypt over an HMAC with stored parameters, the
verification the buy command calls, and the 5-tries / 3-hour lock kept in the database."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from tests.binding_helpers import NOW, PASSWORD, TEST_DEBIT, bind, query
from tests.conftest import TEST_SCRYPT_N
from wxshop_cli import terminal
from wxshop_cli.core import paypassword
from wxshop_cli.errors import Conflict, InvalidInput, PaymentRefused, UsageError

T0 = dt.datetime(2013, 11, 11, 2, 0, tzinfo=dt.UTC)


def test_the_hash_stores_its_parameters_and_depends_on_the_key():
    key, other = os.urandom(32), os.urandom(32)
    stored = paypassword.hash_password(key, "147258", n=1024)
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "1024", "8", "1")
    assert "147258" not in stored
    assert paypassword.password_matches(key, "147258", stored)
    assert not paypassword.password_matches(key, "147259", stored)
    assert not paypassword.password_matches(other, "147258", stored)  # keyed by the secret
    assert stored != paypassword.hash_password(key, "147258", n=1024)  # salted
    # Parameters come from the stored hash, not from today's setting.
    cheap = paypassword.hash_password(key, "147258", n=16)
    assert paypassword.password_matches(key, "147258", cheap)
    for broken in ("", "bcrypt$1$2$3$4$5", "scrypt$x$8$1$AA==$AA==", "scrypt$1024$8$1"):
        assert not paypassword.password_matches(key, "147258", broken)


def test_the_cost_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("WXSHOP_SCRYPT_N", "2048")
    assert paypassword.scrypt_n() == 2048
    monkeypatch.delenv("WXSHOP_SCRYPT_N")
    # A deliberate cost (docs/decisions.md): the keyed HMAC and the lock protect the password.
    assert paypassword.scrypt_n() == paypassword.DEFAULT_SCRYPT_N == 2**12
    for bad in ("1000", "abc", "1", "0", "-2"):
        monkeypatch.setenv("WXSHOP_SCRYPT_N", bad)
        with pytest.raises(UsageError):
            paypassword.scrypt_n()


def test_a_bad_scrypt_setting_is_a_usage_error_at_confirmation(cli):
    from tests.binding_helpers import confirm, last_sms, start

    pending = start(cli)
    code = last_sms(cli)["code"]
    error = cli.fails(2, "--now", NOW, "bind-card", "confirm", pending["binding_id"], "--code",
                      code, env={"WXSHOP_PAY_PASSWORD": PASSWORD, "WXSHOP_SCRYPT_N": "1000"})
    assert error["code"] == "invalid_scrypt_cost"
    assert confirm(cli, pending["binding_id"], code)["status"] == "bound"


def _db():
    from wxshop_cli import config
    from wxshop_cli.db import engine

    config.activate(config.Settings())
    return engine.database()


def _refused(db, password, now, buyer="me"):
    with pytest.raises(PaymentRefused) as caught:
        paypassword.verify_pay_password(db, buyer, password, now)
    return caught.value


def test_five_wrong_tries_lock_payments_for_three_hours(cli, backend):
    bind(cli, TEST_DEBIT)
    db = _db()
    paypassword.verify_pay_password(db, "me", PASSWORD, T0)
    for left in (4, 3, 2, 1):
        error = _refused(db, "000001", T0)
        assert (error.slug, error.extra["tries_left"]) == ("wrong_password", left)
        assert f"{left} tr" in error.message
    error = _refused(db, "000001", T0)
    assert error.slug == "password_locked"
    assert error.exit_code == 6
    assert error.hint
    # Locked: even the right password is refused, and nothing more is counted.
    assert _refused(db, PASSWORD, T0 + dt.timedelta(hours=2, minutes=59)).slug == (
        "password_locked")
    rows = query("SELECT pay_failures, pay_locked_until FROM buyer WHERE name = 'me'")
    assert rows[0][0] == 0 and rows[0][1] is not None
    # Three hours later the lock is gone and the right password works.
    paypassword.verify_pay_password(db, "me", PASSWORD, T0 + dt.timedelta(hours=3))
    rows = query("SELECT pay_failures, pay_locked_until FROM buyer WHERE name = 'me'")
    assert tuple(rows[0]) == (0, None)


def test_an_ended_lock_starts_a_fresh_count(cli):
    bind(cli, TEST_DEBIT)
    db = _db()
    for _ in range(5):
        _refused(db, "000001", T0)
    later = T0 + dt.timedelta(hours=3, seconds=1)
    assert _refused(db, "000001", later).extra["tries_left"] == 4


def test_a_right_password_resets_the_counter(cli, backend):
    bind(cli, TEST_DEBIT)
    db = _db()
    for _ in range(4):
        _refused(db, "000001", T0)
    paypassword.verify_pay_password(db, "me", PASSWORD, T0)
    assert _refused(db, "000001", T0).extra["tries_left"] == 4


def test_a_right_password_stored_at_another_cost_is_hashed_again(cli, backend, monkeypatch):
    bind(cli, TEST_DEBIT)  # at the tests' cost
    db = _db()
    before = query("SELECT pay_password_hash FROM buyer WHERE name = 'me'")[0][0]
    assert before.split("$")[1] == TEST_SCRYPT_N
    monkeypatch.setenv("WXSHOP_SCRYPT_N", "2048")
    _refused(db, "000001", T0)  # a wrong one changes nothing but the counter
    assert query("SELECT pay_password_hash FROM buyer WHERE name = 'me'")[0][0] == before
    paypassword.verify_pay_password(db, "me", PASSWORD, T0)
    after = query("SELECT pay_password_hash, pay_failures FROM buyer WHERE name = 'me'")[0]
    assert after[0].split("$")[1] == "2048" and after[1] == 0
    assert paypassword.password_matches(db.key, PASSWORD, after[0])
    assert not paypassword.password_matches(db.key, "000001", after[0])
    paypassword.verify_pay_password(db, "me", PASSWORD, T0)  # and it still pays


def test_no_password_yet_malformed_or_missing(cli):
    cli.json("db", "upgrade")
    db = _db()
    with pytest.raises(Conflict) as caught:
        paypassword.verify_pay_password(db, "nobody", PASSWORD, T0)
    assert caught.value.slug == "pay_password_not_set"
    assert "bind" in caught.value.hint
    with pytest.raises(InvalidInput):
        paypassword.verify_pay_password(db, "me", "12345", T0)
    with pytest.raises(UsageError):
        paypassword.verify_pay_password(db, "me", None, T0)
    assert query("SELECT count(*) FROM buyer")[0][0] == 0


def test_the_pay_password_comes_from_the_environment_or_refuses_without_a_terminal(
        monkeypatch):
    seen: list[str] = []
    monkeypatch.setenv("WXSHOP_PAY_PASSWORD", "147258")
    terminal.pay_password_checked(seen.append)
    assert seen == ["147258"]
    monkeypatch.setenv("WXSHOP_PAY_PASSWORD", "12345")
    with pytest.raises(InvalidInput):
        terminal.pay_password_checked(seen.append)
    monkeypatch.delenv("WXSHOP_PAY_PASSWORD")
    with pytest.raises(UsageError) as caught:  # pytest's stdin is not a terminal
        terminal.pay_password_checked(seen.append)
    assert "WXSHOP_PAY_PASSWORD" in caught.value.hint
    assert seen == ["147258"]  # a malformed or missing password is never verified
    monkeypatch.setenv("WXSHOP_PAY_PASSWORD", "111111")
    with pytest.raises(InvalidInput) as caught:
        terminal.read_new_pay_password()
    assert caught.value.slug == "weak_password"


def test_the_lock_through_the_buy_command(cli):
    """`wxshop buy` verifies the password before anything else: wrong tries lock it, and the
    lock ends 3 hours later (with --now)."""
    bind(cli, TEST_DEBIT)
    wrong = {"WXSHOP_PAY_PASSWORD": "000001"}
    for left in (4, 3, 2, 1):
        error = cli.fails(6, "--now", NOW, "buy", "NO-SUCH-SKU", env=wrong)
        assert (error["code"], error["tries_left"]) == ("wrong_password", left)
    locked = cli.fails(6, "--now", NOW, "buy", "NO-SUCH-SKU", env=wrong)
    assert locked["code"] == "password_locked"
    # Shown in WXSHOP_TZ like every other time (Beijing by default), not in UTC.
    assert locked["locked_until"] == "2013-11-11T13:00:00+08:00"
    in_utc = cli.fails(6, "--now", NOW, "buy", "NO-SUCH-SKU", env={**wrong, "WXSHOP_TZ": "UTC"})
    assert in_utc["locked_until"] == "2013-11-11T05:00:00+00:00"
    in_ny = cli.fails(6, "--now", NOW, "buy", "NO-SUCH-SKU",
                      env={**wrong, "WXSHOP_TZ": "America/New_York"})
    assert in_ny["locked_until"] == "2013-11-11T00:00:00-05:00"
    right = {"WXSHOP_PAY_PASSWORD": PASSWORD}
    error = cli.fails(6, "--now", "2013-11-11T12:59:59+08:00", "buy", "NO-SUCH-SKU", env=right)
    assert error["code"] == "password_locked"
    # After the lock the password passes and the buy fails later, for its own reason.
    result = cli("--json", "--now", "2013-11-11T13:00:00+08:00", "buy", "NO-SUCH-SKU",
                 env=right)
    assert result.exit_code not in (6, 0), result.stderr
    assert "password" not in result.stderr
