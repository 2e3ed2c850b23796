"""The 6-digit payment password (SPEC section 5): hashing, verification, the lock.

Stored form: `scrypt$N$r$p$SALT$HASH` (base64 salt and hash). scrypt runs over
HMAC-SHA256(secret key, password), so a stolen database without the key file cannot be
brute-forced offline even though the password has only a million values. The cost N comes from
`WXSHOP_SCRYPT_N` (tests set a cheap one) and is stored with each hash, so changing the
setting never breaks a stored password; a right password stored at another cost is hashed
again at the current one. There is no code path that skips hashing.

Why N = 2**12 (4 MiB, ~10 ms) and not more (docs/decisions.md): the keyed HMAC is what keeps
a 6-digit password safe offline, and the 5-try lock online. If the key leaks too, a million
candidates fall in hours of one core at any cost a purchase can afford (2**15 only makes it
8 times longer), so a higher N buys nothing that matters and costs every `buy` 100 ms.

Five wrong tries lock payments for 3 hours. The counter and the lock live in the buyer row and
are written in their own short transaction, so a failed purchase still counts.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import secrets
from typing import TYPE_CHECKING, Any

from wxshop_cli.errors import Conflict, InvalidInput, PaymentRefused, UsageError

if TYPE_CHECKING:
    from sqlmodel import Session

    from wxshop_cli.db.engine import Database

ENV_PASSWORD = "WXSHOP_PAY_PASSWORD"
ENV_SCRYPT_N = "WXSHOP_SCRYPT_N"
DEFAULT_SCRYPT_N = 2**12
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32

MAX_TRIES = 5
LOCK_DURATION = dt.timedelta(hours=3)

_PURPOSE = b"wxshop pay password v1\x00"


# ---------------------------------------------------------------- hashing


def scrypt_n() -> int:
    """The cost for new hashes: `WXSHOP_SCRYPT_N` (a power of two, at least 2) or 2**12."""
    raw = os.environ.get(ENV_SCRYPT_N) or ""
    if not raw:
        return DEFAULT_SCRYPT_N
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 2 or value & (value - 1) or value > 2**22:
        raise UsageError(f"{ENV_SCRYPT_N} must be a power of two from 2 to 4194304",
                         slug="invalid_scrypt_cost",
                         hint=f"e.g. {ENV_SCRYPT_N}=32768, or unset it for the default")
    return value


def _scrypt(key: bytes, password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    pre = hmac.new(key, _PURPOSE + password.encode("utf-8"), hashlib.sha256).digest()
    if not (2 <= n <= 2**22 and 1 <= r <= 32 and 1 <= p <= 16):
        raise ValueError("scrypt parameters out of range")
    return hashlib.scrypt(pre, salt=salt, n=n, r=r, p=p, dklen=HASH_BYTES,
                          maxmem=256 * r * n * p + 2**20)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(key: bytes, password: str, *, n: int | None = None) -> str:
    """A new salted hash in the stored form `scrypt$N$r$p$SALT$HASH`."""
    cost = n or scrypt_n()
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(key, password, salt, cost, SCRYPT_R, SCRYPT_P)
    return f"scrypt${cost}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def password_matches(key: bytes, password: str, stored: str) -> bool:
    """Compare in constant time with the parameters stored in the hash."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(key, password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _cost(stored: str) -> int | None:
    """The N a stored hash was made with (None if unreadable)."""
    parts = stored.split("$")
    return int(parts[1]) if len(parts) == 6 and parts[1].isdigit() else None


# ---------------------------------------------------------------- its form

# Reading it (the hidden prompt, typed twice) is the terminal's: wxshop_cli/terminal.py.


def check_form(password: str) -> str:
    """A typed password is 6 ASCII digits; nothing else can ever be right."""
    if len(password) != 6 or not (password.isascii() and password.isdigit()):
        from wxshop_cli.core.identity import PASSWORD_HINT

        raise InvalidInput("payment password must be exactly 6 digits",
                           slug="invalid_password", hint=PASSWORD_HINT)
    return password


def env_password() -> str | None:
    value = os.environ.get(ENV_PASSWORD)
    return value if value else None


# ---------------------------------------------------------------- the database side


def set_new_password(buyer: Any, password_hash: str) -> None:
    """Give a buyer its first payment password (a hash from `hash_password`)."""
    buyer.pay_password_hash = password_hash
    buyer.pay_failures = 0
    buyer.pay_locked_until = None


def _locked_error(until: dt.datetime) -> PaymentRefused:
    from wxshop_cli.clock import human, iso
    from wxshop_cli.config import current

    tz = current().tz
    return PaymentRefused(
        f"payments are locked until {human(until, tz)} after {MAX_TRIES} wrong "
        "payment passwords", slug="password_locked",
        hint="try again after the lock ends; the right password then pays at once",
        locked_until=iso(until, tz))


def verify_pay_password(db: Database, buyer_name: str, password: str | None,
                        now: dt.datetime) -> None:
    """Check the buyer's payment password before a purchase.

    Raises UsageError (2) when `password` is None, InvalidInput (3, `invalid_password`) when it
    is not 6 digits, Conflict (5, `pay_password_not_set`) when the buyer has none yet,
    PaymentRefused (6) `password_locked` while locked and `wrong_password` (with the tries
    left) otherwise. A wrong try is committed in its own transaction; the fifth locks payments
    for 3 hours. A right one resets the counter."""
    from wxshop_cli.clock import as_utc
    from wxshop_cli.core.buyers import find_buyer

    if password is None:
        raise UsageError("missing payment password", slug="missing_value",
                         hint=f"set {ENV_PASSWORD} or run on a terminal")
    check_form(password)
    with db.transaction(read_only=True) as session:
        buyer = find_buyer(session, buyer_name)
        if buyer is None or buyer.pay_password_hash is None:
            raise Conflict(f"buyer {buyer_name!r} has no payment password yet",
                           slug="pay_password_not_set",
                           hint="bind a card first: the first card sets it (wxshop bind-card)")
        buyer_id, stored = buyer.id, buyer.pay_password_hash
        locked_until = buyer.pay_locked_until
        failures = buyer.pay_failures
    if locked_until is not None and now < as_utc(locked_until):
        raise _locked_error(as_utc(locked_until))
    # scrypt runs outside any transaction: it is slow on purpose. Each try is then recorded
    # in its own short write transaction (a wrong one commits before its error is raised).
    if password_matches(db.key, password, stored):
        cost = scrypt_n()
        rehash = hash_password(db.key, password, n=cost) if _cost(stored) != cost else None
        if failures or locked_until is not None or rehash is not None:
            with db.transaction() as session:
                _right_try(session, buyer_id, stored, rehash)
        return
    with db.transaction() as session:
        error = _wrong_try(session, buyer_id, now)
    raise error


def _right_try(session: Session, buyer_id: int, stored: str, rehash: str | None) -> None:
    """A right password clears the count and the lock (and stores the hash at today's cost,
    unless the password changed meanwhile)."""
    from wxshop_cli.db.models import Buyer

    row = session.get_one(Buyer, buyer_id)
    row.pay_failures = 0
    row.pay_locked_until = None
    if rehash is not None and row.pay_password_hash == stored:
        row.pay_password_hash = rehash
    session.add(row)


def _wrong_try(session: Session, buyer_id: int, now: dt.datetime) -> PaymentRefused:
    """Count a wrong password; the error to raise once the count is committed (locked at
    the fifth, else the tries left)."""
    from wxshop_cli.clock import as_utc
    from wxshop_cli.db.models import Buyer

    row = session.get_one(Buyer, buyer_id, with_for_update=True)
    if row.pay_locked_until is not None and now < as_utc(row.pay_locked_until):
        return _locked_error(as_utc(row.pay_locked_until))
    # An ended lock starts a fresh count.
    count = (0 if row.pay_locked_until is not None else row.pay_failures) + 1
    locked = count >= MAX_TRIES
    until = now + LOCK_DURATION
    row.pay_failures = 0 if locked else count
    row.pay_locked_until = until if locked else None
    session.add(row)
    if locked:
        return _locked_error(until)
    left = MAX_TRIES - count
    return PaymentRefused(
        f"wrong payment password: {left} {'try' if left == 1 else 'tries'} left before "
        "payments lock for 3 hours", slug="wrong_password", tries_left=left,
        hint=f"the 6 digits set with the buyer's first card ({ENV_PASSWORD} in scripts)")
