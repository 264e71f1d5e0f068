"""Gate: entries per trading day, per bot and per account. Exits are not counted or blocked."""

from __future__ import annotations

from algodesk.domain.orders import Order
from algodesk.domain.risk.base import Denial, RiskContext, reduces

__all__ = ["TradeCountGate"]


class TradeCountGate:
    def check(self, order: Order, context: RiskContext) -> Denial | None:
        for scope in context.scopes:
            limit = scope.limits.max_trades_per_day
            if limit is None or reduces(order, scope):
                continue
            if scope.entries_today >= limit:
                return Denial.of(
                    "TRADE_COUNT_LIMIT",
                    scope=scope.label,
                    entries_today=scope.entries_today,
                    limit=limit,
                )
        return None
