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
        return self._net(order, context, this) or self._underlying(order, context, this)

    @staticmethod
    def _net(order: Order, context: RiskContext, this: Decimal) -> Denial | None:
        sign = order.side.sign
        for scope in context.scopes:
            limit = scope.limits.max_net_exposure
            if limit is None or reduces(order, scope):
                continue
            held = sum(
                (p.quantity * p.mark * p.multiplier for p in scope.positions.values()), Decimal(0)
            )
            working = sum(
                (
                    w.leaves * w.price * w.multiplier
                    for w in scope.working
                    if not w.reduce_only and w.side is order.side
                ),
                Decimal(0),
            )
            worst = held + sign * (working + this)
            if sign * worst > limit:
                return Denial.of(
                    "EXPOSURE_LIMIT_EXCEEDED",
                    scope=scope.label,
                    net_exposure_after=worst,
                    limit=limit,
                )
        return None

    @staticmethod
    def _underlying(order: Order, context: RiskContext, this: Decimal) -> Denial | None:
        name = underlying_of(context.instrument, order.instrument_id)
        for scope in context.scopes:
            limit = scope.limits.max_underlying_exposure
            if limit is None or reduces(order, scope):
                continue
            held = sum(
                (p.gross for p in scope.positions.values() if p.underlying == name), Decimal(0)
            )
            working = sum(
                (
                    w.leaves * w.price * w.multiplier
                    for w in scope.working
                    if not w.reduce_only and w.underlying == name
                ),
                Decimal(0),
            )
            total = held + working + this
            if total > limit:
                return Denial.of(
                    "EXPOSURE_LIMIT_EXCEEDED",
                    scope=scope.label,
                    underlying=name,
                    exposure_after=total,
                    limit=limit,
                )
        return None
