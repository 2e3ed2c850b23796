"""The baseline for bench/purchase.py: the same purchase as wxshop's checkout, written as a
bare sqlite3 / psycopg program against the same schema — the same statements' effect and the
same commits (claim; the bank's ledger; the outcome with the key), nothing else.

It assumes what the benchmark's shop guarantees (an approving card with high limits, items
without a per-buyer limit, a live promotion serving every region) and so skips the checks
wxshop must make; that is what makes it the floor.
"""

from __future__ import annotations

import datetime as dt
import secrets

PENDING, PAID = "pending_payment", "paid"


class RawShop:
    """Purchases over one DBAPI connection (`sqlite3` in autocommit mode, or psycopg)."""

    def __init__(self, connection, dialect: str) -> None:
        self.conn = connection
        self.sqlite = dialect == "sqlite"
        self.p = "?" if self.sqlite else "%s"
        self.cur = connection.cursor()
        self.buyers: dict[str, int] = {}

    def sql(self, text: str) -> str:
        return text if self.sqlite else text.replace("?", "%s")

    def time(self, value: dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite \
            else value

    def begin(self) -> None:
        if self.sqlite:
            self.cur.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        if self.sqlite:
            self.cur.execute("COMMIT")
        else:
            self.conn.commit()

    def x(self, text: str, params=()):
        self.cur.execute(self.sql(text), params)
        return self.cur

    # ---------------------------------------------------------------- the three steps

    def claim(self, buyer: str, item_id: str, key: str, now: dt.datetime):
        buyer_id = self.buyers.get(buyer)
        if buyer_id is None:
            buyer_id = self.buyers[buyer] = self.x("SELECT id FROM buyer WHERE name = ?",
                                                   (buyer,)).fetchone()[0]
        t = self.time(now)
        self.x("INSERT INTO idempotency_key (buyer_id, key, request_hash, state, claimed_at, "
               "expires_at) VALUES (?, ?, ?, 'running', ?, ?) ON CONFLICT DO NOTHING "
               "RETURNING buyer_id", (buyer_id, key, "h" * 64, t,
                                      self.time(now + dt.timedelta(days=1)))).fetchone()
        ref = self.x(
            "SELECT pi.sku, pr.title, pi.price_fen, pi.promo_id, a.id, a.region_code, c.id "
            "FROM promo_item pi JOIN promo p ON p.id = pi.promo_id "
            "JOIN product pr ON pr.sku = pi.sku "
            "LEFT JOIN address a ON a.buyer_id = ? AND a.is_default "
            "LEFT JOIN card c ON c.buyer_id = ? AND c.is_default AND c.status = 'bound' "
            "WHERE pi.id = ?", (buyer_id, buyer_id, item_id)).fetchone()
        sku, title, price, promo_id, address_id, region, card_id = ref
        self.x("UPDATE promo_item SET sold = sold + 1 WHERE id = ? AND stock_total - sold >= 1",
               (item_id,))
        number = self.x("INSERT INTO number_sequence (kind) VALUES ('order') RETURNING id"
                        ).fetchone()[0]
        order_no = f"D{now:%Y%m%d}{number:010d}"
        self.x("INSERT INTO orders (order_no, buyer_id, promo_id, item_id, sku, title, qty, "
               "unit_price_fen, amount_fen, refunded_fen, card_id, address_id, region_code, "
               "status, idempotency_key, stock_returned, created_at) VALUES "
               "(?, ?, ?, ?, ?, ?, 1, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)",
               (order_no, buyer_id, promo_id, item_id, sku, title, price, price, card_id,
                address_id, region, PENDING, key, False, t))
        self.x("UPDATE idempotency_key SET order_no = ? WHERE buyer_id = ? AND key = ?",
               (order_no, buyer_id, key))
        return order_no, buyer_id, card_id, price, title

    def charge(self, order_no: str, card_id: str, amount: int, title: str, now: dt.datetime,
               rate: int) -> str:
        self.x("SELECT status FROM gw_payment WHERE out_trade_no = ?", (order_no,)).fetchone()
        self.cur.execute("SAVEPOINT raw")
        behaviour, bank_code, _, daily = self.x(
            "SELECT behaviour, bank_code, single_limit_fen, daily_limit_fen FROM gw_card "
            "WHERE token = ?", (card_id,)).fetchone()
        day = now.date().isoformat() if self.sqlite else now.date()
        self.x("INSERT INTO gw_card_day (token, day, used_fen) VALUES (?, ?, ?) "
               "ON CONFLICT (token, day) DO UPDATE SET used_fen = gw_card_day.used_fen + "
               "excluded.used_fen WHERE gw_card_day.used_fen + excluded.used_fen <= ? "
               "RETURNING token", (card_id, day, amount, daily)).fetchone()
        txn = f"4200000001{now:%Y%m%d}{secrets.randbelow(10**10):010d}"
        t = self.time(now)
        self.x("INSERT INTO gw_payment (out_trade_no, openid, card_token, product, amount_fen, "
               "rate_ppm, bank_code, status, failure_code, transaction_id, fee_fen, "
               "created_at, paid_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'SUCCESS', NULL, ?, ?, ?, ?) "
               "ON CONFLICT DO NOTHING RETURNING out_trade_no",
               (order_no, "oWXSHOP_x", card_id, title, amount, rate, bank_code, txn,
                (amount * rate + 500_000) // 1_000_000, t, t)).fetchone()
        self.cur.execute("RELEASE SAVEPOINT raw")
        return txn

    def outcome(self, order_no: str, buyer_id: int, key: str, txn: str,
                now: dt.datetime) -> None:
        self.x("UPDATE orders SET status = 'paid', transaction_id = ?, paid_at = ? "
               "WHERE order_no = ? AND (status = 'pending_payment' OR status = 'paying')",
               (txn, self.time(now), order_no))
        self.x("UPDATE idempotency_key SET state = 'done', exit_code = 0 "
               "WHERE buyer_id = ? AND key = ?", (buyer_id, key))

    def verify_passwords(self, buyers: list[str], password: str, key: bytes) -> None:
        """What `buy --from` does once per buyer of a batch: the keyed scrypt check (the
        hashing itself is the library's, the same function wxshop uses)."""
        from wxshop_cli.core.paypassword import password_matches

        for buyer in dict.fromkeys(buyers):
            stored = self.x("SELECT pay_password_hash FROM buyer WHERE name = ?",
                            (buyer,)).fetchone()[0]
            assert password_matches(key, password, stored)
        if not self.sqlite:
            self.conn.commit()

    def rate(self) -> int:
        return self.x("SELECT fee_rate_ppm FROM merchant_settings WHERE id = 1").fetchone()[0]

    # ---------------------------------------------------------------- loops

    def buy_many(self, purchases: list[tuple[str, str]], now: dt.datetime,
                 group: int = 1) -> None:
        """Each purchase its own three commits (group=1), or `group` purchases sharing them
        (a savepoint per purchase, as wxshop's group commit)."""
        for start in range(0, len(purchases), group):
            chunk = purchases[start:start + group]
            keys = [f"raw-{secrets.token_hex(8)}" for _ in chunk]
            self.begin()
            claims = []
            for (buyer, item), key in zip(chunk, keys, strict=True):
                if group > 1:
                    self.cur.execute("SAVEPOINT line")
                claims.append(self.claim(buyer, item, key, now))
                if group > 1:
                    self.cur.execute("RELEASE SAVEPOINT line")
            self.commit()
            self.begin()
            rate = self.rate()
            txns = [self.charge(order_no, card, amount, title, now, rate)
                    for order_no, _, card, amount, title in claims]
            self.commit()
            self.begin()
            for (order_no, buyer_id, *_), key, txn in zip(claims, keys, txns, strict=True):
                self.outcome(order_no, buyer_id, key, txn, now)
            self.commit()
