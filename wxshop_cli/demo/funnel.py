"""The demo's merchant at noon: the morning's funnel of 双11精选商品 so far — who was shown it,
who tried, who paid, and where the others went (`wxshop report funnel`)."""

from __future__ import annotations

from functools import partial

from wxshop_cli.demo.buyer import _buy
from wxshop_cli.demo.context import Chapter, DemoContext
from wxshop_cli.views import funnel as view


def morning_funnel(ctx: DemoContext) -> Chapter:
    """One more buyer mistypes the payment password (refused before the claim: no key used
    up, counted on its own), then the merchant reads the promotion's funnel."""
    from wxshop_cli.config import current
    from wxshop_cli.core import funnel
    from wxshop_cli.errors import PaymentRefused

    code = ctx.facts["promo_code"]
    try:
        _buy(ctx, "lilei", "201312", "YX-1001", "demo-typo")
    except PaymentRefused as refused:
        typo = refused.slug
    else:
        raise RuntimeError("a wrong payment password paid")
    with ctx.db.transaction(read_only=True) as session:
        document = funnel.funnel(session, current().tz, promo_code=code)
    steps = {step["step"]: step["buyers"] for step in document["steps"]}
    return Chapter("The morning's funnel of 双11精选商品", {
        "promo": code, "steps": steps, "outcomes": document["outcomes"],
        "reasons": document["reasons"], "typo": typo},
        partial(view.funnel_chart, document, width=72,
                command=f"wxshop report funnel --promo {code}"))
