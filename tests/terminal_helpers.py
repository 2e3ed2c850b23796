"""Driving wxshop on a pseudo-terminal (pexpect), for the tests of what a person sees."""

from __future__ import annotations

import os
import sys

import pytest

from tests import shop
from tests.conftest import REPO

pexpect = pytest.importorskip("pexpect")


def spawn(*args: str, without: tuple[str, ...] = ()):
    """`wxshop --now <the sale> ARGS` on a 120-column terminal without colour; `without`
    names environment variables the child must not see (e.g. WXSHOP_PAY_PASSWORD)."""
    env = {k: v for k, v in os.environ.items() if k not in without}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(NO_COLOR="1", TERM="dumb", COLUMNS="120")
    return pexpect.spawn(sys.executable, ["-m", "wxshop_cli", "--now", shop.DURING, *args],
                         env=env, encoding="utf-8", timeout=30, dimensions=(40, 120))


def finish(child) -> tuple[int, str]:
    """Wait for the end: (exit status, everything the terminal showed)."""
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus, child.before


def nut_shop() -> dict:
    """A live promotion of one item (三只松鼠 坚果礼盒, ¥79.20 of ¥99.00) and the buyer `me`
    with a card and an address: {"item", "buyer", "card", "address", …}."""
    db = shop.open_db()
    shop.product(db, "YX-2001", 9900, stock=100, title="三只松鼠 坚果礼盒")
    items = shop.promo(db, "double11", [{"sku": "YX-2001", "price_fen": 7920, "stock": 50}])
    return {"item": items["YX-2001"], **shop.shopper(db, "me")}
