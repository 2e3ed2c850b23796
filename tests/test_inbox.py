"""`wxshop inbox [--all]`: the buyer's simulated phone and promotion pushes."""

from __future__ import annotations

import datetime as dt
import json

from tests.binding_helpers import CMB_DEBIT, NOW, TEST_DEBIT, query, start

T0 = dt.datetime(2013, 11, 11, 2, 0, tzinfo=dt.UTC)


def test_an_unknown_buyer_has_an_empty_inbox_and_is_not_created(cli, backend):
    assert cli.json("--buyer", "ghost", "inbox") == []
    assert cli.json("--buyer", "ghost", "inbox", "--all") == []
    assert query("SELECT count(*) FROM buyer")[0][0] == 0


def test_json_lists_newest_first_and_marks_nothing_unless_asked(cli, backend):
    first = start(cli, TEST_DEBIT)
    second = start(cli, CMB_DEBIT)
    result = cli("--json", "inbox")
    unread = json.loads(result.stdout)
    assert result.stderr == "2 unread, left unread (--mark-read marks them read)\n"
    assert len(unread) == 2
    assert all(set(m) >= {"id", "kind", "text", "created_at", "read", "code"} for m in unread)
    assert [m["kind"] for m in unread] == ["sms", "sms"]
    assert all(m["read"] is False and m["id"].startswith("msg_") for m in unread)
    assert unread[0]["created_at"] == "2013-11-11T10:00:00+08:00"
    # Newest first, even under a frozen clock.
    assert "3456" in unread[0]["text"] and "0000" in unread[1]["text"]
    assert first["binding_id"] != second["binding_id"]
    # A script reading an SMS code leaves the red dot as it was: JSON and pipes mark nothing.
    assert cli.json("inbox") == unread
    assert len(cli("inbox").stdout.splitlines()) == 3
    assert cli.json("inbox", "--summary") == {"buyer": "me", "unread": 2, "sms": 2, "promo": 0}
    # --mark-read marks what was listed.
    result = cli("--json", "inbox", "--mark-read")
    assert json.loads(result.stdout) == unread and result.stderr == "2 marked read\n"
    assert cli.json("inbox") == []
    everything = cli.json("inbox", "--all")
    assert [m["id"] for m in everything] == [m["id"] for m in unread]
    assert all(m["read"] is True for m in everything)
    assert cli.json("inbox", "--summary")["unread"] == 0
    assert cli("--quiet", "inbox", "--all").stderr == ""


def test_mark_read_marks_only_the_messages_shown(cli, backend):
    from wxshop_cli import config
    from wxshop_cli.core import inbox
    from wxshop_cli.db import engine

    start(cli, TEST_DEBIT)
    config.activate(config.Settings())
    db = engine.database()
    with db.transaction(read_only=True) as session:
        listed = inbox.read_inbox(session, "me", include_read=False, tz=dt.UTC).rows
    start(cli, CMB_DEBIT)  # a new SMS arrives after the listing
    with db.transaction() as session:
        assert inbox.mark_read(session, "me", [m["id"] for m in listed]) == 1
    with db.transaction() as session:
        assert inbox.mark_read(session, "me", [m["id"] for m in listed]) == 0  # already read
    with db.transaction() as session:
        assert inbox.mark_read(session, "eve", [m["id"] for m in listed]) == 0  # not eve's
    with db.transaction(read_only=True) as session:
        assert inbox.unread_of(session, "me") == {"unread": 1, "sms": 1, "promo": 0}
        assert inbox.unread_of(session, "ghost") == {"unread": 0, "sms": 0, "promo": 0}
    engine.forget()


def test_a_terminal_listing_marks_what_it_showed(cli, monkeypatch):
    from wxshop_cli import output

    start(cli, TEST_DEBIT)
    with monkeypatch.context() as terminal:  # undo only this, not the test's private home
        terminal.setattr(output, "stdout_is_terminal", lambda: True)
        result = cli("inbox")
    assert result.exit_code == 0 and "Inbox of me · 1 unread" in result.stdout
    assert cli.json("inbox") == []


def test_other_buyers_do_not_see_my_messages(cli):
    start(cli, TEST_DEBIT)
    assert cli.json("--buyer", "eve", "inbox", "--all") == []
    assert len(cli.json("inbox")) == 1


def test_a_pipe_gets_tab_separated_messages(cli):
    start(cli, TEST_DEBIT)
    result = cli("inbox")
    header, row = result.stdout.splitlines()
    assert header == "id\tcreated_at\tkind\tcode\ttext\tread"
    fields = row.split("\t")
    assert fields[1:3] == ["2013-11-11 10:00:00", "sms"] and len(fields[3]) == 6
    assert fields[-1] == "false"


def test_push_message_unread_count_and_promo_once(cli, backend):
    from wxshop_cli import config
    from wxshop_cli.core import inbox
    from wxshop_cli.core.buyers import get_or_create_buyer
    from wxshop_cli.db import engine

    cli.json("db", "upgrade")
    config.activate(config.Settings())
    db = engine.database()
    with db.transaction() as session:
        buyer = get_or_create_buyer(session, "me", T0)
        assert inbox.unread_count(session, buyer.id) == 0
        inbox.push_message(session, buyer.id, "promo", "双11精选商品 开抢了", T0)
        inbox.push_message(session, buyer.id, "sms", "验证码 123456", T0, code="123456")
        assert inbox.unread_count(session, buyer.id) == 2
        buyer_id = buyer.id
    engine.forget()
    shown = cli.json("inbox", "--mark-read")
    assert [(m["kind"], m.get("code")) for m in shown] == [("sms", "123456"), ("promo", None)]
    assert "code" not in shown[1]
    db = engine.database()
    with db.transaction(read_only=True) as session:
        assert inbox.unread_count(session, buyer_id) == 0
    engine.forget()


def test_push_promo_once_pushes_a_promotion_once(cli, backend):
    from wxshop_cli import config
    from wxshop_cli.core import inbox
    from wxshop_cli.core.buyers import get_or_create_buyer
    from wxshop_cli.db import engine
    from wxshop_cli.db.models import Promo

    cli.json("db", "upgrade")
    config.activate(config.Settings())
    db = engine.database()
    with db.transaction() as session:
        buyer = get_or_create_buyer(session, "me", T0)
        promo = Promo(code="double11", title="双11", starts_at=T0, ends_at=T0, created_at=T0,
                      updated_at=T0)
        session.add(promo)
        session.flush()
        assert inbox.push_promo_once(session, buyer.id, promo.id, "双11 开抢", T0) is True
        assert inbox.push_promo_once(session, buyer.id, promo.id, "双11 开抢", T0) is False
        assert inbox.unread_count(session, buyer.id) == 1
    engine.forget()
    assert [m["kind"] for m in cli.json("--now", NOW, "inbox")] == ["promo"]


def test_a_push_to_more_buyers_than_one_batch_reaches_each_once(cli, backend):
    """Pushes go out in multi-row inserts of PUSH_BATCH buyers; crossing a batch boundary
    loses nobody and a second push writes nothing."""
    from sqlalchemy import func, select

    from tests import shop
    from wxshop_cli.core.inbox import PUSH_BATCH, push_promo_to
    from wxshop_cli.db.models import Buyer, InboxMessage, Promo

    db = shop.open_db()
    shop.promo(db, "p", [])
    with db.transaction() as session:
        promo = session.execute(select(Promo)).scalar_one()
        session.add_all(Buyer(name=f"b{i}", created_at=T0) for i in range(PUSH_BATCH + 7))
        session.flush()
        ids = list(session.execute(select(Buyer.id)).scalars())
        assert push_promo_to(session, ids, promo.id, "双11 开抢", T0) == PUSH_BATCH + 7
        assert push_promo_to(session, ids, promo.id, "双11 开抢", T0) == 0
        assert session.execute(select(func.count()).select_from(InboxMessage)).scalar_one() \
            == PUSH_BATCH + 7


def test_one_page_of_many_says_the_whole_inbox_unread_count(cli):
    for _ in range(3):
        start(cli, TEST_DEBIT)  # each start sends a new SMS code
    result = cli("--json", "inbox", "--limit", "2")
    first = json.loads(result.stdout)
    assert len(first) == 2
    assert result.stderr.splitlines()[-1] == \
        "3 unread (2 on this page), left unread (--mark-read marks them read)"
    cursor = next(line for line in result.stderr.splitlines() if "--after" in line)
    after = cursor.split("--after ")[1].split()[0].rstrip(")")
    rest = cli("--json", "inbox", "--limit", "2", "--after", after)
    assert len(json.loads(rest.stdout)) == 1
    assert rest.stderr.splitlines()[-1] == \
        "3 unread (1 on this page), left unread (--mark-read marks them read)"
    # Everything on one page: the count as before.
    assert cli("inbox").stderr == "3 unread, left unread (--mark-read marks them read)\n"
