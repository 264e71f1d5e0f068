"""Gate: fee coverage. When a signal carries a profit target, the expected edge from the
reference price to the target, in basis points, must cover the estimated round-trip fees plus
the safety margin plus the slippage buffer. Without a target there is nothing to judge."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from algodesk.domain.fills import OrderSide
from algodesk.domain.orders import Order
from algodesk.domain.risk.base import Denial, RiskContext, reduces, reference_price
from algodesk.domain.values import rounded

__all__ = ["FeeCoverageGate"]

_BPS = Decimal(10_000)


class FeeCoverageGate:
    def check(self, order: Order, context: RiskContext) -> Denial | None:
        target = context.target_price
        px = reference_price(order, context.mark)
        if target is None or px is None or px <= 0:
            return None
        account = context.scopes[0]
        if reduces(order, account):
            return None
        move = target.value - px if order.side is OrderSide.BUY else px - target.value
        with rounded():
            edge = move * _BPS / px
        limits = account.limits
        required = context.round_trip_cost_bps + limits.fee_safety_bps + limits.slippage_buffer_bps
        if edge < required:  # compared unrounded: 14.995 does not pass for 15
            return Denial.of(
                "FEE_COVERAGE",
                edge_bps=edge.quantize(Decimal("0.01"), rounding=ROUND_FLOOR),
                required_bps=required,
                fees_bps=context.round_trip_cost_bps,
                safety_bps=limits.fee_safety_bps,
                slippage_bps=limits.slippage_buffer_bps,
            )
        return None
