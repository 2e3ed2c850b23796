"""The push (SPEC section 7): publishing with notify puts one `promo` message into the inbox of
every buyer with a bound card whose default address is in a target region (every buyer with a
bound card when nationwide), once per promotion, never again on re-publish."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from tests.test_promofile import BEFORE, DURING, base, open_db, publish, write
from wxshop_cli.db.models import Address, Buyer, Card, InboxMessage, Promo
from wxshop_cli.db.types import new_id

T0 = dt.datetime(2013, 11, 1, tzinfo=dt.UTC)


def make_buyer(name: str, *, card: str | None = "bound",
               addresses: tuple[tuple[str, bool, bool], ...] = ()) -> int:
    """A buyer with an optional card (`bound`/`unbound`) and addresses given as
    (region, is_default, removed)."""
    db = open_db()
    with db.transaction() as session:
        buyer = Buyer(name=name, created_at=T0)
        session.add(buyer)
        session.flush()
        if card is not None:
            session.add(Card(id=new_id("card"), buyer_id=buyer.id, fingerprint=new_id("fp"),
                             brand="unionpay", bank="中国工商银行", bank_code="ICBC_DEBIT",
                             card_type="debit", first6="622202", last4="0000", is_default=True,
                             is_test=True, holder_masked="*三", phone_masked="138****8000",
                             status=card, bound_at=T0,
                             unbound_at=T0 if card == "unbound" else None))
        for region, is_default, removed in addresses:
            session.add(Address(id=new_id("addr"), buyer_id=buyer.id, region_code=region,
                                city="城市", street="街道 1 号", contact="张三",
                                phone="13800138000", is_default=is_default,
                                removed_at=T0 if removed else None, created_at=T0))
        return buyer.id


def inbox() -> dict[str, list[InboxMessage]]:
    db = open_db()
    with db.transaction(read_only=True) as session:
        rows = session.exec(select(Buyer.name, InboxMessage).join(
            InboxMessage, InboxMessage.buyer_id == Buyer.id)).all()
    out: dict[str, list[InboxMessage]] = {}
    for name, message in rows:
        out.setdefault(name, []).append(message)
    return out


def crowd() -> None:
    make_buyer("shanghai", addresses=(("310000", True, False),))
    make_buyer("guangdong", addresses=(("110000", False, False), ("440000", True, False)))
    make_buyer("beijing", addresses=(("110000", True, False),))
    make_buyer("no-card", card=None, addresses=(("310000", True, False),))
    make_buyer("unbound", card="unbound", addresses=(("310000", True, False),))
    make_buyer("removed", addresses=(("310000", True, True), ("110000", False, False)))
    make_buyer("not-default", addresses=(("310000", False, False), ("110000", True, False)))
    make_buyer("no-address")


def test_the_push_reaches_exactly_the_targeted_buyers_once(cli, tmp_path, backend):
    cli.json("db", "upgrade")
    crowd()
    path = write(tmp_path, base())  # Shanghai and Guangdong
    report = publish(cli, path)
    assert report["notified"] == 2
    messages = inbox()
    assert set(messages) == {"shanghai", "guangdong"}
    for rows in messages.values():
        assert len(rows) == 1
        message = rows[0]
        assert message.kind == "promo"
        assert message.id.startswith("msg_")
        assert message.read is False
        assert message.text == "双11精选商品 is live: 3 items (wxshop promo show double11-2013)"
        assert message.created_at == dt.datetime.fromisoformat(DURING)

    # Re-publishing — unchanged, changed, or forced — never pushes twice.
    assert publish(cli, path)["notified"] == 0
    doc = base()
    doc["items"][0]["stock"] = 50
    assert publish(cli, write(tmp_path, doc, "v2.toml"), "--notify")["notified"] == 0
    assert {name: len(rows) for name, rows in inbox().items()} == {"shanghai": 1, "guangdong": 1}
    db = open_db()
    with db.transaction(read_only=True) as session:
        promo = session.exec(select(Promo)).one()
        assert promo.notified_at == dt.datetime.fromisoformat(DURING)


def test_a_nationwide_promotion_reaches_every_buyer_with_a_bound_card(cli, tmp_path, backend):
    cli.json("db", "upgrade")
    crowd()
    doc = base()
    doc["regions"] = []
    assert publish(cli, write(tmp_path, doc))["notified"] == 6
    assert set(inbox()) == {"shanghai", "guangdong", "beijing", "removed", "not-default",
                            "no-address"}


def test_no_notify_pushes_nothing_until_a_publish_with_notify(cli, tmp_path):
    cli.json("db", "upgrade")
    crowd()
    path = write(tmp_path, base())
    assert publish(cli, path, "--no-notify")["notified"] == 0
    assert inbox() == {}
    doc = base()
    doc["notify"] = False
    quiet = write(tmp_path, doc, "quiet.toml")
    assert publish(cli, quiet)["notified"] == 0
    assert inbox() == {}
    # The option overrides the file; the push then happens, once.
    assert publish(cli, quiet, "--notify")["notified"] == 2
    assert publish(cli, path)["notified"] == 0


def test_a_buyer_who_qualifies_later_gets_the_push_on_a_re_publish(cli, tmp_path):
    cli.json("db", "upgrade")
    make_buyer("first", addresses=(("310000", True, False),))
    path = write(tmp_path, base())
    assert publish(cli, path)["notified"] == 1
    make_buyer("second", addresses=(("440000", True, False),))
    again = publish(cli, path)
    assert again["any_change"] is False and again["notified"] == 1
    assert {name: len(rows) for name, rows in inbox().items()} == {"first": 1, "second": 1}


def test_a_scheduled_promotion_says_when_it_starts_and_an_ended_one_is_not_pushed(cli, tmp_path):
    cli.json("db", "upgrade")
    make_buyer("early", addresses=(("310000", True, False),))
    publish(cli, write(tmp_path, base()), now=BEFORE)
    assert inbox()["early"][0].text == (
        "双11精选商品 starts 2013-11-11 00:00: 3 items (wxshop promo show double11-2013)")
    late = base()
    late["code"] = "over"
    assert publish(cli, write(tmp_path, late, "late.toml"), now="2013-11-12T08:00:00+08:00")[
        "notified"] == 0
    assert len(inbox()["early"]) == 1


def test_publish_by_code_pushes_too_and_dry_run_only_counts(cli, tmp_path, backend):
    cli.json("db", "upgrade")
    make_buyer("shanghai", addresses=(("310000", True, False),))
    cli.json("product", "add", "--sku", "S1", "--title", "T", "--price", "10", "--stock", "1")
    cli.json("promo", "create", "--code", "d11", "--title", "双11精选商品", "--region", "310000",
             "--starts", "2013-11-11T00:00:00+08:00", "--ends", "2013-11-12T00:00:00+08:00")
    cli.json("promo", "add-item", "d11", "--sku", "S1", "--percent-off", "10", "--stock", "1")
    dry = cli.json("--now", DURING, "promo", "publish", "d11", "--dry-run")
    assert dry["notified"] == 1
    assert inbox() == {}
    assert cli.json("--now", DURING, "promo", "publish", "d11")["notified"] == 1
    assert inbox()["shanghai"][0].text == "双11精选商品 is live: 1 item (wxshop promo show d11)"
    assert cli.json("--now", DURING, "promo", "publish", "d11")["notified"] == 0


def test_the_red_dot_counts_the_push(cli, tmp_path):
    from wxshop_cli.core.inbox import unread_count

    cli.json("db", "upgrade")
    buyer_id = make_buyer("shanghai", addresses=(("310000", True, False),))
    publish(cli, write(tmp_path, base()))
    db = open_db()
    with db.transaction(read_only=True) as session:
        assert unread_count(session, buyer_id) == 1


def test_the_push_makes_no_price_claim_that_goes_stale(cli, tmp_path):
    """The push is written once, at publish time; prices and stock change after it (an item
    sells out, a price is forced). It names the promotion to look at instead of quoting a
    price, and what it points at tells the live facts (issue 14)."""
    cli.json("db", "upgrade")
    make_buyer("shanghai", addresses=(("310000", True, False),))
    cli.json("product", "add", "--sku", "S1", "--title", "T", "--price", "149", "--stock", "0")
    cli.json("promo", "create", "--code", "d11", "--title", "双11", "--region", "310000",
             "--starts", "2013-11-11T00:00:00+08:00", "--ends", "2013-11-12T00:00:00+08:00")
    cli.json("promo", "add-item", "d11", "--sku", "S1", "--price", "149", "--stock", "1")
    cli.json("--now", DURING, "promo", "publish", "d11")
    text = inbox()["shanghai"][0].text
    assert "¥" not in text and "149" not in text
    assert text == "双11 is live: 1 item (wxshop promo show d11)"
    # sold out after the push: the place the push names says so
    cli.json("--now", DURING, "promo", "add-item", "d11", "--sku", "S1", "--price", "149",
             "--stock", "0")
    shown = cli.json("--now", DURING, "promo", "show", "d11")
    assert shown["status"] == "sold_out"
