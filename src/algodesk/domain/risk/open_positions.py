"""Gate: how many instruments may be held at once. An order in an instrument already held, or
one that reduces, passes; a new instrument counts the held ones plus pending entries."""

from __future__ import annotations

from algodesk.domain.orders import Order
from algodesk.domain.risk.base import Denial, RiskContext

__all__ = ["OpenPositionsGate"]


class OpenPositionsGate:
    def check(self, order: Order, context: RiskContext) -> Denial | None:
        for scope in context.scopes:
            limit = scope.limits.max_open_positions
            if limit is None or not scope.position.is_zero():
                continue
            held = {i for i, p in scope.positions.items() if not p.quantity.is_zero()}
            pending = {w.instrument_id for w in scope.working if not w.reduce_only} - held
            pending.discard(order.instrument_id)
            count = len(held) + len(pending)
            if count >= limit:
                return Denial.of(
                    "MAX_OPEN_POSITIONS",
                    scope=scope.label,
                    open_positions=count,
                    limit=limit,
                    instrument=order.instrument_id.value,
                )
        return None
