"""The secret key, keyed fingerprints, and file modes.

The key (32 random bytes) keys every fingerprint and password hash and never enters the
database. The database keeps only a key check value, so a command run with another key is
refused instead of silently failing every password (SPEC section 2).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from pathlib import Path

from wxshop_cli.errors import Conflict, WxError

KEY_BYTES = 32
_KEY_CHECK_LABEL = b"wxshop key check v1"


def ensure_private_dir(path: Path) -> None:
    """Create a directory 0700 if wxshop creates it; never chmod one it did not create."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        return
    os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask


def precreate_private_file(path: Path) -> None:
    """Create an empty file 0600 unless it exists (the SQLite file; -wal/-shm inherit it)."""
    ensure_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def load_or_create_key(path: Path) -> bytes:
    """Read the key, creating it with O_EXCL so that concurrent first runs agree on one key."""
    ensure_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return _read_key(path)
    try:
        os.write(fd, os.urandom(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    # A concurrent creator may not have written its bytes yet: wait briefly for them.
    deadline = time.monotonic() + 5
    while True:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise WxError(f"cannot read the secret key file {path}: {exc.strerror}",
                          slug="secret_key_unreadable") from None
        if len(data) == KEY_BYTES:
            return data
        if time.monotonic() > deadline:
            raise Conflict(f"the secret key file {path} is not a wxshop key",
                           slug="wrong_secret_key",
                           hint="it must hold exactly 32 bytes; restore the right file")
        time.sleep(0.02)


def key_check_value(key: bytes) -> str:
    return hmac.new(key, _KEY_CHECK_LABEL, hashlib.sha256).hexdigest()


def keyed_hash(key: bytes, purpose: str, value: str) -> str:
    """HMAC-SHA256 of a value under the secret key, separated by purpose (fingerprints of card
    numbers, identity names and ID numbers)."""
    message = purpose.encode() + b"\x00" + value.encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()
