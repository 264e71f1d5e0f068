"""Gate: gross exposure, Σ |quantity × mark × multiplier| over open positions, plus the working
opening orders and this order at their prices."""

from __future__ import annotations

from decimal import Decimal

from algodesk.domain.orders import Order
from algodesk.domain.risk.base import Denial, RiskContext, notional, reduces, reference_price
from algodesk.domain.values import exact_arithmetic

__all__ = ["GrossExposureGate"]


class GrossExposureGate:
    @exact_arithmetic
    def check(self, order: Order, context: RiskContext) -> Denial | None:
        inst = context.instrument
        px = reference_price(order, context.mark)
        if inst is None or px is None:
            return None
        this = notional(order, inst, px)
        for scope in context.scopes:
            limit = scope.limits.max_gross_exposure
            if limit is None or reduces(order, scope):
                continue
            held = sum((p.gross for p in scope.positions.values()), Decimal(0))
            working = sum(
                (w.leaves * w.price * w.multiplier for w in scope.working if not w.reduce_only),
                Decimal(0),
            )
            total = held + working + this
            if total > limit:
                return Denial.of(
                    "EXPOSURE_LIMIT_EXCEEDED",
                    scope=scope.label,
                    exposure_after=total,
                    limit=limit,
                )
        return None
