"""`wxshop rehearse` on the terminal: the live dashboard of the rush (stderr) and the
verdict (stdout)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from wxshop_cli.output import Column

CHECK_COLUMNS = [Column("check", "name"), Column("ok", "ok", "bool"),
                 Column("detail", "detail")]


def print_verdict(summary: dict[str, Any], checks: list[Any]) -> bool:
    """The rehearsal's figures and checks: one JSON document (the summary with the verdict
    and the checks), else a line of figures on stderr and the checks as a table. True when
    every check holds."""
    from wxshop_cli.config import current
    from wxshop_cli.output import emit, say

    failed = [check for check in checks if not check.ok]
    summary = {**summary, "verdict": "pass" if not failed else "fail",
               "checks": [check.to_json() for check in checks]}
    if current().json:
        emit(summary, [])
    else:
        say(f"{summary['paid']:,} paid, {summary['orders_per_second']:,.0f} orders/s overall "
            f"({summary['lines_per_second']:,.0f} lines/s answered), "
            f"p50 {summary['p50_ms']:.0f} ms, p99 {summary['p99_ms']:.0f} ms")
        emit([check.to_json() for check in checks], CHECK_COLUMNS,
             title="Verdict: pass" if not failed else "Verdict: FAIL")
    if failed:
        say("failed: " + "; ".join(check.name for check in failed))
    return not failed


class Dashboard:
    """Live on a terminal (stderr): orders/s now and overall, latency, stock left, refusals,
    the rush as a sparkline. In a pipe: a progress line a second."""

    def __init__(self, crowd: Any, start: float, *,
                 stock_left: Callable[[], list[tuple[str, int]]]) -> None:
        from wxshop_cli.output import stderr_is_terminal

        self.crowd, self.start, self.stock_left = crowd, start, stock_left
        self.live: Any = None
        self.terminal = stderr_is_terminal()
        self.last = 0.0

    def __enter__(self) -> Dashboard:
        if self.terminal:
            from rich.live import Live

            from wxshop_cli.output import err_console

            self.live = Live(self._render(), console=err_console(), refresh_per_second=4,
                             transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.update(self._render())
            self.live.__exit__(*exc)

    def update(self) -> None:
        now = time.monotonic()
        if now - self.last < (0.25 if self.terminal else 1.0):
            return
        self.last = now
        if self.live is not None:
            self.live.update(self._render())
        else:
            crowd = self.crowd
            elapsed = now - self.start
            sys.stderr.write(f"t={elapsed:5.1f}s paid={crowd.paid} "
                             f"({crowd.per_second.get(int(elapsed) - 1, 0)}/s now) "
                             f"not paid={sum(crowd.refused.values())}\n")
            sys.stderr.flush()

    def _render(self) -> Any:
        from rich.table import Table
        from rich.text import Text

        from wxshop_cli.core.rehearsal import percentile, sparkline

        crowd = self.crowd
        elapsed = max(time.monotonic() - self.start, 1e-9)
        second = int(elapsed)
        table = Table.grid(padding=(0, 2))
        table.add_row("orders/s", f"{crowd.per_second.get(second - 1, 0):,} now  "
                                  f"{crowd.paid / elapsed:,.0f} overall  ({crowd.paid:,} paid)")
        table.add_row("latency", f"p50 {percentile(crowd.latencies, 0.5) * 1000:.0f} ms  "
                                 f"p99 {percentile(crowd.latencies, 0.99) * 1000:.0f} ms")
        table.add_row("rush", sparkline([crowd.per_second.get(s, 0)
                                         for s in range(second + 1)]))
        refused = ", ".join(f"{slug} {n}" for slug, n in crowd.refused.most_common(6))
        table.add_row("not paid", Text(refused or "none"))  # Text: never read as markup
        for sku, left in self.stock_left()[:8]:
            table.add_row(Text(f"  {sku}"), f"{left:,} left")
        return table
