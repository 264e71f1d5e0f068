"""Gate: cash. The order's cost plus its estimated fees plus the cost reserved by working
orders must fit in the scope's cash.

Cost: a purchase pays its notional (an option buy pays its premium); futures, and any sale that
opens or grows a short (option writing included), reserve ``margin_rate`` × notional. A sale that
only reduces a long costs nothing and is not checked. An open short keeps its proceeds and its
margin out of the free cash.
"""

from __future__ import annotations

from decimal import Decimal

from algodesk.domain.fills import OrderSide
from algodesk.domain.orders import Order
from algodesk.domain.risk.base import (
    Denial,
    RiskContext,
    Scope,
    needs_margin,
    notional,
    reduces,
    reference_price,
)
from algodesk.domain.values import exact_arithmetic

__all__ = ["BuyingPowerGate"]


@exact_arithmetic
def _reserved(scope: Scope) -> Decimal:
    """Cash spoken for: working orders' costs, and each open short's sale proceeds plus its
    margin (the proceeds sit in cash but are not free to spend)."""
    total = Decimal(0)
    for held in scope.positions.values():
        if held.quantity < 0:
            total += held.gross * (1 + scope.limits.margin_rate)
    for w in scope.working:
        if w.reduce_only:
            continue
        value = w.leaves * w.price * w.multiplier
        total += value if w.side is OrderSide.BUY else value * scope.limits.margin_rate
    return total


class BuyingPowerGate:
    @exact_arithmetic
    def check(self, order: Order, context: RiskContext) -> Denial | None:
        inst = context.instrument
        px = reference_price(order, context.mark)
        if inst is None or px is None:
            return None
        value = notional(order, inst, px)
        for scope in context.scopes:
            if reduces(order, scope):
                continue
            margin = needs_margin(inst, order, scope)
            cost = value * scope.limits.margin_rate if margin else value
            needed = cost + context.entry_fee_estimate
            reserved = _reserved(scope)
            free = scope.cash - reserved
            if needed > free:
                return Denial.of(
                    "INSUFFICIENT_BUYING_POWER",
                    scope=scope.label,
                    required=needed,
                    free_cash=free,
                    reserved=reserved,
                )
        return None
