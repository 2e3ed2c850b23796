"""Build a small shop directly through the models, for checkout and reconciliation tests.

The card and promotion commands have their own tests; checkout tests only need the rows.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from wxshop_cli.config import Settings, activate
from wxshop_cli.core.paypassword import hash_password
from wxshop_cli.db.engine import database, forget
from wxshop_cli.db.models import (
    Address,
    Buyer,
    Card,
    Product,
    Promo,
    PromoItem,
    PromoRegion,
)
from wxshop_cli.db.types import new_id
from wxshop_cli.gateway import get_gateway

PASSWORD = "271828"
WINDOW_START = dt.datetime(2013, 11, 10, 16, 0, tzinfo=dt.UTC)  # 2013-11-11 00:00 Beijing
WINDOW_END = WINDOW_START + dt.timedelta(days=1)
DURING = "2013-11-11T10:00:00+08:00"
DURING_AT = dt.datetime(2013, 11, 11, 2, 0, tzinfo=dt.UTC)
PAY = {"WXSHOP_PAY_PASSWORD": PASSWORD}


# --------------------------------------------------------------- reading CLI results


def ok(result: Any, code: int = 0) -> Any:
    """The JSON a `--json` run printed on stdout, after checking its exit code."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    return json.loads(result.stdout)


def error(result: Any, code: int) -> dict[str, Any]:
    """The JSON error object of a failed `--json` run (stdout empty, last stderr line)."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == "", result.stdout
    return json.loads(result.stderr.strip().splitlines()[-1])["error"]


def buy_result(cli: Any, *args: str, buyer: str = "me", now: str = DURING,
               env: dict[str, str] | None = PAY) -> Any:
    """`wxshop --json --buyer B --now T buy ARGS`, paying with the test password."""
    return cli("--json", "--buyer", buyer, "--now", now, "buy", *args, env=env)


def buy(cli: Any, item: str, *args: str, buyer: str = "me", now: str = DURING,
        code: int = 0, env: dict[str, str] | None = PAY) -> dict[str, Any]:
    """Buy and return the order (exit 0) or the error object (any other expected code)."""
    result = buy_result(cli, item, *args, buyer=buyer, now=now, env=env)
    return ok(result) if code == 0 else error(result, code)


def snapshot(tables: tuple[str, ...] | None = None) -> dict[str, list]:
    """Every row of `tables` (default: every table) of the test's database, SQLite file or
    PostgreSQL, for "a failed command changed nothing" checks. Opens no wxshop Database, so
    taking the snapshot neither creates nor migrates anything."""
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(Settings().db_url)
    try:
        with engine.connect() as conn:
            names = sorted(inspect(conn).get_table_names()) if tables is None else tables
            return {name: sorted((tuple(map(repr, row)) for row in conn.execute(
                text(f'SELECT * FROM "{name}"'))), key=repr) for name in names}
    finally:
        engine.dispose()



def open_db():
    """The database of the current test environment (WXSHOP_HOME / WXSHOP_DB)."""
    forget()
    activate(Settings())
    return database()


def buyer(db, name: str = "me", password: str = PASSWORD) -> int:
    with db.transaction() as session:
        row = Buyer(name=name, created_at=WINDOW_START,
                    pay_password_hash=hash_password(db.key, password))
        session.add(row)
        session.flush()
        return row.id


def card(db, buyer_id: int, behaviour: str = "approve", *, default: bool = True,
         single_limit_fen: int = 500000, daily_limit_fen: int = 2000000) -> str:
    card_id = new_id("card")
    get_gateway(db).register_card(token=card_id, behaviour=behaviour, bank_code="ICBC_DEBIT",
                                  single_limit_fen=single_limit_fen,
                                  daily_limit_fen=daily_limit_fen, now=WINDOW_START)
    with db.transaction() as session:
        session.add(Card(id=card_id, buyer_id=buyer_id, fingerprint=new_id("fp"),
                         first6="622202", last4="0000", brand="unionpay", bank="中国工商银行",
                         bank_code="ICBC_DEBIT", card_type="debit", is_default=default,
                         is_test=True, holder_masked="*三", phone_masked="138****8000",
                         bound_at=WINDOW_START))
    return card_id


def address(db, buyer_id: int, region: str = "310000", *, default: bool = True) -> str:
    address_id = new_id("addr")
    with db.transaction() as session:
        session.add(Address(id=address_id, buyer_id=buyer_id, region_code=region, city="上海市",
                            street="淮海中路 1 号", contact="张三", phone="13800138000",
                            is_default=default, created_at=WINDOW_START))
    return address_id


def product(db, sku: str, list_price_fen: int = 528800, stock: int = 10,
            title: str | None = None, kind: str = "goods") -> str:
    with db.transaction() as session:
        session.add(Product(sku=sku, title=title or f"Product {sku}",
                            list_price_fen=list_price_fen, stock=stock, kind=kind,
                            created_at=WINDOW_START, updated_at=WINDOW_START))
    return sku


def promo(db, code: str, items: list[dict[str, Any]], *, regions: tuple[str, ...] = (),
          starts: dt.datetime = WINDOW_START, ends: dt.datetime = WINDOW_END,
          state: str = "published") -> dict[str, str]:
    """items: dicts with sku, price_fen, stock, limit (optional). Returns sku → item id."""
    ids = {}
    with db.transaction() as session:
        row = Promo(code=code, title="双11精选商品", starts_at=starts, ends_at=ends, state=state,
                    created_at=WINDOW_START, updated_at=WINDOW_START)
        session.add(row)
        session.flush()
        for region in regions:
            session.add(PromoRegion(promo_id=row.id, region_code=region))
        for position, item in enumerate(items):
            item_id = new_id("item")
            ids[item["sku"]] = item_id
            session.add(PromoItem(id=item_id, promo_id=row.id, sku=item["sku"],
                                  price_rule="price", price_rule_value=str(item["price_fen"]),
                                  price_fen=item["price_fen"], stock_total=item["stock"],
                                  per_buyer_limit=item.get("limit"), position=position,
                                  created_at=WINDOW_START))
    return ids


def shopper(db, name: str = "me", behaviour: str = "approve", region: str = "310000",
            **card_kwargs: Any) -> dict[str, Any]:
    """A buyer with a payment password, a bound default card and a default address."""
    buyer_id = buyer(db, name)
    return {"buyer_id": buyer_id, "card": card(db, buyer_id, behaviour, **card_kwargs),
            "address": address(db, buyer_id, region)}


def stock_left(db, item_id: str) -> int:
    with db.transaction(read_only=True) as session:
        item = session.get_one(PromoItem, item_id)
        return item.stock_total - item.sold
