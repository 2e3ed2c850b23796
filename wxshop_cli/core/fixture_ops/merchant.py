from __future__ import annotations

from typing import Any

from wxshop_cli.core import merchant
from wxshop_cli.core.fixtures import FixtureContext, op


@op("merchant.set")
def set_merchant(ctx: FixtureContext, args: dict[str, Any]) -> dict[str, Any]:
    """args: app_id, mch_id, fee_rate (all optional)."""
    unknown = set(args) - {"app_id", "mch_id", "fee_rate"}
    if unknown:
        from wxshop_cli.errors import InvalidInput

        raise InvalidInput(f"unknown arguments {', '.join(sorted(unknown))}")
    changes = merchant.check_changes(args.get("app_id"), args.get("mch_id"),
                                     args.get("fee_rate"))
    with ctx.db.transaction() as session:
        merchant.update_settings(session, changes, ctx.now)
        result = merchant.public(merchant.get_settings(session))
    return {"id": result["mch_id"], **result}
