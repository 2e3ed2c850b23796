"""The red dot on a real terminal (issue 14, item 7): `cards list` shows the unread promotion
pushes as the seed's "My bank cards" does; `inbox` on a terminal marks read what it showed,
and nothing else does (JSON, a pipe)."""

from __future__ import annotations

import json

import pytest

from tests import shop
from tests.terminal_helpers import finish, spawn

pexpect = pytest.importorskip("pexpect")


@pytest.fixture
def pushed(cli):
    from wxshop_cli.core.inbox import push_message

    db = shop.open_db()
    me = shop.shopper(db, "me")
    with db.transaction() as session:
        push_message(session, me["buyer_id"], "promo", "双11精选商品 开抢了 from ¥79.20",
                     shop.DURING_AT)
    shop.forget()
    return me


def test_cards_list_shows_the_red_dot_until_the_inbox_is_read_on_a_terminal(pushed, cli):
    code, text = finish(spawn("cards", "list"))
    assert code == 0
    assert "● 我的银行卡 My bank cards  1 unread promotion  (wxshop inbox)" in text
    assert pushed["card"] in text
    # Scripts read the inbox without clearing the dot (in-process: not a terminal either).
    result = cli("--json", "inbox")
    assert result.exit_code == 0 and len(json.loads(result.stdout)) == 1
    assert "1 unread" in result.stderr
    assert len(cli("inbox").stdout.splitlines()) == 2  # a pipe: header and the row
    assert "1 unread promotion" in finish(spawn("cards", "list"))[1]
    # A person reads it on the terminal: marked read, the dot is gone.
    code, text = finish(spawn("inbox"))
    assert code == 0 and "Inbox of me · 1 unread" in text and "开抢了" in text
    assert "○ 我的银行卡 My bank cards  nothing new" in finish(spawn("cards", "list"))[1]
    assert cli.json("inbox") == []


def test_json_on_a_terminal_does_not_mark_read(pushed, cli):
    assert finish(spawn("--json", "inbox"))[0] == 0
    assert cli.json("inbox", "--summary")["promo"] == 1
    assert "● 我的银行卡" in finish(spawn("cards", "list"))[1]
