"""A Double 11 rehearsal (`wxshop rehearse`, SPEC section 13): a seeded crowd, its storms,
and the verdict that proves the book afterwards.

The domain half, with no terminal and no processes: `prepare` publishes the promotion and
creates the crowd; `make_plan` decides, from the seed alone, who buys what and when, and
which storms hit; `verdict` checks the book once the crowd is gone. The command
(commands/rehearse.py) runs the plan through `wxshop buy --from -` worker processes — the
same checkout as every purchase — and draws the dashboard.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from wxshop_cli.errors import UsageError

STORMS = ("last_units", "limit_race", "same_key", "refusals", "timeouts", "kill")
PASSWORD = "201311"  # every rehearsal buyer's payment password (the sandbox's, not secret)
#: Test cards by behaviour (SPEC section 5): the crowd binds these.
CARDS = {"approve": "6222020000000000000", "decline": "6222020000000004002",
         "insufficient_funds": "6222020000000009951", "frozen": "6222020000000000695",
         "timeout": "6222020000000001198"}
MAX_BUYERS = 1_000_000
CROWD_SCRYPT_N = 16  # the crowd's password hash cost: a sandbox password (docs/guide.md)
#: The rehearsal happens this long after the promotion opens (the midnight rush) …
RUSH_OFFSET = dt.timedelta(seconds=30)
#: … and a killed worker's purchases are retried past the claim timeout.
RETRY_OFFSET = dt.timedelta(seconds=91)


@dataclass
class Options:
    seed: int = 1
    buyers: int = 200
    duration: float = 10.0
    workers: int = 2
    group: int = 8
    storms: frozenset[str] = frozenset(STORMS)
    refusal_rate: float = 0.05
    timeout_rate: float = 0.02

    def check(self) -> None:
        if not 1 <= self.buyers <= MAX_BUYERS:
            raise UsageError(f"--buyers takes 1 to {MAX_BUYERS:,}", slug="usage",
                             hint="e.g. --buyers 10000")
        if not 0.1 <= self.duration <= 3600:
            raise UsageError("--duration takes 0.1 to 3600 seconds", slug="usage",
                             hint="e.g. --duration 60")
        if not 1 <= self.workers <= 32:
            raise UsageError("--workers takes 1 to 32", slug="usage", hint="e.g. --workers 4")
        if not 1 <= self.group <= 1000:
            raise UsageError("--group takes 1 to 1000", slug="usage", hint="e.g. --group 8")
        for rate, name in ((self.refusal_rate, "--refusal-rate"),
                           (self.timeout_rate, "--timeout-rate")):
            if not 0 <= rate <= 0.5:
                raise UsageError(f"{name} takes 0 to 0.5", slug="usage", hint="e.g. 0.05")


def parse_storms(text: str) -> frozenset[str]:
    """`all`, `none`, or a comma list of storm names."""
    if text == "all":
        return frozenset(STORMS)
    if text == "none":
        return frozenset()
    names = {name.strip() for name in text.split(",")}
    if "" in names:
        raise UsageError("--storms takes all, none, or a comma list of storm names",
                         slug="usage", hint=f"storms: {', '.join(STORMS)}")
    unknown = sorted(names - set(STORMS))
    if unknown:
        raise UsageError(f"unknown storm {unknown[0]!r}", slug="usage",
                         hint=f"storms: all, none, or some of {', '.join(STORMS)}")
    return frozenset(names)


@dataclass
class Item:
    id: str
    sku: str
    title: str
    stock_total: int
    limit: int | None


@dataclass
class Stage:
    """What `prepare` set up: the promotion's items, the crowd and the sale's clock."""

    promo_code: str
    now: dt.datetime
    items: list[Item]
    buyers: list[str]
    behaviour: dict[str, str]  # buyer → card behaviour

    @property
    def retry_now(self) -> dt.datetime:
        return self.now - RUSH_OFFSET + RETRY_OFFSET


@dataclass
class Send:
    """One line for a worker at a moment of the rehearsal (seconds from its start)."""

    at: float
    worker: int
    line: dict[str, Any]
    storm: str = ""


@dataclass
class Plan:
    sends: list[Send]
    workers: int  # including the worker that is killed, if any
    kill_worker: int | None = None
    kill_at: float = 0.0
    hot_item: str | None = None
    limit_item: str | None = None
    raced_keys: list[str] = field(default_factory=list)
    limit_buyers: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ setting the stage


def prepare(db: Any, options: Options, spec: Any, tz: Any) -> Stage:
    """Publish the promotion (no push: the crowd is not the point) and create the crowd:
    buyers with a sandbox test card, an address in a served region and the payment
    password. Buyers are written directly, in bulk: binding is not what is rehearsed."""
    from wxshop_cli.core import promos

    now = spec.starts_at + RUSH_OFFSET
    with db.transaction() as session:
        promos.apply_spec(session, spec, now=spec.starts_at - dt.timedelta(hours=1), tz=tz,
                          notify=False, force=True)
        promo = promos.require_promo(session, spec.code)
        rows = promos.items_of(session, promo.id)
        from wxshop_cli.db.models import Product

        titles = dict(session.execute(select(Product.sku, Product.title)).all())
        items = [Item(row.id, row.sku, titles.get(row.sku, row.sku), row.stock_total,
                      row.per_buyer_limit) for row in rows]
        regions = list(promos.regions_of(session, promo.id)) or ["310000"]
    rng = random.Random(options.seed)
    buyers = [f"r{n:06d}" for n in range(options.buyers)]
    behaviour = {name: _behaviour(rng, options) for name in buyers}
    _every_behaviour_once(buyers, behaviour, options)
    _create_crowd(db, buyers, behaviour, regions, rng, now)
    return Stage(promo_code=spec.code, now=now, items=items, buyers=buyers,
                 behaviour=behaviour)


def _behaviour(rng: random.Random, options: Options) -> str:
    roll = rng.random()
    if "refusals" in options.storms and roll < options.refusal_rate:
        return rng.choice(("decline", "insufficient_funds", "frozen"))
    if "timeouts" in options.storms and roll < options.refusal_rate + options.timeout_rate:
        return "timeout"
    return "approve"


def _every_behaviour_once(buyers: list[str], behaviour: dict[str, str],
                          options: Options) -> None:
    """A storm that is on is really raised: a crowd of ten or more has at least one buyer
    of each refusing card and of the timing-out one (the last buyers, by name)."""
    wanted = (["decline", "insufficient_funds", "frozen"] if "refusals" in options.storms
              else []) + (["timeout"] if "timeouts" in options.storms else [])
    if len(buyers) < 10:
        return
    for kind in wanted:
        if kind not in behaviour.values():
            spare = next(b for b in reversed(buyers) if behaviour[b] == "approve")
            behaviour[spare] = kind


def _create_crowd(db: Any, buyers: list[str], behaviour: dict[str, str], regions: list[str],
                  rng: random.Random, now: dt.datetime) -> None:
    from wxshop_cli import security
    from wxshop_cli.core.cards import FINGERPRINT, check_number
    from wxshop_cli.core.paypassword import hash_password
    from wxshop_cli.db.models import Address, Buyer, Card, GatewayCard
    from wxshop_cli.db.types import new_id

    # One hash for the whole crowd, at a sandbox cost: every worker checks each of its buyers
    # once, and a rehearsal of 10,000 buyers should not spend minutes in scrypt.
    password_hash = hash_password(db.key, PASSWORD, n=CROWD_SCRYPT_N)
    numbers = {kind: check_number(number) for kind, number in CARDS.items()}
    prints = {kind: security.keyed_hash(db.key, FINGERPRINT, n.digits)
              for kind, n in numbers.items()}
    chunk = 2000
    for start in range(0, len(buyers), chunk):
        names = buyers[start:start + chunk]
        with db.transaction() as session:
            session.execute(Buyer.__table__.insert(), [
                {"name": name, "created_at": now, "pay_failures": 0,
                 "pay_password_hash": password_hash} for name in names])
            ids = dict(session.execute(select(Buyer.name, Buyer.id).where(
                Buyer.name.in_(names))).all())
            cards, gateway, addresses = [], [], []
            for name in names:
                kind = behaviour[name]
                number, card_id = numbers[kind], new_id("card")
                cards.append({
                    "id": card_id, "buyer_id": ids[name], "fingerprint": prints[kind],
                    "brand": number.brand, "bank": number.row.bank,
                    "bank_code": number.row.bank_code, "card_type": number.row.card_type,
                    "first6": number.first6, "last4": number.last4, "is_default": True,
                    "is_test": True, "holder_masked": "*三", "phone_masked": "138****8000",
                    "status": "bound", "bound_at": now})
                gateway.append({
                    "token": card_id, "behaviour": number.behaviour,
                    "bank_code": number.row.bank_code,
                    "single_limit_fen": number.row.single_limit_fen,
                    "daily_limit_fen": number.row.daily_limit_fen, "created_at": now})
                addresses.append({
                    "id": new_id("addr"), "buyer_id": ids[name],
                    "region_code": rng.choice(regions), "city": "上海市",
                    "street": "淮海中路 1 号", "contact": "张三", "phone": "13800138000",
                    "is_default": True, "created_at": now})
            session.execute(Card.__table__.insert(), cards)
            session.execute(GatewayCard.__table__.insert(), gateway)
            session.execute(Address.__table__.insert(), addresses)


# ------------------------------------------------------------------ the plan


def make_plan(stage: Stage, options: Options) -> Plan:
    """Who buys what, when and through which worker: from the seed alone."""
    rng = random.Random(options.seed * 7919 + 1)
    duration, workers = options.duration, options.workers
    kill = "kill" in options.storms and workers >= 1
    plan = Plan(sends=[], workers=workers + (1 if kill else 0))
    if kill:
        plan.kill_worker, plan.kill_at = workers, duration * 0.5
    items = stage.items
    hot = min(items, key=lambda item: item.stock_total)
    plan.hot_item = hot.id if "last_units" in options.storms else None
    weights = [1.0 / (rank + 1) for rank in range(len(items))]
    # The crowd: one purchase each, arriving in a midnight rush (most in the first moments).
    hot_crowd = min(len(stage.buyers), 3 * hot.stock_total + 3) if plan.hot_item else 0
    for n, buyer in enumerate(stage.buyers):
        at = duration * rng.random() ** 3
        if n < hot_crowd:
            item, at = hot, duration * 0.05 * rng.random()  # the last units, raced at once
        else:
            item = rng.choices(items, weights)[0]
        worker = n % workers
        if kill and rng.random() < 0.15:
            worker = plan.kill_worker
        plan.sends.append(Send(at, worker, {"buyer": buyer, "item": item.id,
                                            "idempotency_key": f"rh{options.seed}-{n}"},
                               "last_units" if n < hot_crowd else ""))
    approving = [b for b in stage.buyers if stage.behaviour[b] == "approve"]
    limited = [item for item in items if item.limit and item.id != plan.hot_item]
    if "limit_race" in options.storms and limited and approving:
        target = max(limited, key=lambda item: item.stock_total)
        plan.limit_item = target.id
        plan.limit_buyers = rng.sample(approving[-50:], min(3, len(approving)))
        for buyer in plan.limit_buyers:
            for k in range(target.limit + 2):  # more than the limit, from every worker
                plan.sends.append(Send(duration * 0.2, k % workers, {
                    "buyer": buyer, "item": target.id,
                    "idempotency_key": f"rh{options.seed}-limit-{buyer}-{k}"}, "limit_race"))
    if "same_key" in options.storms and approving:
        roomy = max(items, key=lambda item: (item.limit is None, item.stock_total))
        for j, buyer in enumerate(rng.sample(approving[:50], min(3, len(approving)))):
            key = f"rh{options.seed}-same-{j}"
            plan.raced_keys.append(key)
            for worker in range(workers):  # one key sent by every worker at once
                plan.sends.append(Send(duration * 0.3, worker, {
                    "buyer": buyer, "item": roomy.id, "idempotency_key": key}, "same_key"))
    plan.sends.sort(key=lambda send: send.at)
    return plan


# ------------------------------------------------------------------ the verdict


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def verdict(db: Any, stage: Stage, plan: Plan, results: list[dict[str, Any]],
            killed_keys: set[str], bill_path: Any) -> list[Check]:
    """Every check of a sale day, on the book as the crowd left it (after the killed
    worker's retry and the sweep of unknown payments)."""
    from wxshop_cli.core.audit import audit_book

    checks = []
    report = audit_book(db, stage.retry_now)
    checks.append(Check("audit", report.clean, "clean" if report.clean else ", ".join(
        f"{kind} {n}" for kind, n in sorted(report.counts.items()))))
    with db.transaction(read_only=True) as session:
        checks += _stock_checks(session, stage, plan)
        checks += _limit_checks(session, stage, plan)
        checks += _key_checks(session, stage, plan, results, killed_keys)
    checks.append(_reconciles(db, stage, bill_path))
    return checks


def _units(session: Any) -> dict[str, int]:
    from wxshop_cli.db.models import Order

    return dict(session.execute(select(Order.item_id, func.sum(Order.qty)).where(
        Order.stock_returned.is_(False), Order.item_id.is_not(None)).group_by(Order.item_id)
    ).all())


def _stock_checks(session: Any, stage: Stage, plan: Plan) -> list[Check]:
    from wxshop_cli.db.models import PromoItem

    units = _units(session)
    sold = dict(session.execute(select(PromoItem.id, PromoItem.sold).where(
        PromoItem.id.in_([item.id for item in stage.items]))).all())
    over = [i.sku for i in stage.items if sold[i.id] > i.stock_total or
            units.get(i.id, 0) > i.stock_total]
    sold_out = [i for i in stage.items if sold[i.id] == i.stock_total]
    inexact = [i.sku for i in sold_out if units.get(i.id, 0) != i.stock_total]
    checks = [Check("never oversold", not over, "every item within its stock" if not over
                    else f"over stock: {', '.join(over)}"),
              Check("sold-out items sold exactly their stock", not inexact,
                    f"{len(sold_out)} sold out, each exactly" if not inexact
                    else f"not exact: {', '.join(inexact)}")]
    if plan.hot_item is not None:
        hot = next(i for i in stage.items if i.id == plan.hot_item)
        checks.append(Check("storm last_units: the raced units sold exactly once",
                            sold[hot.id] == hot.stock_total == units.get(hot.id, 0),
                            f"{hot.sku}: {units.get(hot.id, 0)} of {hot.stock_total} sold"))
    return checks


def _limit_checks(session: Any, stage: Stage, plan: Plan) -> list[Check]:
    from wxshop_cli.db.models import Buyer, Order

    limits = {item.id: item.limit for item in stage.items if item.limit}
    rows = session.execute(select(Buyer.name, Order.item_id, func.sum(Order.qty)).join(
        Buyer, Buyer.id == Order.buyer_id).where(
        Order.stock_returned.is_(False), Order.item_id.in_(list(limits) or [""])).group_by(
        Buyer.name, Order.item_id)).all()
    broken = [f"{name}@{item}" for name, item, units in rows if units > limits[item]]
    checks = [Check("no per-buyer limit exceeded", not broken, "every buyer within limits"
                    if not broken else f"over the limit: {', '.join(broken[:5])}")]
    if plan.limit_item is not None:
        got = {name: units for name, item, units in rows if item == plan.limit_item}
        limit = limits[plan.limit_item]
        exact = all(got.get(buyer, 0) == limit for buyer in plan.limit_buyers)
        checks.append(Check("storm limit_race: each raced buyer got exactly the limit", exact,
                            ", ".join(f"{b} {got.get(b, 0)}/{limit}"
                                      for b in plan.limit_buyers)))
    return checks


def _key_checks(session: Any, stage: Stage, plan: Plan, results: list[dict[str, Any]],
                killed_keys: set[str]) -> list[Check]:
    from wxshop_cli.db.models import GatewayPayment, Order

    per_key = Counter(dict(session.execute(select(Order.idempotency_key, func.count()).group_by(
        Order.idempotency_key)).all()))
    checks = []
    if plan.raced_keys:
        answers: dict[str, set[str]] = defaultdict(set)
        for row in results:
            if row.get("idempotency_key") in plan.raced_keys and row.get("order_no"):
                answers[row["idempotency_key"]].add(row["order_no"])
        # At most one (none when the item sold out first), and every worker said the same.
        ok = all(per_key[k] <= 1 and len(answers[k]) <= 1 for k in plan.raced_keys)
        checks.append(Check("storm same_key: at most one order per raced key", ok, ", ".join(
            f"{k}: {per_key[k]} order(s)" for k in plan.raced_keys)))
    refusing = {b for b, kind in stage.behaviour.items() if kind not in ("approve", "timeout")}
    if refusing:
        charged = session.execute(select(func.count()).select_from(Order).join(
            GatewayPayment, GatewayPayment.out_trade_no == Order.order_no).where(
            GatewayPayment.status == "SUCCESS", Order.buyer_id.in_(_ids(session, refusing)))
        ).scalar_one()
        checks.append(Check("storm refusals: refusing cards charged nothing", charged == 0,
                            f"{len(refusing)} buyers with refusing cards, {charged} charged"))
    timeouts = {b for b, kind in stage.behaviour.items() if kind == "timeout"}
    if timeouts:
        unsettled = session.execute(select(func.count()).select_from(Order).where(
            Order.status.in_(("paying", "pending_payment")),
            Order.buyer_id.in_(_ids(session, timeouts)))).scalar_one()
        checks.append(Check("storm timeouts: every unknown payment settled", unsettled == 0,
                            f"{len(timeouts)} buyers behind a timing-out bank, "
                            f"{unsettled} unsettled"))
    if plan.kill_worker is not None:
        twice = [k for k in killed_keys if per_key[k] > 1]
        unsettled = session.execute(select(func.count()).select_from(Order).where(
            Order.idempotency_key.in_(list(killed_keys) or [""]),
            Order.status.in_(("paying", "pending_payment")))).scalar_one()
        checks.append(Check("storm kill: every killed purchase paid once or not at all",
                            not twice and unsettled == 0,
                            f"{len(killed_keys)} purchases of the killed worker retried; "
                            f"{len(twice)} with two orders, {unsettled} unsettled"))
    return checks


def _ids(session: Any, names: set[str]) -> list[int]:
    from wxshop_cli.db.models import Buyer

    return list(session.execute(select(Buyer.id).where(Buyer.name.in_(list(names)))).scalars())


def _reconciles(db: Any, stage: Stage, bill_path: Any) -> Check:
    """The day's bill, exported from the sandbox platform, reconciles clean."""
    from wxshop_cli.clock import beijing
    from wxshop_cli.core import reconcile
    from wxshop_cli.core.billformat import open_bill
    from wxshop_cli.core.bills import write_bill

    day = stage.now.astimezone(beijing()).date()
    with open(bill_path, "wb") as out:
        exported = write_bill(db, day, "ALL", out)
    with open_bill(bill_path) as source:
        outcome = reconcile.reconcile(db, source, bill_date=day, rerun=True,
                                      now=stage.retry_now)
    with db.transaction(read_only=True) as session:
        from wxshop_cli.db.models import Discrepancy

        still_open = session.execute(select(func.count()).select_from(Discrepancy).where(
            Discrepancy.run_id == outcome.run_id, Discrepancy.status == "open")).scalar_one()
    return Check("the day's bill reconciles", still_open == 0,
                 f"{exported.payments} payments, {exported.refunds} refunds; "
                 f"{still_open} open (run {outcome.run_id})")


# ------------------------------------------------------------------ the dashboard's numbers


def units_sold(db: Any, stage: Stage) -> dict[str, int]:
    """Units sold per SKU of the promotion: what a rehearsal with the same seed repeats."""
    with db.transaction(read_only=True) as session:
        units = _units(session)
    return {item.sku: units.get(item.id, 0) for item in stage.items}


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered)) - 1))]


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(counts: list[int]) -> str:
    top = max(counts, default=0)
    if top == 0:
        return ""
    return "".join(SPARKS[min(len(SPARKS) - 1, int(c * (len(SPARKS) - 1) / top))]
                   for c in counts)
