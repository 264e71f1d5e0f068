"""Gate: the instrument's venue must be in session (its exchange calendar decides)."""

from __future__ import annotations

from algodesk.domain.orders import Order
from algodesk.domain.risk.base import Denial, RiskContext

__all__ = ["MarketHoursGate"]


class MarketHoursGate:
    def check(self, order: Order, context: RiskContext) -> Denial | None:
        if context.market_open:
            return None
        return Denial.of(
            "MARKET_CLOSED",
            venue=order.instrument_id.venue.value,
            now=context.now.isoformat(),
        )
