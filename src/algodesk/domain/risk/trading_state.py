"""Gate: the trading state. HALTED denies every new order; REDUCING lets through only orders
that shrink the position and never flip it, counting same-side working orders (worst case),
so nothing opens from flat."""

from __future__ import annotations

from decimal import Decimal

from algodesk.domain.orders import Order
from algodesk.domain.risk.base import Denial, RiskContext, Scope, TradingState
from algodesk.domain.values import exact_arithmetic

__all__ = ["TradingStateGate"]


@exact_arithmetic
def _worst_case_after(order: Order, scope: Scope) -> Decimal:
    same_side = sum(
        (
            w.leaves
            for w in scope.working
            if w.instrument_id == order.instrument_id
            and w.side is order.side
            and (w.reduce_only or not order.reduce_only)  # as is_reducing counts them
        ),
        Decimal(0),
    )
    return scope.position + order.side.sign * (order.quantity.value + same_side)


class TradingStateGate:
    def check(self, order: Order, context: RiskContext) -> Denial | None:
        for scope in context.scopes:
            if scope.state is TradingState.HALTED:
                return Denial.of("TRADING_HALTED", scope=scope.label, state=scope.state.value)
            if scope.state is TradingState.REDUCING:
                after = _worst_case_after(order, scope)
                before = scope.position
                flips = before * after < 0
                if abs(after) > abs(before) or flips or before.is_zero():
                    return Denial.of(
                        "TRADING_STATE_REDUCING",
                        scope=scope.label,
                        position=before,
                        position_after=after,
                    )
        return None
