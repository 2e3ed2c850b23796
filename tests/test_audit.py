"""`wxshop audit`: a book built through the real CLI passes clean; each kind of violation,
planted directly in the tables, is found with its kind and ids — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select, text, update

from tests import shop
from wxshop_cli.core import audit as audit_core
from wxshop_cli.db.models import (
    Buyer,
    BuyerItemUsage,
    Card,
    GatewayCard,
    GatewayPayment,
    GatewayRefund,
    IdempotencyKey,
    InboxMessage,
    Order,
    Product,
    PromoItem,
    Refund,
)
from wxshop_cli.gateway import get_gateway

PAY = {"WXSHOP_PAY_PASSWORD": "201311"}
LATER = "2013-11-11T12:00:00+08:00"  # the audits' clock: after every purchase below
AT = dt.datetime(2013, 11, 11, 2, 30, tzinfo=dt.UTC)
IDENTITY = {"holder": "李雷", "id_number": "310104198805120318", "phone": "13800138001",
            "pay_password": "201311", "default": True}
CARDS = {"me": "6222020000000000000", "decl": "6222020000000004002",
         "slow": "6222020000000001198"}


def _fixture(tmp_path, steps: list[dict[str, Any]]) -> str:
    path = tmp_path / "crowd.json"
    path.write_text(json.dumps({"steps": steps}, ensure_ascii=False), encoding="utf-8")
    return str(path)


def buy(cli, buyer: str, item: str, *args: str, code: int = 0, now: str = shop.DURING):
    return shop.buy(cli, item, *args, buyer=buyer, now=now, code=code, env=PAY)


def audit(cli, *args: str, now: str = LATER, code: int = 0) -> dict[str, Any]:
    return cli.json("--now", now, "audit", *args, exit_code=code)


def build_book(cli, tmp_path) -> dict[str, Any]:
    """The double11 promotion (pushed), buyers with approving, declining and timing-out test
    cards, purchases, refunds, a sold-out refusal, a crashed purchase cancelled and retried,
    and a charge that arrived after its order had closed (refunded automatically)."""
    cli.json("--now", shop.DURING, "fixtures", "load", "double11")
    steps: list[dict[str, Any]] = [{"name": "kettle", "op": "product.add", "args": {
        "sku": "YX-9001", "title": "苏泊尔 电水壶", "price": "89.00", "stock": 20}}]
    for name, number in CARDS.items():
        steps += [
            {"name": name, "op": "buyer.create", "args": {"name": name}},
            {"name": f"{name}-card", "op": "card.bind",
             "args": {"buyer": name, "number": number, **IDENTITY}},
            {"name": f"{name}-address", "op": "address.add", "args": {
                "buyer": name, "region": "310000", "city": "上海市", "street": "漕溪北路 88 号",
                "contact": "李雷", "phone": "13800138001", "default": True}},
        ]
    cli.json("--now", shop.DURING, "fixtures", "load", _fixture(tmp_path, steps))
    promo = cli.json("promo", "show", "double11-2013")
    items = {item["sku"]: item["id"] for item in promo["items"]}

    o = {}
    o["lilei_phones"] = buy(cli, "lilei", items["YX-1002"], "--qty", "2")["order_no"]
    cli.json("--now", shop.DURING, "orders", "refund", o["lilei_phones"], "--amount", "100")
    cli.json("--now", shop.DURING, "orders", "refund", o["lilei_phones"])
    o["han_nuts"] = buy(cli, "hanmeimei", items["YX-3001"], "--qty", "3")["order_no"]
    cli.json("--now", shop.DURING, "orders", "refund", o["han_nuts"], "--amount", "10")
    o["lilei_box"] = buy(cli, "lilei", items["YX-2005"])["order_no"]
    assert buy(cli, "me", items["YX-2005"], "--idempotency-key", "box-me",
               code=7)["code"] == "sold_out"
    o["me_kettle"] = buy(cli, "me", "YX-9001", "--qty", "2",
                         "--idempotency-key", "kettle-me")["order_no"]
    o["decl_nuts"] = buy(cli, "decl", items["YX-3001"], code=6)["order_no"]
    o["slow_phone"] = buy(cli, "slow", items["YX-1004"], code=9)["order_no"]
    # A batch through `buy --from` (group commit): paid, refused, unknown and sold out.
    lines = [{"buyer": "lilei", "item": items["YX-1004"], "qty": 2, "idempotency_key": "b1"},
             {"buyer": "hanmeimei", "item": items["YX-2002"], "idempotency_key": "b2"},
             {"buyer": "decl", "item": items["YX-2003"], "idempotency_key": "b3"},
             {"buyer": "slow", "item": items["YX-1003"], "idempotency_key": "b4"},
             {"buyer": "me", "item": items["YX-2005"], "idempotency_key": "b5"}]
    batch = tmp_path / "crowd.jsonl"
    batch.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    result = cli("--json", "--now", shop.DURING, "buy", "--from", str(batch), "--group", "2",
                 env=PAY)
    assert result.exit_code == 10, (result.stdout, result.stderr)
    codes = sorted(json.loads(line)["exit_code"] for line in result.stdout.splitlines())
    assert codes == [0, 0, 6, 7, 9]
    # A paying order whose charge the bank has not decided is in flight, not a violation.
    assert audit(cli)["clean"] is True
    assert cli.json("--buyer", "slow", "--now", shop.DURING, "orders", "show",
                    o["slow_phone"])["status"] == "paid"

    # A purchase whose process died after its reservation: cancelled, then retried.
    db = shop.open_db()
    from wxshop_cli.core import checkout

    request = checkout.BuyRequest(item=items["YX-3001"])
    o["crashed"] = checkout._claim(db, "me", request, "crashed", False,
                                   shop.DURING_AT).order.order_no
    assert cli.json("--now", shop.DURING, "orders", "cancel", o["crashed"])["status"] == \
        "closed"
    assert buy(cli, "me", items["YX-3001"], "--idempotency-key", "crashed",
               now="2013-11-11T10:05:00+08:00", code=5)["code"] == "order_closed"

    # The bank charged an order after it had closed: recorded and refunded automatically.
    o["late"] = buy(cli, "me", items["YX-2003"], code=0)["order_no"]
    with db.transaction() as session:  # (make it the late one: close it unpaid first)
        session.execute(delete(GatewayPayment).where(GatewayPayment.out_trade_no == o["late"]))
        session.execute(update(Order).where(Order.order_no == o["late"]).values(
            status="pending_payment", transaction_id=None, paid_at=None))
    cli.json("--now", "2013-11-11T10:15:00+08:00", "orders", "close-expired")
    gateway = get_gateway(db)
    with db.transaction(read_only=True) as session:
        late = session.get_one(Order, o["late"])
    result = gateway.charge(out_trade_no=late.order_no, card_token=late.card_id,
                            amount_fen=late.amount_fen, openid="oWXSHOP_me", product="x",
                            now=AT)
    from wxshop_cli.core.orders import apply_charge

    assert apply_charge(db, gateway, late.order_no, result, AT).status == "refunded"

    with db.transaction(read_only=True) as session:
        buyers = dict(session.execute(select(Buyer.name, Buyer.id)).all())
        cards = dict(session.execute(select(Buyer.name, Card.id).join(
            Card, Card.buyer_id == Buyer.id)).all())
        refunds = {row.order_no: [] for row in session.execute(select(Refund.order_no))}
        for row in session.execute(select(Refund).order_by(Refund.refund_no)).scalars():
            refunds[row.order_no].append(row.refund_no)
        keys = {row.order_no: row.idempotency_key
                for row in session.execute(select(Order)).scalars()}
    return {"db": db, "items": items, "orders": o, "buyers": buyers, "cards": cards,
            "refunds": refunds, "keys": keys}


def found(report: dict[str, Any]) -> set[tuple]:
    """(kind, ids…) of each listed violation, ids without the empty ones."""
    fixed = {"kind", "expected", "found", "detail"}
    return {(v["kind"], *sorted((k, w) for k, w in v.items() if k not in fixed
                                and w is not None)) for v in report["violations"]}


def v(kind: str, **ids: Any) -> tuple:
    return (kind, *sorted(ids.items()))


def test_a_book_built_through_the_cli_is_clean(cli, tmp_path, backend):
    book = build_book(cli, tmp_path)
    report = audit(cli)
    assert report["clean"] is True and report["violations"] == []
    assert report["violation_count"] == 0 and report["counts"] == {}
    # Every invariant looked at real rows.
    assert set(report["checked"]) == set(audit_core.kinds().values())
    assert all(rows > 0 for rows in report["checked"].values()), report["checked"]
    assert report["checked"]["orders"] == len(book["keys"]) == 12
    assert report["checked"]["refunds"] == 4
    # The same book under the real clock (no key is left running) and through the core.
    assert audit(cli, now="2026-01-01T00:00:00+08:00")["clean"] is True
    core = audit_core.audit_book(book["db"], dt.datetime(2013, 11, 11, 4, tzinfo=dt.UTC))
    assert core.clean and core.to_json()["checked"] == report["checked"]
    with book["db"].transaction(read_only=True) as session:  # in the caller's transaction
        assert audit_core.audit_book(session, core.now).to_json() == core.to_json()


def _drop_push_once(db) -> None:
    """Lift the unique (buyer, promotion) constraint so a second push can be planted: a copy
    of the table without it (works on both engines)."""
    with db.transaction() as session:
        session.execute(text("ALTER TABLE inbox_message RENAME TO inbox_old"))
        session.execute(text("CREATE TABLE inbox_message AS SELECT * FROM inbox_old"))
        session.execute(text("DROP TABLE inbox_old"))


def _order(order_no: str, buyer_id: int, **values: Any) -> dict[str, Any]:
    row = {"order_no": order_no, "buyer_id": buyer_id, "promo_id": None, "item_id": None,
           "sku": "YX-9001", "title": "苏泊尔 电水壶", "qty": 1, "unit_price_fen": 8900,
           "amount_fen": 8900, "refunded_fen": 0, "card_id": "card_x", "address_id": "addr_x",
           "region_code": "310000", "status": "closed", "transaction_id": None,
           "idempotency_key": None, "stock_returned": True, "created_at": AT,
           "paid_at": None, "closed_at": AT, "close_reason": "cancelled"}
    return {**row, **values}


def test_each_planted_violation_is_found_with_its_kind_and_ids(cli, tmp_path, backend):
    book = build_book(cli, tmp_path)
    db, items, o, b = book["db"], book["items"], book["orders"], book["buyers"]
    item = {sku: {"item_id": items[sku], "sku": sku} for sku in items}

    def change(*statements) -> None:
        with db.transaction() as session:
            for statement in statements:
                session.execute(statement)

    def order(key: str, buyer: str) -> dict[str, Any]:
        return {"order_no": o[key], "buyer": buyer}

    lilei_refunds = book["refunds"][o["lilei_phones"]]
    plants = [
        ("item_sold_mismatch", lambda: change(update(PromoItem).where(
            PromoItem.id == items["YX-2002"]).values(sold=PromoItem.sold + 1)),
         {v("item_sold_mismatch", **item["YX-2002"])}),
        ("item_oversold", lambda: change(update(PromoItem).where(
            PromoItem.id == items["YX-2005"]).values(stock_total=0)),
         {v("item_oversold", **item["YX-2005"])}),
        ("item_sold_negative", lambda: change(update(PromoItem).where(
            PromoItem.id == items["YX-2004"]).values(sold=-1)),
         {v("item_sold_negative", **item["YX-2004"]),
          v("item_sold_mismatch", **item["YX-2004"])}),
        ("product_stock_negative", lambda: change(update(Product).where(
            Product.sku == "YX-9001").values(stock=-1)),
         {v("product_stock_negative", sku="YX-9001")}),
        ("usage_mismatch", lambda: change(update(BuyerItemUsage).where(
            BuyerItemUsage.buyer_id == b["hanmeimei"],
            BuyerItemUsage.item_id == items["YX-3001"]).values(used=4)),
         {v("usage_mismatch", buyer="hanmeimei", **item["YX-3001"])}),
        ("over_limit", lambda: change(update(PromoItem).where(
            PromoItem.id == items["YX-1002"]).values(per_buyer_limit=1)),
         {v("over_limit", buyer="lilei", **item["YX-1002"])}),
        ("order_no_malformed", lambda: change(insert(Order).values(
            _order("D201313110000000001", b["me"]))),
         {v("order_no_malformed", order_no="D201313110000000001", buyer="me")}),
        ("order_amount_wrong", lambda: change(insert(Order).values(
            _order("D201311110009999998", b["me"], amount_fen=8901))),
         {v("order_amount_wrong", order_no="D201311110009999998", buyer="me")}),
        ("order_item_missing", lambda: change(insert(Order).values(
            _order("D201311110009999997", b["me"], item_id="item_gone"))),
         {v("order_item_missing", order_no="D201311110009999997", buyer="me",
            item_id="item_gone")}),
        # A refused order that keeps its stock also throws the item's and buyer's counts off.
        ("closed_order_holds_stock", lambda: change(update(Order).where(
            Order.order_no == o["decl_nuts"]).values(stock_returned=False)),
         {v("closed_order_holds_stock", **order("decl_nuts", "decl")),
          v("item_sold_mismatch", **item["YX-3001"]),
          v("usage_mismatch", buyer="decl", **item["YX-3001"])}),
        ("stock_returned_while_active", lambda: change(update(Order).where(
            Order.order_no == o["me_kettle"]).values(stock_returned=True)),
         {v("stock_returned_while_active", **order("me_kettle", "me"))}),
        ("payment_missing", lambda: change(update(GatewayPayment).where(
            GatewayPayment.out_trade_no == o["slow_phone"]).values(status="FAILED")),
         {v("payment_missing", **order("slow_phone", "slow"))}),
        ("payment_amount_mismatch", lambda: change(update(GatewayPayment).where(
            GatewayPayment.out_trade_no == o["han_nuts"]).values(
            amount_fen=GatewayPayment.amount_fen + 1)),
         {v("payment_amount_mismatch", **order("han_nuts", "hanmeimei"))}),
        ("payment_txn_mismatch", lambda: change(update(Order).where(
            Order.order_no == o["lilei_box"]).values(
            transaction_id="4200000001201311119999999999")),
         {v("payment_txn_mismatch", **order("lilei_box", "lilei"))}),
        ("closed_order_charged", lambda: change(insert(GatewayPayment).values(
            out_trade_no=o["crashed"], transaction_id="4200000001201311118888888888",
            openid="oWXSHOP_me", card_token=book["cards"]["me"], bank_code="ICBC_DEBIT",
            product="x", amount_fen=9900, fee_fen=59, rate_ppm=6000, status="SUCCESS",
            created_at=AT, paid_at=AT)),
         {v("closed_order_charged", **order("crashed", "me"))}),
        ("paying_without_charge", lambda: change(insert(Order).values(
            _order("D201311110009999996", b["me"], status="paying", stock_returned=False,
                   closed_at=None, close_reason=None))),
         {v("paying_without_charge", order_no="D201311110009999996", buyer="me")}),
        ("too_many_refunds", lambda: change(insert(Refund).values([
            {"refund_no": f"RX-{n}", "order_no": o["lilei_phones"], "amount_fen": 1,
             "status": "closed", "reason": "", "created_at": AT} for n in range(51)])),
         {v("too_many_refunds", **order("lilei_phones", "lilei"))}),
        # One more fen refunded than paid: also a `refunded` order whose refunded_fen is off.
        ("refunds_exceed_amount", lambda: change(
            update(Refund).where(Refund.refund_no == lilei_refunds[1]).values(
                amount_fen=Refund.amount_fen + 1),
            update(GatewayRefund).where(GatewayRefund.out_refund_no == lilei_refunds[1])
            .values(amount_fen=GatewayRefund.amount_fen + 1),
            update(Order).where(Order.order_no == o["lilei_phones"]).values(
                refunded_fen=Order.refunded_fen + 1)),
         {v("refunds_exceed_amount", **order("lilei_phones", "lilei")),
          v("refund_status_mismatch", **order("lilei_phones", "lilei"))}),
        ("refunded_fen_mismatch", lambda: change(update(Order).where(
            Order.order_no == o["han_nuts"]).values(refunded_fen=Order.refunded_fen + 1)),
         {v("refunded_fen_mismatch", **order("han_nuts", "hanmeimei"))}),
        ("refund_unknown_to_gateway", lambda: change(delete(GatewayRefund).where(
            GatewayRefund.out_refund_no == book["refunds"][o["han_nuts"]][0])),
         {v("refund_unknown_to_gateway", refund_no=book["refunds"][o["han_nuts"]][0],
            order_no=o["han_nuts"])}),
        ("refund_state_mismatch", lambda: change(update(GatewayRefund).where(
            GatewayRefund.out_refund_no == lilei_refunds[0]).values(status="PROCESSING")),
         {v("refund_state_mismatch", refund_no=lilei_refunds[0], order_no=o["lilei_phones"])}),
        ("refund_amount_mismatch", lambda: change(update(GatewayRefund).where(
            GatewayRefund.out_refund_no == book["refunds"][o["late"]][0]).values(
            amount_fen=GatewayRefund.amount_fen - 1)),
         {v("refund_amount_mismatch", refund_no=book["refunds"][o["late"]][0],
            order_no=o["late"])}),
        ("gateway_refund_without_refund", lambda: change(insert(GatewayRefund).values(
            refund_id="50300000012013111100000000001", out_refund_no="RX-ghost",
            out_trade_no=o["me_kettle"], amount_fen=100, fee_fen=-1, status="SUCCESS",
            created_at=AT, succeeded_at=AT)),
         {v("gateway_refund_without_refund", refund_no="RX-ghost",
            out_trade_no=o["me_kettle"])}),
        ("payment_without_order", lambda: change(insert(GatewayPayment).values(
            out_trade_no="D201311110000999999", transaction_id="4200000001201311117777777777",
            openid="oWXSHOP_me", card_token=book["cards"]["me"], bank_code="ICBC_DEBIT",
            product="x", amount_fen=100, fee_fen=1, rate_ppm=6000, status="SUCCESS",
            created_at=AT, paid_at=AT)),
         {v("payment_without_order", out_trade_no="D201311110000999999")}),
        ("key_stuck_running", lambda: change(update(IdempotencyKey).where(
            IdempotencyKey.key == "box-me").values(state="running")),
         {v("key_stuck_running", buyer="me", idempotency_key="box-me")}),
        ("key_order_missing", lambda: change(insert(IdempotencyKey).values(
            buyer_id=b["me"], key="ghost", request_hash="0" * 64, state="done",
            order_no="D201311110000888888", claimed_at=AT, expires_at=AT)),
         {v("key_order_missing", buyer="me", idempotency_key="ghost",
            order_no="D201311110000888888")}),
        ("key_order_mismatch", lambda: change(update(IdempotencyKey).where(
            IdempotencyKey.key == "kettle-me").values(buyer_id=b["zhangwei"])),
         {v("key_order_mismatch", buyer="zhangwei", idempotency_key="kettle-me",
            order_no=o["me_kettle"])}),
        ("key_without_outcome", lambda: change(insert(IdempotencyKey).values(
            buyer_id=b["me"], key="empty", request_hash="0" * 64, state="done",
            claimed_at=AT, expires_at=AT)),
         {v("key_without_outcome", buyer="me", idempotency_key="empty")}),
        ("key_ordered_twice", lambda: change(insert(Order).values(
            _order("D201311110009999995", b["me"], idempotency_key="kettle-me",
                   created_at=AT + dt.timedelta(hours=23)))),
         {v("key_ordered_twice", order_no="D201311110009999995", buyer="me",
            idempotency_key="kettle-me", other_order_no=o["me_kettle"])}),
        ("promo_pushed_twice", lambda: (_drop_push_once(db), change(text(
            "INSERT INTO inbox_message SELECT id || 'x', buyer_id, kind, text, code, "
            "promo_id, read, created_at FROM inbox_message WHERE kind = 'promo' AND "
            f"buyer_id = {b['lilei']}"))),
         {v("promo_pushed_twice", buyer="lilei", promo="double11-2013")}),
        ("push_without_promo", lambda: change(insert(InboxMessage.__table__).values(
            id="msg_orphan", buyer_id=b["zhangwei"], kind="promo", text="?", read=False,
            created_at=AT)),
         {v("push_without_promo", buyer="zhangwei")}),
        ("card_unknown_to_gateway", lambda: change(delete(GatewayCard).where(
            GatewayCard.token == book["cards"]["decl"])),
         {v("card_unknown_to_gateway", card_id=book["cards"]["decl"], buyer="decl")}),
    ]
    # Every kind the audit knows is planted here (and one kind at a time below).
    assert {kind for kind, _, _ in plants} | {"refund_status_mismatch"} == \
        set(audit_core.kinds())
    expected: set[tuple] = set()
    for kind, plant, finds in plants:
        plant()
        expected |= finds
        report = audit(cli, code=8)
        assert found(report) == expected, kind
        assert report["violation_count"] == len(expected) and report["clean"] is False
    # A second order with one key is fine once the key has expired (24 h).
    change(update(Order).where(Order.order_no == "D201311110009999995").values(
        created_at=AT + dt.timedelta(hours=25)))
    report = audit(cli, code=8)
    assert v("key_ordered_twice", order_no="D201311110009999995", buyer="me",
             idempotency_key="kettle-me", other_order_no=o["me_kettle"]) not in found(report)


def test_a_new_book_is_clean_and_the_bad_options_change_nothing(cli, backend):
    cli.json("db", "upgrade")  # an audit never creates the database it reads
    report = audit(cli)
    assert report["clean"] is True and set(report["checked"].values()) == {0}
    for value, code, slug in (("abc", 2, "usage"), ("1.5", 2, "usage"),
                              ("-1", 3, "invalid_audit_limit"),
                              ("1000001", 3, "invalid_audit_limit"),
                              ("１０", 3, "invalid_audit_limit"),
                              (" 5", 3, "invalid_audit_limit")):
        assert cli.fails(code, "audit", "--limit", value)["code"] == slug, value
    result = cli("audit", "--limit", "abc")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: --limit: not a whole number")
    assert cli("audit", "--bogus").exit_code == 2


def _dirty_book(cli) -> None:
    """Three planted violations on an otherwise empty book: two negative stocks and one key
    left running."""
    db = shop.open_db()
    shop.product(db, "YX-0002", 100, stock=-1)  # (stored first: listed second, by SKU)
    shop.product(db, "YX-0001", 100, stock=-2)
    me = shop.buyer(db, "me")
    with db.transaction() as session:
        session.execute(insert(IdempotencyKey).values(
            buyer_id=me, key="k", request_hash="0" * 64, state="running", claimed_at=AT,
            expires_at=AT + dt.timedelta(days=1)))


def test_limit_caps_the_list_but_every_violation_is_counted(cli, backend):
    _dirty_book(cli)
    report = audit(cli, "--limit", "1", code=8)
    assert report["violation_count"] == 3 and report["listed"] == 1
    assert report["truncated"] is True
    assert report["counts"] == {"product_stock_negative": 2, "key_stuck_running": 1}
    assert [v["sku"] for v in report["violations"]] == ["YX-0001"]
    none = audit(cli, "--limit", "0", code=8)
    assert none["violations"] == [] and none["violation_count"] == 3
    # The claim timeout is measured from the audit's clock: 59 s after it, nothing is stuck.
    fresh = audit(cli, now=(AT + dt.timedelta(seconds=59)).isoformat(), code=8)
    assert "key_stuck_running" not in fresh["counts"]
    stuck = audit(cli, now=(AT + dt.timedelta(seconds=60)).isoformat(), code=8)
    assert stuck["counts"]["key_stuck_running"] == 1
    # Its detail names the claim's time in the display zone (WXSHOP_TZ), like every time shown.
    (detail,) = [v["detail"] for v in stuck["violations"] if v["kind"] == "key_stuck_running"]
    shown = AT.astimezone(ZoneInfo("Asia/Shanghai")).isoformat()
    assert f"running since {shown}, 60 s before the audit" in detail


def test_a_pipe_gets_tab_separated_violations_and_the_summary_on_stderr(cli):
    _dirty_book(cli)
    result = cli("--now", LATER, "audit")
    assert result.exit_code == 8
    lines = result.stdout.splitlines()
    assert lines[0].split("\t") == ["kind", "ids", "expected", "found", "detail"]
    assert lines[1].split("\t")[:4] == ["product_stock_negative", "sku=YX-0001", "0", "-2"]
    assert lines[3].split("\t")[:2] == ["key_stuck_running", "buyer=me idempotency_key=k"]
    assert len(lines) == 4
    assert "audit: 3 violations in 3 rows checked" in result.stderr


def test_a_terminal_gets_a_summary_and_a_table(cli, monkeypatch):
    _dirty_book(cli)
    monkeypatch.setattr("wxshop_cli.output.stdout_is_terminal", lambda: True)
    monkeypatch.setenv("COLUMNS", "120")
    result = cli("--now", LATER, "audit")
    assert result.exit_code == 8
    assert "Audit of the book" in result.stdout and "3 violations" in result.stdout
    assert "product_stock_negative" in result.stdout and "sku=YX-0001" in result.stdout
    clean = shop.open_db()
    with clean.transaction() as session:
        session.execute(delete(Product))
        session.execute(delete(IdempotencyKey))
    result = cli("--now", LATER, "audit")
    assert result.exit_code == 0 and "clean" in result.stdout
    assert "Violations" not in result.stdout


def test_the_audit_reads_one_snapshot(backend, monkeypatch):
    """PostgreSQL: REPEATABLE READ, READ ONLY (one snapshot for every query); SQLite: one
    read transaction (WAL: one snapshot)."""
    db = shop.open_db()
    seen = {}
    original = audit_core.audit_session

    def spy(session, now, *, limit):
        if backend == "postgresql":
            seen["isolation"] = session.execute(text("SHOW transaction_isolation")).scalar()
            seen["read_only"] = session.execute(text("SHOW transaction_read_only")).scalar()
        else:
            seen["in_transaction"] = session.connection().connection.driver_connection \
                .in_transaction
        return original(session, now, limit=limit)

    monkeypatch.setattr(audit_core, "audit_session", spy)
    assert audit_core.audit_book(db, AT).clean
    if backend == "postgresql":
        assert seen == {"isolation": "repeatable read", "read_only": "on"}
    else:
        assert seen == {"in_transaction": True}


def test_a_refund_or_late_charge_younger_than_a_minute_is_in_flight(cli, backend):
    """On a live book the audit may read between a process's steps: a refund still
    `processing` or a closed order's charge not yet refunded is in flight for 60 s."""
    db = shop.open_db()
    me = shop.buyer(db, "me")
    paid = _order("D201311110000000001", me, status="paid", stock_returned=False,
                  transaction_id="4200000001201311110000000001", paid_at=AT, closed_at=None,
                  close_reason=None, refunded_fen=100)
    closed = _order("D201311110000000002", me)
    with db.transaction() as session:
        session.execute(insert(Product).values(
            sku="YX-9001", title="苏泊尔 电水壶", list_price_fen=8900, stock=5, created_at=AT,
            updated_at=AT))
        session.execute(insert(Order).values([paid, closed]))
        session.execute(insert(GatewayPayment).values([
            {"out_trade_no": row["order_no"], "transaction_id": f"420000000120131111000000000{n}",
             "openid": "oWXSHOP_me", "card_token": "card_x", "bank_code": "ICBC_DEBIT",
             "product": "x", "amount_fen": 8900, "fee_fen": 53, "rate_ppm": 6000,
             "status": "SUCCESS", "created_at": AT, "paid_at": AT}
            for n, row in ((1, paid), (2, closed))]))
        session.execute(insert(Refund).values(
            refund_no="R201311110000000001", order_no=paid["order_no"], amount_fen=100,
            status="processing", reason="", created_at=AT))
    assert audit(cli, now=(AT + dt.timedelta(seconds=59)).isoformat())["clean"] is True
    later = audit(cli, now=(AT + dt.timedelta(seconds=60)).isoformat(), code=8)
    assert later["counts"] == {"refund_unknown_to_gateway": 1, "closed_order_charged": 1}


def test_an_audit_of_a_missing_database_creates_nothing(cli, tmp_path):
    missing = tmp_path / "typo.db"
    error = cli.fails(4, "--db", str(missing), "audit")
    assert error["code"] == "database_not_found"
    assert not missing.exists()
