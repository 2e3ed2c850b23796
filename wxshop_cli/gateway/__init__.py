"""Payment gateways. `get_gateway(db)` gives the one in use: the sandbox bank today."""

from __future__ import annotations

from typing import Any

from wxshop_cli.gateway.base import (
    FAILED,
    PENDING,
    SUCCESS,
    ChargeRequest,
    ChargeResult,
    PaymentGateway,
    RefundResult,
)

__all__ = ["FAILED", "PENDING", "SUCCESS", "ChargeRequest", "ChargeResult",
           "PaymentGateway", "RefundResult",
           "get_gateway"]


def get_gateway(db: Any) -> PaymentGateway:
    from wxshop_cli.gateway.sandbox import SandboxGateway

    return SandboxGateway(db)
