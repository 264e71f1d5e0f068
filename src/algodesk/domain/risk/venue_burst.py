"""Gate: the venue's burst limit (N order operations per window, modifies and cancels
included). Over the limit a submit is denied, never queued; cancels do not pass gates at all."""

from __future__ import annotations

from algodesk.domain.orders import Order
from algodesk.domain.risk.base import Denial, RiskContext

__all__ = ["VenueBurstGate"]


class VenueBurstGate:
    def check(self, order: Order, context: RiskContext) -> Denial | None:
        limit = context.venue_burst_limit
        if limit is None or context.venue_ops_in_window < limit:
            return None
        return Denial.of(
            "VENUE_RATE_LIMIT",
            venue=order.instrument_id.venue.value,
            operations=context.venue_ops_in_window,
            limit=limit,
            window=f"{context.venue_burst_window.total_seconds():g}s",
        )
