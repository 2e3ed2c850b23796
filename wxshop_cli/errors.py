"""Typed domain errors. Each carries its exit code and a stable slug (SPEC section 3).

Services raise these; the command layer never picks an exit code itself. The README lists
every slug. Extra keyword arguments become extra fields of the JSON error object
(`order_no`, `idempotency_key`, `location`, ...).
"""

from __future__ import annotations

from typing import Any

OK = 0
INTERNAL = 1
USAGE = 2
INVALID = 3
NOT_FOUND = 4
CONFLICT = 5
REFUSED = 6
SOLD_OUT = 7
DISCREPANCIES = 8
TRY_AGAIN = 9
INTERRUPTED = 130


class WxError(Exception):
    """Base of every error wxshop reports to the user."""

    exit_code: int = INTERNAL
    default_slug: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        slug: str | None = None,
        hint: str | None = None,
        details: list[str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.slug = slug or self.default_slug
        self.hint = hint
        # Several mistakes in one input (a promotion file): one line each before the summary.
        self.details = details or []
        self.extra = extra

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.slug,
            "message": self.message,
            "exit_code": self.exit_code,
        }
        if self.hint:
            body["hint"] = self.hint
        if self.details:
            body["details"] = list(self.details)
        body.update(self.extra)
        return {"error": body}

    def line(self) -> str:
        text = f"error: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class UsageError(WxError):
    """Missing or mistyped value, or a prompt needed where none may be shown."""

    exit_code = USAGE
    default_slug = "usage"


class InvalidInput(WxError):
    """A well-formed value that breaks a rule (bad card number, bad region, malformed file)."""

    exit_code = INVALID
    default_slug = "invalid_input"


class NotFound(WxError):
    exit_code = NOT_FOUND
    default_slug = "not_found"


class Conflict(WxError):
    """The current state does not allow it."""

    exit_code = CONFLICT
    default_slug = "conflict"


class PaymentRefused(WxError):
    exit_code = REFUSED
    default_slug = "payment_refused"


class SoldOut(WxError):
    """Sold out or the per-buyer limit would be exceeded."""

    exit_code = SOLD_OUT
    default_slug = "sold_out"


class TryAgain(WxError):
    """Busy database, unknown payment outcome, or the same request still running."""

    exit_code = TRY_AGAIN
    default_slug = "try_again"


class Interrupted(WxError):
    exit_code = INTERRUPTED
    default_slug = "interrupted"
