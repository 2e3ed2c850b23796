"""The idempotency key of a buy: claimed with its order number in transaction one, replayed,
taken over from a crashed process, released on an interrupt, and marked done with the
outcome. Hot-path statements (see db/prepared.py)."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, null, select, update
from sqlmodel import col

from wxshop_cli.core.checkout.outcome import Claim, Outcome
from wxshop_cli.core.checkout.reference import buyer_id_for
from wxshop_cli.db.models import IdempotencyKey
from wxshop_cli.db.prepared import Prepared, dialect_insert, hot_transaction
from wxshop_cli.errors import Conflict, SoldOut, TryAgain

if TYPE_CHECKING:
    from wxshop_cli.db.engine import Database
    from wxshop_cli.db.prepared import HotTransaction

KEY_TTL = dt.timedelta(hours=24)
#: A claim older than this was left by a crashed process; a retry may take it over.
CLAIM_TIMEOUT = dt.timedelta(seconds=60)

_KEY_CLAIM = Prepared(lambda d: dialect_insert(d, IdempotencyKey.__table__).values(
    buyer_id=bindparam("buyer_id"), key=bindparam("key"), request_hash=bindparam("request_hash"),
    state="running", order_no=bindparam("order_no"), claimed_at=bindparam("now"),
    expires_at=bindparam("expires_at"),
).on_conflict_do_nothing(index_elements=["buyer_id", "key"]).returning(
    IdempotencyKey.__table__.c.buyer_id))
_KEY_READ = Prepared(lambda _: select(
    *map(col, (IdempotencyKey.request_hash, IdempotencyKey.state, IdempotencyKey.order_no,
               IdempotencyKey.response_json, IdempotencyKey.claimed_at, IdempotencyKey.expires_at)),
).where(col(IdempotencyKey.buyer_id) == bindparam("buyer_id"),
         col(IdempotencyKey.key) == bindparam("key")))


def _KEY_WHERE() -> tuple[Any, Any]:
    return (IdempotencyKey.buyer_id == bindparam("buyer_id"),
            IdempotencyKey.key == bindparam("key"))


_KEY_DELETE = Prepared(lambda _: delete(IdempotencyKey).where(*_KEY_WHERE()))
_KEY_TAKE_OVER = Prepared(lambda _: update(IdempotencyKey).where(*_KEY_WHERE()).values(
    claimed_at=bindparam("now")))
_KEY_DONE = Prepared(lambda _: update(IdempotencyKey).where(*_KEY_WHERE()).values(
    state="done", exit_code=bindparam("exit_code")))
_KEY_REFUSED = Prepared(lambda _: update(IdempotencyKey).where(*_KEY_WHERE()).values(
    state="done", order_no=null(), exit_code=bindparam("exit_code"),
    response_json=bindparam("response_json")))
_KEY_RELEASE = Prepared(lambda _: update(IdempotencyKey).where(
    *_KEY_WHERE(), col(IdempotencyKey.state) == "running").values(claimed_at=bindparam("lapsed")))


def claim_key(tx: HotTransaction, buyer_id: int, fingerprint: str, key: str, order_no: str,
              now: dt.datetime) -> Claim | None:
    """Claim `key` for the new order `order_no`. None when it is claimed (the caller goes on
    to reserve the order); the earlier claim's answer when the key was used before."""
    if tx.one(_KEY_CLAIM, buyer_id=buyer_id, key=key, request_hash=fingerprint,
              order_no=order_no, now=tx.time(now),
              expires_at=tx.time(now + KEY_TTL)) is not None:
        return None
    return _existing_claim(tx, buyer_id, fingerprint, key, order_no, now)


def _existing_claim(tx: HotTransaction, buyer_id: int, fingerprint: str, key: str, order_no: str,
                    now: dt.datetime) -> Claim | None:
    """The key was claimed before. None when an expired key was dropped and claimed afresh
    with `order_no` (the caller goes on as for a new key)."""
    row = tx.one(_KEY_READ, buyer_id=buyer_id, key=key)
    request_hash, state, claimed_order_no, response_json = row[:4]
    claimed_at, expires_at = tx.from_time(row[4]), tx.from_time(row[5])
    if expires_at <= now or (state != "done" and claimed_order_no is None):
        # Past its 24 hours, or a claim that never reserved anything: claim it afresh.
        tx.execute(_KEY_DELETE, buyer_id=buyer_id, key=key)
        tx.execute(_KEY_CLAIM, buyer_id=buyer_id, key=key, request_hash=fingerprint,
                   order_no=order_no, now=tx.time(now), expires_at=tx.time(now + KEY_TTL))
        return None
    if request_hash != fingerprint:
        raise Conflict("idempotency key already used for another request",
                       slug="idempotency_key_reused", idempotency_key=key,
                       hint="use a new key for a different purchase")
    if state == "done":
        replay = Outcome(order=None, idempotency_key=key, key_generated=False, replayed=True)
        if claimed_order_no is None:
            stored = json.loads(response_json or "{}")
            replay.error = SoldOut(stored.get("message", "sold out"),
                                   slug=stored.get("slug", "sold_out"), **stored.get("extra", {}))
        return Claim(replay=replay, replay_order_no=claimed_order_no)
    if now - claimed_at < CLAIM_TIMEOUT:
        raise TryAgain("the same request is still running", slug="request_in_progress",
                       idempotency_key=key, order_no=claimed_order_no,
                       hint="retry in a minute with the same key")
    # A claim left by a crashed process: take it over and ask the gateway first.
    tx.execute(_KEY_TAKE_OVER, buyer_id=buyer_id, key=key, now=tx.time(now))
    return Claim(resume_order_no=claimed_order_no)


def store_refusal(tx: HotTransaction, buyer_id: int, key: str, refusal: SoldOut) -> None:
    """A purchase refused in its claim (sold out, limit): the outcome is kept on the key, so
    a replay answers the same."""
    refusal.extra["idempotency_key"] = key
    tx.execute(_KEY_REFUSED, buyer_id=buyer_id, key=key, exit_code=refusal.exit_code,
               response_json=json.dumps({"slug": refusal.slug, "message": refusal.message,
                                         "extra": refusal.extra}, ensure_ascii=False))


def mark_done(tx: HotTransaction, buyer_id: int, key: str, exit_code: int) -> None:
    tx.execute(_KEY_DONE, buyer_id=buyer_id, key=key, exit_code=exit_code)


def finish_key(db: Database, buyer_id: int, key: str, outcome: Outcome) -> None:
    # Done even when the payment is unknown: a replay settles the order with the gateway
    # first (see settle.refresh_replay), so the retry answers with the settled state.
    with hot_transaction(db) as tx:
        mark_done(tx, buyer_id, key, outcome.exit_code)


def release_claim(db: Database, buyer_name: str, key: str, now: dt.datetime) -> None:
    """Let a retry take over at once a claim this process gives up (an interrupt while the
    bank was asked): the retry asks the gateway about the order before anything else, as for
    a crashed process's claim, so it never pays twice."""
    with hot_transaction(db) as tx:
        buyer_id = buyer_id_for(tx, db, buyer_name, now)
        tx.execute(_KEY_RELEASE, buyer_id=buyer_id, key=key,
                   lapsed=tx.time(now - CLAIM_TIMEOUT - dt.timedelta(seconds=1)))
