"""Fixture operations for the catalog: `product.add` and `promo.publish`."""

from __future__ import annotations

import re
from typing import Any

from wxshop_cli.core.fixture_ops.registry import FixtureContext, op
from wxshop_cli.errors import WxError


def _flatten(exc: WxError) -> WxError:
    """A fixture failure prints one line: fold every listed mistake into the message."""
    if exc.details:
        exc.message = f"{exc.message}: " + "; ".join(exc.details)
    return exc


@op("product.add", required=("sku", "title", "price", "stock"),
    optional=("image_url", "description"))
def add_product(ctx: FixtureContext, args: dict[str, Any]) -> dict[str, Any]:
    """args: sku, title, price (yuan text), stock; image_url, description (optional).
    Result: the product's public shape, with `id` = the SKU."""
    from wxshop_cli import money
    from wxshop_cli.core import catalog

    values: dict[str, Any] = {
        "sku": catalog.check_sku(args["sku"]),
        "title": catalog.check_title(args["title"]),
        "list_price_fen": money.parse_yuan(args["price"], field="price"),
        "stock": catalog.check_stock(args["stock"]),
        "image_url": catalog.check_image_url(args.get("image_url", "")),
        "description": catalog.check_description(args.get("description", "")),
    }
    with ctx.db.transaction() as session:
        product = catalog.add_product(session, **values, now=ctx.now)
        return {"id": product.sku, **catalog.product_public(product)}


@op("promo.publish")
def publish_promo(ctx: FixtureContext, args: dict[str, Any]) -> dict[str, Any]:
    """args: the keys of a promotion file (SPEC section 4), inline. Creates or updates the
    products and the promotion, publishes it and pushes it when `notify` (default true).
    Result: `id` = the code, `status`, `notified`, `items` (SKU → item id) and, for
    `${step.item_<SKU>}` references, one `item_<SKU>` per item with the SKU's characters
    other than letters and digits written as `_` (YX-1001 → item_YX_1001)."""
    from wxshop_cli.config import current
    from wxshop_cli.core import promofile, promos

    tz = current().tz
    try:
        spec = promofile.parse_spec(args, tz, source="promo.publish")
        with ctx.db.transaction() as session:
            report = promos.apply_spec(session, spec, now=ctx.now, tz=tz)
            items = {item.sku: item.id for item in promos.items_of(
                session, promos.require_promo(session, spec.code).id)}
    except WxError as exc:
        raise _flatten(exc) from exc
    result: dict[str, Any] = {"id": spec.code, "status": report.status,
                              "notified": report.notified, "items": items}
    for sku, item_id in items.items():
        result["item_" + re.sub(r"[^A-Za-z0-9]", "_", sku)] = item_id
    return result
