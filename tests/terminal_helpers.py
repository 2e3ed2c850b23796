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
