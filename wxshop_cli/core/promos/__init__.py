"""Promotions (SPEC section 7): a package of one concern per module, re-exporting the names
callers use as `promos.NAME`.

- `rules`: code, window and limit checks; pricing (fixed price, percent or amount off) and its
  rounding to the fen.
- `status`: the status shown, derived from the stored state (`draft → published → archived`)
  and one clock reading; what the checkout checks (`is_open_for_sale`).
- `queries`: the catalog lock, lookups (`require_promo`, `find_live_items_for_sku`,
  `require_item`, `serves_region`) and the public JSON shapes (`promos_public`, `list_promos`).
- `report`: the `Report` of what a change did, and the `Problems` that stop one.
- `changes`: one change at a time (`create_promo`, `set_item`, `publish_code`, `unpublish`,
  `archive`).
- `file`: checking a promotion file's document into a `PromoSpec` (`core.promofile` reads it).
- `apply`: applying a `PromoSpec` in phases (`plan_spec` checks, then the writes).
- `push`: the inbox push of a published promotion.

Imports go one way: `apply` → `changes` → `push`/`queries` → `status`/`rules`; `file` →
`rules`/`report`. No module of the package imports this `__init__`.
"""

from wxshop_cli.core.promos.apply import SpecPlan, apply_spec, plan_spec
from wxshop_cli.core.promos.changes import archive, create_promo, publish_code, set_item, unpublish
from wxshop_cli.core.promos.file import ItemSpec, PromoSpec, parse_spec
from wxshop_cli.core.promos.push import PUSH_STATUSES, eligible_buyers, push_promo, push_text
from wxshop_cli.core.promos.queries import (
    find_live_items_for_sku,
    find_promo,
    item_public,
    items_of,
    list_promos,
    lock_catalog,
    promo_public,
    promos_public,
    regions_of,
    require_item,
    require_promo,
    serves_region,
    show_promo,
)
from wxshop_cli.core.promos.report import CONFLICT_HINTS, Problems, Report, mistakes_error
from wxshop_cli.core.promos.rules import (
    LIMIT_MAX,
    PERCENT,
    PRICE_KEYS,
    PROMO_CODE,
    RULES,
    Pricing,
    _decimal_text,
    check_code,
    check_limit,
    check_window,
    compute_price,
    parse_percent,
    pricing_for_amount,
    raw_price,
)
from wxshop_cli.core.promos.status import (
    BUYER_VISIBLE,
    STATUSES,
    has_started,
    is_live,
    is_open_for_sale,
    promo_status,
    regions_serve,
    stock_left,
)

__all__ = [
    "BUYER_VISIBLE", "CONFLICT_HINTS", "LIMIT_MAX", "PERCENT", "PRICE_KEYS", "PROMO_CODE",
    "PUSH_STATUSES", "RULES", "STATUSES", "ItemSpec", "Pricing", "Problems", "PromoSpec",
    "Report", "SpecPlan", "_decimal_text", "apply_spec", "archive", "check_code",
    "check_limit", "check_window", "compute_price", "create_promo", "eligible_buyers",
    "find_live_items_for_sku", "find_promo", "has_started", "is_live", "is_open_for_sale",
    "item_public", "items_of", "list_promos", "lock_catalog", "mistakes_error",
    "parse_percent", "parse_spec", "plan_spec", "pricing_for_amount", "promo_public",
    "promo_status", "publish_code", "push_promo", "push_text", "raw_price", "regions_of",
    "regions_serve", "require_item", "require_promo", "serves_region", "set_item",
    "show_promo", "stock_left", "unpublish", "promos_public",
]
