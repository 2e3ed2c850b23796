"""The payment gateway interface: the bank and the payment platform as wxshop sees them.

One implementation today (the sandbox); a real WeChat Pay adapter could be a second. Like
WeChat Pay, a gateway charges an `out_trade_no` at most once: asking again returns the first
result. Refunds are idempotent by the merchant's refund number.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

# Charge outcomes
SUCCESS = "SUCCESS"
FAILED = "FAILED"
PENDING = "PENDING"  # the bank timed out: unknown until queried


@dataclass(frozen=True)
class ChargeResult:
    out_trade_no: str
    status: str  # SUCCESS | FAILED | PENDING
    transaction_id: str | None = None
    paid_at: dt.datetime | None = None
    fee_fen: int = 0
    failure_code: str | None = None  # declined | insufficient_funds | card_frozen | ...

    @property
    def paid(self) -> bool:
        return self.status == SUCCESS

    @property
    def unknown(self) -> bool:
        return self.status == PENDING


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    """One charge of a `charge_many` batch."""

    out_trade_no: str
    card_token: str
    amount_fen: int
    openid: str
    product: str


@dataclass(frozen=True)
class RefundResult:
    out_refund_no: str
    out_trade_no: str
    refund_id: str | None
    amount_fen: int
    status: str  # SUCCESS | PROCESSING | CLOSED | ABNORMAL | FAILED
    succeeded_at: dt.datetime | None = None
    failure_code: str | None = None


class PaymentGateway(Protocol):
    def register_card(self, *, token: str, behaviour: str, bank_code: str,
                      single_limit_fen: int, daily_limit_fen: int, now: dt.datetime) -> None:
        """Record how the bank treats a newly bound card (idempotent by token)."""

    def charge(self, *, out_trade_no: str, card_token: str, amount_fen: int, openid: str,
               product: str, now: dt.datetime) -> ChargeResult:
        """Charge once per out_trade_no; a repeat returns the first result."""

    def charge_many(self, requests: list[ChargeRequest], now: dt.datetime) -> list[ChargeResult]:
        """Charge several orders (the bank may commit them together), each at most once."""

    def close(self) -> None:
        """Release what the gateway holds for the calling thread."""

    def query(self, out_trade_no: str, now: dt.datetime) -> ChargeResult | None:
        """The outcome of a charge, settling an unknown one; None if never asked to charge."""

    def refund(self, *, out_trade_no: str, out_refund_no: str, amount_fen: int,
               now: dt.datetime) -> RefundResult:
        """Refund part or all of a successful charge, once per out_refund_no."""
