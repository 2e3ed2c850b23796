"""The merchant's settings row: WeChat app id, merchant number, fee rate (SPEC section 1)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlmodel import Session

from wxshop_cli.db.models import MerchantSettings
from wxshop_cli.errors import InvalidInput
from wxshop_cli.money import format_rate, parse_rate_ppm

APP_ID = re.compile(r"wx[0-9a-f]{16}", re.ASCII)
MCH_ID = re.compile(r"[0-9]{10}", re.ASCII)


def get_settings(session: Session) -> MerchantSettings:
    return session.get_one(MerchantSettings, 1)


def settings_public(settings: MerchantSettings) -> dict[str, Any]:
    return {
        "app_id": settings.app_id,
        "mch_id": settings.mch_id,
        "fee_rate": format_rate(settings.fee_rate_ppm),
        "fee_rate_ppm": settings.fee_rate_ppm,
    }


def check_changes(app_id: str | None, mch_id: str | None, fee_rate: str | None, *,
                  rate_field: str = "fee rate") -> dict[str, Any]:
    """Validate the requested changes before touching the database."""
    changes: dict[str, Any] = {}
    if app_id is not None:
        if not APP_ID.fullmatch(app_id):
            raise InvalidInput(f"app id: not a WeChat app id: {app_id!r}", slug="invalid_app_id",
                               hint="wx followed by 16 lowercase hex characters")
        changes["app_id"] = app_id
    if mch_id is not None:
        if not MCH_ID.fullmatch(mch_id):
            raise InvalidInput(f"merchant number: not 10 digits: {mch_id!r}",
                               slug="invalid_mch_id", hint="WeChat Pay merchant numbers "
                                                           "are 10 digits")
        changes["mch_id"] = mch_id
    if fee_rate is not None:
        changes["fee_rate_ppm"] = parse_rate_ppm(fee_rate, field=rate_field)
    return changes


def update_settings(session: Session, changes: dict[str, Any], now: dt.datetime) -> list[str]:
    """Apply checked changes; returns the names of the fields that really changed."""
    settings = get_settings(session)
    changed = [name for name, value in changes.items() if getattr(settings, name) != value]
    for name in changed:
        setattr(settings, name, changes[name])
    if changed:
        settings.updated_at = now
        session.add(settings)
    return changed
