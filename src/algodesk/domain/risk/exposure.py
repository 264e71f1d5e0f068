"""Gate: exposure, in notional (quantity × price × multiplier; an option at its premium).

* gross: Σ |position| at marks over open positions, plus the working opening orders and this
  order at their prices;
* net: the signed sum of the positions at marks, plus, in this order's direction, the working
  opening orders on its side and this order (the worst case). Only a push in the order's own
  direction past the limit is denied, so a hedge that brings the net back passes;
* per underlying: gross, counting only the positions and working opening orders in this
  order's underlying (a stock with its futures and options, an index's derivatives)."""

from __future__ import annotations

from decimal import Decimal

from algodesk.domain.orders import Order
from algodesk.domain.risk.base import (
    Denial,
    RiskContext,
    Scope,
    notional,
    reduces,
    reference_price,
    underlying_of,
)
from algodesk.domain.values import exact_arithmetic

__all__ = ["ExposureGate"]


class ExposureGate:
    @exact_arithmetic
    def check(self, order: Order, context: RiskContext) -> Denial | None:
        inst = context.instrument
        px = reference_price(order, context.mark)
        if inst is None or px is None:
            return None
        this = notional(order, inst, px)
        underlying = underlying_of(inst, order.instrument_id)
        for scope in context.scopes:
            if reduces(order, scope):
                continue
            limits = scope.limits
            denial = (
                _gross(scope, this, limits.max_gross_exposure, None)
                or _net(order, scope, this)
                or _gross(scope, this, limits.max_underlying_exposure, underlying)
            )
            if denial is not None:
                return denial
        return None


def _gross(scope: Scope, this: Decimal, limit: Decimal | None, within: str | None) -> Denial | None:
    """Gross exposure after ``this``, over the scope or ``within`` one underlying."""
    if limit is None:
        return None
    held = sum(
        (p.gross for p in scope.positions.values() if within is None or p.underlying == within),
        Decimal(0),
    )
    working = sum(
        (
            w.leaves * w.price * w.multiplier
            for w in scope.working
            if not w.reduce_only and (within is None or w.underlying == within)
        ),
        Decimal(0),
    )
    total = held + working + this
    if total <= limit:
        return None
    where = {} if within is None else {"underlying": within}
    return Denial.of(
        "EXPOSURE_LIMIT_EXCEEDED", scope=scope.label, **where, exposure_after=total, limit=limit
    )


def _net(order: Order, scope: Scope, this: Decimal) -> Denial | None:
    limit = scope.limits.max_net_exposure
    if limit is None:
        return None
    sign = order.side.sign
    held = sum((p.quantity * p.mark * p.multiplier for p in scope.positions.values()), Decimal(0))
    working = sum(
        (
            w.leaves * w.price * w.multiplier
            for w in scope.working
            if not w.reduce_only and w.side is order.side
        ),
        Decimal(0),
    )
    worst = held + sign * (working + this)
    if sign * worst <= limit:
        return None
    return Denial.of(
        "EXPOSURE_LIMIT_EXCEEDED", scope=scope.label, net_exposure_after=worst, limit=limit
    )
