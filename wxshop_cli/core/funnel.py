"""The conversion funnel of a promotion (`wxshop report funnel`): from a buyer shown it to a
payment, and where the others went.

What is counted, and where it comes from (docs/decisions.md, "The funnel"):
    shown     buyers the promotion was pushed to (their inbox message) or who saw its strips
              in `promo list` (a `promo_view` row: once per buyer, promotion and local day),
              and every buyer who tried (however it reached them)
    tried     attempts that reached the claim's units step: every order of the promotion,
              and every `funnel_event` of step sold_out or limit
    reserved  attempts that got an order (stock and limit taken)
    paid      orders paid (and possibly refunded since: the payment happened)
and how each attempt ended: paid, open (the bank has not answered yet, or unpaid within
its 15 minutes), sold_out, limit, refused (by the bank, with its reason), gave_up (an
unpaid order closed: cancelled or payment_timeout), and wrong_password (refused before the
claim: not a try, counted on its own).

The hot path writes nothing new for an attempt that made an order: the order is the record.
A claim refused for stock or limit inserts one `funnel_event` in its own transaction, next to
the idempotency key's stored refusal, so a replay of that key (answered from the key) never
counts again. A wrong payment password is written in a small transaction of its own, after
the password check and before any claim: no key is touched.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    literal_column,
    null,
    select,
    union_all,
)
from sqlmodel import col

from wxshop_cli.db.models import FunnelEvent, InboxMessage, Order, Promo, PromoView
from wxshop_cli.db.prepared import Prepared

SOLD_OUT, LIMIT, WRONG_PASSWORD = "sold_out", "limit", "wrong_password"
#: How an attempt ended, in the report's order.
OUTCOMES = ("paid", "open", SOLD_OUT, LIMIT, "refused", "gave_up", WRONG_PASSWORD)
#: The steps, each a subset of the one before.
STEPS = ("shown", "tried", "reserved", "paid")
GROUPINGS = ("item", "region", "hour")
#: Order states whose payment went through (a refund since does not undo the attempt).
_PAID_STATES = ("paid", "partially_refunded", "refunded")
_OPEN_STATES = ("pending_payment", "paying")
#: Close reasons that are the bank's refusal (checkout.outcome.REFUSAL_WORDS' codes).
_REFUSALS = ("declined", "insufficient_funds", "card_frozen", "single_limit", "daily_limit",
             "unknown_card", "refused")
_BUCKET_SECONDS = 900

_EVENT = Prepared(lambda _: insert(FunnelEvent.__table__).values(
    {name: bindparam(name) for name in (
        "step", "buyer_id", "promo_id", "item_id", "sku", "region_code", "at")}))


# ------------------------------------------------------------------ recording


def record_refusal(tx: Any, slug: str, buyer_id: int, ref: Any, now: dt.datetime) -> None:
    """A claim refused for stock or limit, in the claim's own transaction (hot path). A
    purchase at list price (no promotion) has no funnel and writes nothing."""
    if ref.promo_id is None:
        return
    tx.execute(_EVENT, step=LIMIT if slug == "limit_exceeded" else SOLD_OUT,
               buyer_id=buyer_id, promo_id=ref.promo_id, item_id=ref.item_id, sku=ref.sku,
               region_code=ref.region_code or "", at=tx.time(now))


def record_wrong_passwords(db: Any, attempts: list[tuple[str, str]], now: dt.datetime) -> None:
    """Buy attempts refused for a wrong payment password, as (buyer, item or SKU): one small
    transaction for them all, outside any claim (no key is used up). An item that names no
    promotion item (unknown, or a SKU at list price) is not a funnel's attempt."""
    from sqlmodel import select as orm_select

    from wxshop_cli.core.buyers import find_buyer
    from wxshop_cli.db.models import PromoItem

    rows = []
    with db.transaction() as session:
        for buyer_name, item in attempts:
            buyer = find_buyer(session, buyer_name)
            if buyer is None:
                continue
            if item.startswith("item_"):
                found = session.get(PromoItem, item)
            else:
                live = session.exec(orm_select(PromoItem).join(
                    Promo, col(Promo.id) == col(PromoItem.promo_id)).where(
                    PromoItem.sku == item, Promo.state == "published",
                    col(Promo.starts_at) <= now, col(Promo.ends_at) > now)).all()
                found = live[0] if len(live) == 1 else None
            if found is not None:
                rows.append({"step": WRONG_PASSWORD, "buyer_id": buyer.id,
                             "promo_id": found.promo_id, "item_id": found.id, "sku": found.sku,
                             "region_code": "", "at": now})
        if rows:
            session.execute(insert(FunnelEvent.__table__), rows)


def record_views(db: Any, buyer_name: str, codes: list[str], now: dt.datetime,
                 tz: ZoneInfo) -> None:
    """A buyer saw these promotions' strips: once per buyer, promotion and local day
    (insert-or-ignore). A buyer the shop has not met yet (no purchase, no card) is not
    created by looking."""
    if not codes:
        return
    import contextlib

    from wxshop_cli.errors import WxError

    with contextlib.suppress(WxError):  # a busy or read-only database: the listing answers
        _write_views(db, buyer_name, codes, now.astimezone(tz).date(), now)


def _write_views(db: Any, buyer_name: str, codes: list[str], day: dt.date,
                 now: dt.datetime) -> None:
    from wxshop_cli.core.buyers import find_buyer
    from wxshop_cli.db.sql import insert_ignore

    with db.transaction() as session:
        buyer = find_buyer(session, buyer_name)
        if buyer is None:
            return
        ids = session.execute(select(col(Promo.id)).where(col(Promo.code).in_(codes))
                              ).scalars().all()
        for promo_id in ids:
            insert_ignore(session, PromoView, {"promo_id": promo_id, "buyer_id": buyer.id,
                                               "day": day, "at": now},
                          ["promo_id", "buyer_id", "day"])


# ------------------------------------------------------------------ the report


def _day_bounds(day: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def _quarter(column: Any, dialect: str) -> Any:
    """The UTC quarter hour of a time column (seconds since the epoch / 900)."""
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", column) / _BUCKET_SECONDS), BigInteger)
    return cast(func.strftime("%s", column), BigInteger).op("/")(
        literal_column(str(_BUCKET_SECONDS)))


def _attempts(promo_id: int | None, bounds: tuple | None) -> Any:
    """Every attempt of the funnel as one row: buyer, sku, region, time, outcome, reason."""
    o, e = Order.__table__.c, FunnelEvent.__table__.c
    outcome = case(
        (o.status.in_(_PAID_STATES), literal("paid")),
        (o.status.in_(_OPEN_STATES), literal("open")),
        (o.close_reason.in_(_REFUSALS), literal("refused")),
        else_=literal("gave_up"))
    reason = case((o.status == "closed", o.close_reason), else_=null())
    orders = select(o.buyer_id.label("buyer_id"), o.sku.label("sku"),
                    o.region_code.label("region"), o.created_at.label("at"),
                    outcome.label("outcome"), reason.label("reason")).where(
        o.promo_id.is_not(None))
    events = select(e.buyer_id, e.sku, e.region_code, e.at, e.step, null())
    if promo_id is not None:
        orders, events = orders.where(o.promo_id == promo_id), events.where(
            e.promo_id == promo_id)
    else:
        events = events.where(e.promo_id.is_not(None))
    if bounds is not None:
        orders = orders.where(o.created_at >= bounds[0], o.created_at < bounds[1])
        events = events.where(e.at >= bounds[0], e.at < bounds[1])
    return union_all(orders, events).subquery("attempt")


def _shown(promo_id: int | None, day: dt.date | None, bounds: tuple | None) -> Any:
    """Every showing: a push (counted on a day when it reached the inbox by that day's end:
    it stays there) or a view of the strips that day."""
    m, v = InboxMessage.__table__.c, PromoView.__table__.c
    pushes = select(m.buyer_id.label("buyer_id"), m.created_at.label("at")).where(
        m.kind == "promo", m.promo_id.is_not(None))
    views = select(v.buyer_id, v.at)
    if promo_id is not None:
        pushes, views = pushes.where(m.promo_id == promo_id), views.where(
            v.promo_id == promo_id)
    if day is not None and bounds is not None:
        pushes, views = pushes.where(m.created_at < bounds[1]), views.where(v.day == day)
    return union_all(pushes, views).subquery("shown")


class _Group:
    """What one group (or the whole funnel) adds up."""

    def __init__(self) -> None:
        self.shown: set[int] = set()
        self.buyers: dict[str, set[int]] = {step: set() for step in STEPS[1:]}
        self.attempts = dict.fromkeys(STEPS[1:], 0)
        self.outcomes = dict.fromkeys(OUTCOMES, 0)
        self.reasons: dict[str, dict[str, int]] = {"refused": {}, "gave_up": {}}

    def add(self, buyer: int, outcome: str, reason: str | None, count: int) -> None:
        self.outcomes[outcome] += count
        if outcome in self.reasons:
            found = self.reasons[outcome]
            found[reason or "unknown"] = found.get(reason or "unknown", 0) + count
        if outcome == WRONG_PASSWORD:
            return
        reached = ["tried"]
        if outcome not in (SOLD_OUT, LIMIT):
            reached.append("reserved")
        if outcome == "paid":
            reached.append("paid")
        for step in reached:
            self.attempts[step] += count
            self.buyers[step].add(buyer)

    def public(self, with_shown: bool) -> dict[str, Any]:
        steps, before = [], None
        for step in STEPS:
            if step == "shown":
                # A buyer who tried was shown it, however it reached them (a shared link,
                # the SKU typed): the funnel never widens.
                buyers = len(self.shown | self.buyers["tried"]) if with_shown else None
                attempts = None
            else:
                buyers, attempts = len(self.buyers[step]), self.attempts[step]
            drop = rate = None
            if before is not None and buyers is not None:
                drop = max(before - buyers, 0)
                rate = round(buyers / before, 4) if before else None
            steps.append({"step": step, "buyers": buyers, "attempts": attempts,
                          "drop": drop, "conversion": rate})
            before = buyers
        return {"steps": steps, "outcomes": dict(self.outcomes),
                "reasons": {k: dict(sorted(v.items(), key=lambda kv: (-kv[1], kv[0])))
                            for k, v in self.reasons.items()}}


def funnel(session: Any, tz: ZoneInfo, *, promo_code: str | None = None,
           day: dt.date | None = None, by: str | None = None) -> dict[str, Any]:
    """The funnel's numbers: steps (buyers and attempts, the drop and conversion from the
    step before), how attempts ended, the reasons; with `by`, the same per item (SKU),
    region (an address's; "" for a top-up) or local hour. Counted in the database per
    (group, buyer, outcome), folded here (distinct buyers per step)."""
    from wxshop_cli.core.promos import require_promo

    if by is not None and by not in GROUPINGS:
        raise ValueError(by)
    promo_id = require_promo(session, promo_code).id if promo_code is not None else None
    bounds = _day_bounds(day, tz) if day is not None else None
    dialect = session.get_bind().dialect.name
    attempt = _attempts(promo_id, bounds)
    a = attempt.c
    keys: dict[str | None, Any] = {"item": a.sku, "region": a.region,
                                   "hour": _quarter(a.at, dialect)}
    key = keys.get(by, literal("all"))
    query = select(key.label("key"), a.buyer_id, a.outcome, a.reason, func.count()).group_by(
        key, a.buyer_id, a.outcome, a.reason)
    total, groups = _Group(), dict[str, _Group]()
    for group_key, buyer, outcome, reason, count in session.execute(query):
        label = _hour(group_key, tz) if by == "hour" else group_key
        for group in (total, groups.setdefault(label, _Group())):
            group.add(buyer, outcome, reason, int(count))
    shown = _shown(promo_id, day, bounds)
    s = shown.c
    shown_key = _quarter(s.at, dialect) if by == "hour" else literal("all")
    for group_key, buyer in session.execute(select(shown_key, s.buyer_id).distinct()):
        total.shown.add(buyer)
        if by == "hour":
            groups.setdefault(_hour(group_key, tz), _Group()).shown.add(buyer)
    document = {"promo": promo_code, "date": day.isoformat() if day else None, "by": by,
                **total.public(True)}
    if by is not None:
        document["groups"] = [{"key": label, "label": _label(by, label),
                               **groups[label].public(by == "hour")}
                              for label in _ordered(by, groups)]
    return document


def _hour(quarter: Any, tz: ZoneInfo) -> str:
    local = dt.datetime.fromtimestamp(int(quarter) * _BUCKET_SECONDS, dt.UTC).astimezone(tz)
    return local.replace(minute=0, second=0, microsecond=0).isoformat()


def _label(by: str, key: str) -> str:
    if by == "hour":
        return dt.datetime.fromisoformat(key).strftime("%Y-%m-%d %H:00")
    if by == "region":
        if not key:
            return "(top-up: no region)"
        from wxshop_cli.core.regions import all_regions

        return next((r["name"] for r in all_regions() if r["code"] == key), key)
    return key


def _ordered(by: str, groups: dict[str, _Group]) -> list[str]:
    if by == "hour":
        return sorted(groups)
    return sorted(groups, key=lambda k: (-groups[k].attempts["tried"], k))


def rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The report as flat rows (TSV): per group ("all" first), each step, then each ending
    with its reasons."""
    sections = [("all", document)] + [(g["key"], g) for g in document.get("groups", [])]
    flat = []
    for name, section in sections:
        for step in section["steps"]:
            flat.append({"group": name, "step": step["step"], "reason": "",
                         "buyers": step["buyers"], "attempts": step["attempts"],
                         "drop": step["drop"], "conversion": step["conversion"]})
        for outcome in OUTCOMES:
            reasons = section["reasons"].get(outcome)
            if reasons:
                for reason, count in reasons.items():
                    flat.append({"group": name, "step": f"ended:{outcome}", "reason": reason,
                                 "buyers": None, "attempts": count, "drop": None,
                                 "conversion": None})
            else:
                flat.append({"group": name, "step": f"ended:{outcome}", "reason": "",
                             "buyers": None, "attempts": section["outcomes"][outcome],
                             "drop": None, "conversion": None})
    return flat


__all__ = ["GROUPINGS", "OUTCOMES", "STEPS", "funnel", "record_refusal",
           "record_views", "record_wrong_passwords", "rows"]
