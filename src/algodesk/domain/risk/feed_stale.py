"""Gate: entries wait while the instrument's feed is stale (no good market data for longer than
the configured silence during market hours). Orders that only reduce the position pass, judged
on the last good mark, so exits keep working while the feed is down."""

from __future__ import annotations

from algodesk.domain.orders import Order
from algodesk.domain.risk.base import Denial, RiskContext, reduces

__all__ = ["FeedStaleGate"]


class FeedStaleGate:
    def check(self, order: Order, context: RiskContext) -> Denial | None:
        if not context.feed_stale or reduces(order, context.scopes[0]):
            return None
        return Denial.of(
            "FEED_STALE",
            instrument=order.instrument_id.value,
            policy="entries paused until market data resumes; exits still run",
        )
