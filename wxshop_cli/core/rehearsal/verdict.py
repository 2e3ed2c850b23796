"""The verdict of a rehearsal: every check of a sale day, on the book as the crowd left it."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlmodel import col

from wxshop_cli.core.rehearsal.plan import Plan
from wxshop_cli.core.rehearsal.stage import Stage

if TYPE_CHECKING:
    from sqlmodel import Session

    from wxshop_cli.db.engine import Database

# ------------------------------------------------------------------ the verdict


@dataclass
class Check:
    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


def verdict(db: Database, stage: Stage, plan: Plan, results: list[dict[str, Any]],
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


def units_of(session: Session) -> dict[str, int]:
    from wxshop_cli.db.models import Order

    return dict(session.execute(select(col(Order.item_id), func.sum(col(Order.qty))).where(
        col(Order.stock_returned).is_(False), col(Order.item_id).is_not(None)).group_by(
        col(Order.item_id))
    ).all())


def _stock_checks(session: Session, stage: Stage, plan: Plan) -> list[Check]:
    from wxshop_cli.db.models import PromoItem

    units = units_of(session)
    sold = dict(session.execute(select(col(PromoItem.id), col(PromoItem.sold)).where(
        col(PromoItem.id).in_([item.id for item in stage.items]))).all())
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


def _limit_checks(session: Session, stage: Stage, plan: Plan) -> list[Check]:
    from wxshop_cli.db.models import Buyer, Order

    limits = {item.id: item.limit for item in stage.items if item.limit}
    rows = session.execute(select(col(Buyer.name), col(Order.item_id),
                                  func.sum(col(Order.qty))).join(
        Buyer, col(Buyer.id) == col(Order.buyer_id)).where(
        col(Order.stock_returned).is_(False),
        col(Order.item_id).in_(list(limits) or [""])).group_by(
        col(Buyer.name), col(Order.item_id))).all()
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


def _key_checks(session: Session, stage: Stage, plan: Plan, results: list[dict[str, Any]],
                killed_keys: set[str]) -> list[Check]:
    from wxshop_cli.db.models import GatewayPayment, Order

    per_key = Counter(dict(session.execute(select(col(Order.idempotency_key),
                                                  func.count()).group_by(
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
            GatewayPayment, col(GatewayPayment.out_trade_no) == col(Order.order_no)).where(
            col(GatewayPayment.status) == "SUCCESS",
            col(Order.buyer_id).in_(_ids(session, refusing)))
        ).scalar_one()
        checks.append(Check("storm refusals: refusing cards charged nothing", charged == 0,
                            f"{len(refusing)} buyers with refusing cards, {charged} charged"))
    timeouts = {b for b, kind in stage.behaviour.items() if kind == "timeout"}
    if timeouts:
        unsettled = session.execute(select(func.count()).select_from(Order).where(
            col(Order.status).in_(("paying", "pending_payment")),
            col(Order.buyer_id).in_(_ids(session, timeouts)))).scalar_one()
        checks.append(Check("storm timeouts: every unknown payment settled", unsettled == 0,
                            f"{len(timeouts)} buyers behind a timing-out bank, "
                            f"{unsettled} unsettled"))
    if plan.kill_worker is not None:
        twice = [k for k in killed_keys if per_key[k] > 1]
        unsettled = session.execute(select(func.count()).select_from(Order).where(
            col(Order.idempotency_key).in_(list(killed_keys) or [""]),
            col(Order.status).in_(("paying", "pending_payment")))).scalar_one()
        checks.append(Check("storm kill: every killed purchase paid once or not at all",
                            not twice and unsettled == 0,
                            f"{len(killed_keys)} purchases of the killed worker retried; "
                            f"{len(twice)} with two orders, {unsettled} unsettled"))
    return checks


def _ids(session: Session, names: set[str]) -> list[int]:
    from wxshop_cli.db.models import Buyer

    return list(session.execute(select(col(Buyer.id)).where(
        col(Buyer.name).in_(list(names)))).scalars())


def _reconciles(db: Database, stage: Stage, bill_path: Any) -> Check:
    """The day's bill, exported from the sandbox platform, reconciles clean."""
    from wxshop_cli.clock import beijing
    from wxshop_cli.core import reconcile
    from wxshop_cli.core.bill_export import write_bill
    from wxshop_cli.core.billformat import open_bill

    day = stage.now.astimezone(beijing()).date()
    with open(bill_path, "wb") as out, db.transaction(read_only=True) as session:
        exported = write_bill(session, day, "ALL", out)
    with open_bill(bill_path) as source:
        outcome = reconcile.reconcile(db, source, bill_date=day, rerun=True,
                                      now=stage.retry_now)
    with db.transaction(read_only=True) as session:
        from wxshop_cli.db.models import Discrepancy

        still_open = session.execute(select(func.count()).select_from(Discrepancy).where(
            col(Discrepancy.run_id) == outcome.run_id,
            col(Discrepancy.status) == "open")).scalar_one()
    return Check("the day's bill reconciles", still_open == 0,
                 f"{exported.payments} payments, {exported.refunds} refunds; "
                 f"{still_open} open (run {outcome.run_id})")

