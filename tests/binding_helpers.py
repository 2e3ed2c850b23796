"""Shared values and steps for the card, binding, address and inbox tests."""

from __future__ import annotations

from typing import Any

from tests.shop import snapshot  # noqa: F401  (binding tests import it from here)

NOW = "2013-11-11T10:00:00+08:00"

# Sandbox test cards (may be literal arguments).
TEST_DEBIT = "6222020000000000000"  # 中国工商银行 储蓄卡
TEST_CREDIT = "6258000000000006"  # 招商银行 信用卡
TEST_VISA = "4111111111111111"
TEST_DECLINE = "6222020000000004002"

# Real-looking cards (Luhn-valid, in the BIN table): only through stdin or a prompt.
CMB_DEBIT = "6225880000123456"
CMB_CREDIT = "6225750000123451"
ICBC_DEBIT_19 = "6222020000123456782"

# Two identities.
HOLDER_A, ID_A = "张三", "11010519491231002X"
HOLDER_B, ID_B = "李四", "440304198807070019"
PHONE = "13800138000"
PHONE_B = "13912345678"
PASSWORD = "147258"

TABLES = ("buyer", "card", "card_binding", "inbox_message", "gw_card", "address")


def start(cli: Any, number: str = TEST_DEBIT, *, holder: str = HOLDER_A, id_number: str = ID_A,
          phone: str = PHONE, buyer: str | None = None, now: str = NOW,
          extra: tuple[str, ...] = (), stdin: bool = True, input: str | None = None,
          env: dict[str, str] | None = None) -> dict[str, Any]:
    """Step one without a terminal; returns the pending binding."""
    args = ["--now", now]
    if buyer:
        args += ["--buyer", buyer]
    args += ["bind-card", "--number", "-" if stdin else number, "--holder", holder,
             "--id-number", id_number, "--phone", phone, *extra]
    if input is None:
        input = number + "\n" if stdin else ""
    return cli.json(*args, input=input, env=env)


def last_sms(cli: Any, buyer: str | None = None) -> dict[str, Any]:
    """The newest SMS in the buyer's inbox."""
    args = ["--buyer", buyer] if buyer else []
    messages = cli.json(*args, "inbox", "--all")
    return next(m for m in messages if m["kind"] == "sms")


def confirm(cli: Any, binding_id: str, code: str, *, buyer: str | None = None,
            now: str = NOW, password: str | None = PASSWORD,
            exit_code: int = 0) -> dict[str, Any]:
    args = ["--now", now] + (["--buyer", buyer] if buyer else [])
    env = {"WXSHOP_PAY_PASSWORD": password} if password else None
    if exit_code:
        return cli.fails(exit_code, *args, "bind-card", "confirm", binding_id, "--code", code,
                         env=env)
    return cli.json(*args, "bind-card", "confirm", binding_id, "--code", code, env=env)


def bind(cli: Any, number: str = TEST_DEBIT, *, buyer: str | None = None,
         holder: str = HOLDER_A, id_number: str = ID_A, phone: str = PHONE,
         extra: tuple[str, ...] = (), input: str | None = None, now: str = NOW,
         password: str | None = PASSWORD) -> dict[str, Any]:
    """Both steps; returns the bound card."""
    pending = start(cli, number, holder=holder, id_number=id_number, phone=phone,
                    buyer=buyer, extra=extra, input=input, now=now)
    code = last_sms(cli, buyer)["code"]
    return confirm(cli, pending["binding_id"], code, buyer=buyer, now=now, password=password)




def query(sql: str, **params: Any) -> list[Any]:
    from sqlalchemy import text

    from wxshop_cli import config
    from wxshop_cli.db import engine

    config.activate(config.Settings())
    db = engine.database()
    with db.engine.connect() as conn:
        rows = conn.execute(text(sql), params).all()
    engine.forget()
    return rows
