"""Gate: NSE's F&O ban. In the derivatives of an underlying on the day's ban list only orders
that reduce a position pass (the account's position decides)."""

from __future__ import annotations

from algodesk.domain.instruments import AssetClass
from algodesk.domain.orders import Order
from algodesk.domain.risk.base import Denial, RiskContext, reduces

__all__ = ["FnoBanGate"]

_DERIVATIVES = (AssetClass.FUTURE, AssetClass.OPTION)


class FnoBanGate:
    def check(self, order: Order, context: RiskContext) -> Denial | None:
        inst = context.instrument
        if inst is None or inst.asset_class not in _DERIVATIVES:
            return None
        if inst.underlying not in context.banned_underlyings:
            return None
        if reduces(order, context.scopes[0]):
            return None
        return Denial.of(
            "INSTRUMENT_BANNED",
            instrument=order.instrument_id.value,
            underlying=inst.underlying,
            position=context.scopes[0].position,
        )
