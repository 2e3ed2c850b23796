from __future__ import annotations

from typing import Any

from wxshop_cli.core import merchant
from wxshop_cli.core.fixture_ops.registry import FixtureContext, op


@op("merchant.set", required=(), optional=("app_id", "mch_id", "fee_rate"))
def set_merchant(ctx: FixtureContext, args: dict[str, Any]) -> dict[str, Any]:
    """args: app_id, mch_id, fee_rate (all optional; names checked by the loader)."""
    changes = merchant.check_changes(args.get("app_id"), args.get("mch_id"),
                                     args.get("fee_rate"))
    with ctx.db.transaction() as session:
        merchant.update_settings(session, changes, ctx.now)
        result = merchant.settings_public(merchant.get_settings(session))
    return {"id": result["mch_id"], **result}
