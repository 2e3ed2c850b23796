"""Setting the stage of a rehearsal: its options and storms, the promotion published and the
crowd created (buyers with a sandbox test card, an address and the payment password)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlmodel import col

from wxshop_cli.errors import UsageError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from wxshop_cli.db.engine import Database

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


def prepare(db: Database, options: Options, spec: Any, tz: ZoneInfo) -> Stage:
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

        titles = dict(session.execute(select(col(Product.sku), col(Product.title))).all())
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


def _create_crowd(db: Database, buyers: list[str], behaviour: dict[str, str], regions: list[str],
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
            ids = dict(session.execute(select(col(Buyer.name), col(Buyer.id)).where(
                col(Buyer.name).in_(names))).all())
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

