"""Gate: a reduce-only order may not open or grow a position (so an exit that fires after the
position was closed another way opens nothing). Checked against every scope's position."""

from __future__ import annotations

from algodesk.domain.orders import Order
from algodesk.domain.risk.base import Denial, RiskContext, reduces

__all__ = ["ReduceOnlyGate"]


class ReduceOnlyGate:
    def check(self, order: Order, context: RiskContext) -> Denial | None:
        if not order.reduce_only:
            return None
        for scope in context.scopes:
            if not reduces(order, scope):
                code = (
                    "POSITION_NOT_FOUND"
                    if scope.position.is_zero()
                    else "REDUCE_ONLY_WOULD_INCREASE"
                )
                return Denial.of(
                    code,
                    scope=scope.label,
                    position=scope.position,
                    side=order.side.value,
                    quantity=order.quantity.value,
                )
        return None
