"""Gate: the US pattern-day-trader rule, for margin accounts under $25,000 of equity: at most 3
day trades in 5 business days.

algodesk enforces it on entries: once the allowance is used up, new positions are denied (they
could not be closed the same day without a fourth day trade). Exits are never blocked here; the
broker may still refuse a closing order, and that refusal is recorded.
"""

from __future__ import annotations

from algodesk.domain.orders import Order
from algodesk.domain.risk.base import Denial, RiskContext, reduces

__all__ = ["PatternDayTraderGate"]


class PatternDayTraderGate:
    def check(self, order: Order, context: RiskContext) -> Denial | None:
        for scope in context.scopes:
            limits = scope.limits
            if not limits.pdt or scope.equity >= limits.pdt_equity_threshold:
                continue
            if reduces(order, scope):
                continue
            if scope.day_trades_5d >= limits.pdt_max_day_trades:
                return Denial.of(
                    "PDT_RESTRICTED",
                    scope=scope.label,
                    day_trades_5d=scope.day_trades_5d,
                    limit=limits.pdt_max_day_trades,
                    equity=scope.equity,
                    threshold=limits.pdt_equity_threshold,
                )
        return None
