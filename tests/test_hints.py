"""Every error of the cards, addresses, payment-password, inbox, catalog and promotion code
says what went wrong and what to do next: `error: <what went wrong> (<hint>)` (SPEC
section 3)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.binding_helpers import (
    CMB_CREDIT,
    CMB_DEBIT,
    HOLDER_A,
    ID_A,
    NOW,
    PHONE,
    TEST_DEBIT,
    bind,
    last_sms,
    start,
)
from tests.conftest import REPO

FILES = [
    *sorted(str(path.relative_to(REPO)) for path in (REPO / "wxshop_cli/core/cards").glob("*.py")),
    "wxshop_cli/core/addresses.py",
    "wxshop_cli/core/paypassword.py", "wxshop_cli/core/inbox.py",
    "wxshop_cli/core/identity.py", "wxshop_cli/core/cardnumber.py",
    "wxshop_cli/core/catalog.py", *sorted(
        str(path.relative_to(REPO)) for path in (REPO / "wxshop_cli/core/promos").glob("*.py")),
    "wxshop_cli/core/promofile.py",
    "wxshop_cli/core/text.py", "wxshop_cli/commands/bind.py", "wxshop_cli/commands/cards.py",
    "wxshop_cli/commands/address.py",
    "wxshop_cli/commands/inbox.py", "wxshop_cli/commands/product.py",
    "wxshop_cli/commands/promo.py", "wxshop_cli/tables.py",
    "wxshop_cli/core/fixture_ops/cards.py", "wxshop_cli/core/fixture_ops/catalog.py",
]
ERRORS = {"WxError", "UsageError", "InvalidInput", "NotFound", "Conflict", "PaymentRefused",
          "SoldOut", "TryAgain"}


def _errors_without_hint(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    missing = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in ERRORS):
            continue
        hints = [k.value for k in node.keywords if k.arg == "hint"]
        message = node.args[0] if node.args else None
        if (not hints or (isinstance(hints[0], ast.Constant) and not hints[0].value)
                or (message is not None and ast.dump(hints[0]) == ast.dump(message))):
            missing.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return missing


def test_every_error_raised_in_these_modules_has_a_hint():
    missing = [where for name in FILES for where in _errors_without_hint(REPO / name)]
    assert missing == []


# (arguments, stdin, exit code) — each fails for its own reason.
CASES = [
    (["bind-card", "--number", "-", "--holder", HOLDER_A, "--id-number", ID_A, "--phone",
      PHONE], "6225880000123457\n", 3),
    (["bind-card", "--number", CMB_DEBIT, "--holder", HOLDER_A, "--id-number", ID_A,
      "--phone", PHONE], "", 3),
    (["bind-card", "--number", "-", "--holder", "张\u200b三", "--id-number", ID_A, "--phone",
      PHONE], CMB_DEBIT + "\n", 3),
    (["bind-card", "--number", "-", "--holder", HOLDER_A, "--id-number", "110105194912310021",
      "--phone", PHONE], CMB_DEBIT + "\n", 3),
    (["bind-card", "--number", "-", "--holder", HOLDER_A, "--id-number", ID_A, "--phone",
      "02164281234"], CMB_DEBIT + "\n", 3),
    (["bind-card", "--number", "-", "--holder", HOLDER_A, "--id-number", ID_A, "--phone",
      PHONE, "--expiry", "13/30"], CMB_CREDIT + "\n123\n", 3),
    (["bind-card", "--number", "-", "--holder", HOLDER_A, "--id-number", ID_A, "--phone",
      PHONE, "--expiry", "12/30"], CMB_CREDIT + "\n12\n", 3),
    (["bind-card", "--number", "-", "--holder", HOLDER_A, "--id-number", ID_A, "--phone",
      PHONE, "--cvn", "123"], CMB_DEBIT + "\n", 3),
    (["bind-card", "--number", "-", "--holder", HOLDER_A, "--id-number", ID_A, "--phone",
      PHONE], "", 2),
    (["bind-card", "confirm", "bind_nope", "--code", "12345"], "", 3),
    (["bind-card", "confirm", "bind_nope", "--code", "123456"], "", 4),
    (["cards", "show", "card_nope"], "", 4),
    (["cards", "unbind", "card_nope"], "", 4),
    (["address", "add", "--region", "310000", "--city", "上海\u200b市", "--street", "x",
      "--contact", "张三", "--phone", PHONE], "", 3),
    (["address", "add", "--region", "310000", "--city", "上海市", "--street", "x" * 201,
      "--contact", "张三", "--phone", PHONE], "", 3),
    (["address", "remove", "addr_nope"], "", 4),
    (["product", "add", "--sku", "A", "--title", "two\nlines", "--price", "1", "--stock",
      "1"], "", 3),
    (["product", "add", "--sku", "A", "--title", "T", "--price", "1", "--stock", "１"], "", 3),
    (["product", "add", "--sku", "A", "--title", "T", "--price", "1", "--stock", "-1"], "", 3),
    (["product", "add", "--sku", "A", "--title", "T", "--price", "1", "--stock", "1",
      "--image-url", "ftp://x"], "", 3),
    (["product", "show", "NOPE"], "", 4),
    (["promo", "create", "--code", "-x", "--title", "T", "--starts", "2013-11-11",
      "--ends", "2013-11-12"], "", 3),
    (["promo", "create", "--code", "x", "--title", "T", "--starts", "2013-11-12",
      "--ends", "2013-11-11"], "", 3),
    (["promo", "add-item", "nope", "--sku", "A", "--price", "1", "--stock", "1"], "", 4),
    (["promo", "add-item", "nope", "--sku", "A", "--stock", "1"], "", 2),
    (["promo", "add-item", "nope", "--sku", "A", "--percent-off", "100", "--stock", "1"], "",
     3),
    (["promo", "publish", "-"], "code = 'x'\n", 3),
    (["promo", "publish", "-"], "", 2),
    (["promo", "publish", "no/such/file.toml"], "", 4),
    (["promo", "show", "nope"], "", 4),
]


@pytest.mark.parametrize(("args", "stdin", "code"), CASES,
                         ids=[" ".join(a[:3]) + f" -> {c}" for a, _, c in CASES])
def test_each_error_says_what_to_do_next(cli, args, stdin, code):
    error = cli.fails(code, "--now", NOW, *args, input=stdin)
    assert error.get("hint"), error
    assert error["hint"] not in error["message"], error
    result = cli("--now", NOW, *args, input=stdin)
    line = result.stderr.strip().splitlines()[-1]
    assert line == f"error: {error['message']} ({error['hint']})"


def test_errors_after_binding_have_hints_too(cli):
    card = bind(cli, TEST_DEBIT)
    cli.json("cards", "unbind", card["id"])
    for verb in ("unbind", "default"):
        error = cli.fails(5, "cards", verb, card["id"])
        assert error["code"] == "card_unbound"
        assert error["hint"] and error["hint"] not in error["message"]
    pending = start(cli, TEST_DEBIT)
    code = last_sms(cli)["code"]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    error = cli.fails(3, "--now", NOW, "bind-card", "confirm", pending["binding_id"], "--code",
                      wrong)
    assert error["code"] == "wrong_sms_code" and error["hint"]
    error = cli.fails(3, "--now", "2013-11-11T09:00:00+08:00", "bind-card", "confirm",
                      pending["binding_id"], "--code", code)
    assert error["code"] == "sms_code_not_yet_valid" and error["hint"]
