"""Gate: the position in one instrument, worst case: the position plus every same-side working
order plus this order, in quantity and in notional at the reference price."""

from __future__ import annotations

from decimal import Decimal

from algodesk.domain.orders import Order
from algodesk.domain.risk.base import Denial, RiskContext, reduces, reference_price
from algodesk.domain.values import exact_arithmetic

__all__ = ["PositionLimitGate"]


class PositionLimitGate:
    @exact_arithmetic
    def check(self, order: Order, context: RiskContext) -> Denial | None:
        inst = context.instrument
        px = reference_price(order, context.mark)
        for scope in context.scopes:
            limits = scope.limits
            if reduces(order, scope):
                continue
            same_side = sum(
                (
                    w.leaves
                    for w in scope.working
                    if w.instrument_id == order.instrument_id and w.side is order.side
                ),
                Decimal(0),
            )
            worst = abs(scope.position + order.side.sign * (same_side + order.quantity.value))
            if limits.max_position_qty is not None and worst > limits.max_position_qty:
                return Denial.of(
                    "POSITION_LIMIT_EXCEEDED",
                    scope=scope.label,
                    position_after=worst,
                    limit=limits.max_position_qty,
                    instrument=order.instrument_id.value,
                )
            cap = limits.max_position_notional
            if cap is not None and inst is not None and px is not None:
                value = worst * px * inst.multiplier
                if value > cap:
                    return Denial.of(
                        "POSITION_LIMIT_EXCEEDED",
                        scope=scope.label,
                        notional_after=value,
                        limit=cap,
                        instrument=order.instrument_id.value,
                    )
        return None
