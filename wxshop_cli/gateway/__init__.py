"""Payment gateways. `get_gateway(db)` gives the one in use: the sandbox bank today."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wxshop_cli.gateway.base import (
    FAILED,
    PENDING,
    SUCCESS,
    ChargeRequest,
    ChargeResult,
    PaymentGateway,
    RefundResult,
)

if TYPE_CHECKING:
    from wxshop_cli.db.engine import Database

__all__ = ["FAILED", "PENDING", "SUCCESS", "ChargeRequest", "ChargeResult",
           "PaymentGateway", "RefundResult",
           "get_gateway"]


def get_gateway(db: Database) -> PaymentGateway:
    from wxshop_cli.gateway.sandbox import SandboxGateway

    return SandboxGateway(db)
