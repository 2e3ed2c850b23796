"""A sale-sized shop written straight into a wxshop database, for the purchase benchmarks.

Buyers with a bound approving test card (known to the sandbox bank) and a default address,
and one live promotion with many items: a real sale spreads buyers over many items."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

PASSWORD = "271828"
STARTS = dt.datetime(2013, 11, 10, 16, 0, tzinfo=dt.UTC)  # 2013-11-11 00:00 Beijing
DURING = dt.datetime(2013, 11, 11, 2, 0, tzinfo=dt.UTC)
DURING_TEXT = "2013-11-11T10:00:00+08:00"


def reset_postgres(url: str) -> None:
    """An empty `public` schema (every bench that uses PostgreSQL starts from one)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def open_database(url: str | None, home: Path):
    """A migrated wxshop database (a fresh SQLite file in `home`, or `url` emptied first)."""
    os.environ["WXSHOP_HOME"] = str(home)
    os.environ.setdefault("WXSHOP_SCRYPT_N", "1024")
    if url:
        reset_postgres(url)
        os.environ["WXSHOP_DB"] = url
    else:
        os.environ.pop("WXSHOP_DB", None)
    from wxshop_cli.config import Settings, activate
    from wxshop_cli.db.engine import database, forget

    forget()
    activate(Settings())
    return database()


def seed(db, *, buyers: int, items: int, stock: int, limit: int | None = None) -> list[str]:
    """`buyers` buyers named b0…, `items` promo items; returns the item ids."""
    from wxshop_cli.core.paypassword import hash_password
    from wxshop_cli.db.models import (
        Address,
        Buyer,
        Card,
        GatewayCard,
        Product,
        Promo,
        PromoItem,
    )
    from wxshop_cli.db.types import new_id

    password_hash = hash_password(db.key, PASSWORD)
    with db.transaction() as session:
        promo = Promo(code="double11", title="双11精选商品", starts_at=STARTS,
                      ends_at=STARTS + dt.timedelta(days=1), state="published",
                      created_at=STARTS, updated_at=STARTS)
        session.add(promo)
        session.flush()
        item_ids = []
        for n in range(items):
            sku = f"YX-{1000 + n}"
            session.add(Product(sku=sku, title=f"双11 item {n}", list_price_fen=528800,
                                stock=stock, created_at=STARTS, updated_at=STARTS))
            item_id = new_id("item")
            session.add(PromoItem(id=item_id, promo_id=promo.id, sku=sku, price_rule="price",
                                  price_rule_value="39.99", price_fen=3999, stock_total=stock,
                                  per_buyer_limit=limit, position=n, created_at=STARTS))
            item_ids.append(item_id)
        session.flush()
        for n in range(buyers):
            buyer = Buyer(name=f"b{n}", created_at=STARTS, pay_password_hash=password_hash)
            session.add(buyer)
            session.flush()
            card_id = new_id("card")
            session.add(Card(id=card_id, buyer_id=buyer.id, fingerprint=new_id("fp"),
                             first6="622202", last4="0000", brand="unionpay", bank="中国工商银行",
                             bank_code="ICBC_DEBIT", card_type="debit", is_default=True,
                             is_test=True, holder_masked="*三", phone_masked="138****8000",
                             bound_at=STARTS))
            session.add(GatewayCard(token=card_id, behaviour="approve", bank_code="ICBC_DEBIT",
                                    single_limit_fen=10**12, daily_limit_fen=10**12,
                                    created_at=STARTS))
            session.add(Address(id=new_id("addr"), buyer_id=buyer.id, region_code="310000",
                                city="上海市", street="淮海中路 1 号", contact="张三",
                                phone="13800138000", is_default=True, created_at=STARTS))
    return item_ids


def temp_home() -> Path:
    return Path(tempfile.mkdtemp(prefix="wxshop-bench-"))
