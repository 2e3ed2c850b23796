"""The plan of a rehearsal: who buys what, when and through which worker, and which storms
hit — decided from the seed alone."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from wxshop_cli.core.rehearsal.stage import Options, Stage


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
        if kill and rng.random() < 0.15 and plan.kill_worker is not None:
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
            for k in range((target.limit or 0) + 2):  # more than the limit, from every worker
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

