"""Gate: the notional of one opening order (quantity × reference price × multiplier)."""

from __future__ import annotations

from algodesk.domain.orders import Order
from algodesk.domain.risk.base import Denial, RiskContext, notional, reduces, reference_price

__all__ = ["MaxNotionalGate"]


class MaxNotionalGate:
    def check(self, order: Order, context: RiskContext) -> Denial | None:
        inst = context.instrument
        px = reference_price(order, context.mark)
        if inst is None or px is None:
            return None  # earlier gates deny a missing instrument or mark
        value = notional(order, inst, px)
        for scope in context.scopes:
            limit = scope.limits.max_notional
            if limit is None or reduces(order, scope):
                continue
            if value > limit:
                return Denial.of(
                    "MAX_NOTIONAL_EXCEEDED",
                    scope=scope.label,
                    notional=value,
                    limit=limit,
                    instrument=order.instrument_id.value,
                )
        return None
