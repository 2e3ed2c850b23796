"""What a batch reports: a result per line and the summary of the batch."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from wxshop_cli.core import checkout
from wxshop_cli.errors import WxError

#: Exit code of a batch that ran but where some lines were not paid (each line carries its
#: own exit code). 0: every line paid. Anything else: the batch could not run.
SOME_NOT_PAID = 10


@dataclass
class LineResult:
    line_no: int
    buyer: str
    outcome: checkout.Outcome | None = None
    error: WxError | None = None
    key: str | None = None  # the line's own idempotency key, if it gave one

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return self.error.exit_code
        return self.outcome.exit_code if self.outcome is not None else 1


@dataclass
class BatchSummary:
    lines: int = 0
    paid: int = 0
    replayed: int = 0
    refused: Counter = field(default_factory=Counter)  # error slug → lines
    seconds: float = 0.0

    @property
    def not_paid(self) -> int:
        return sum(self.refused.values())

    @property
    def orders_per_second(self) -> float:
        return self.paid / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        return 0 if self.not_paid == 0 else SOME_NOT_PAID


def guarded(line_no: int, buyer: str, step: Callable[[], checkout.Outcome]) -> LineResult:
    """The line's result from `step`, or the error it raised."""
    try:
        return LineResult(line_no, buyer, step())
    except WxError as exc:
        return LineResult(line_no, buyer, error=exc)
