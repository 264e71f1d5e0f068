"""Gate: NSE's F&O ban. In the derivatives of an underlying on the day's ban list only orders
that reduce a position pass (the account's position decides). Where the deployment keeps the
day's list and it is missing or not today's, new positions in Indian stock derivatives (NFO,
BFO; index derivatives are never banned) are denied: a position in a banned stock draws the
exchange's penalty, so no list is treated as every stock banned (fail closed)."""

from __future__ import annotations

from algodesk.domain.instruments import AssetClass
from algodesk.domain.market.fno_ban import INDEX_UNDERLYINGS
from algodesk.domain.orders import Order
from algodesk.domain.risk.base import Denial, RiskContext, reduces

__all__ = ["FnoBanGate"]

_DERIVATIVES = (AssetClass.FUTURE, AssetClass.OPTION)
_INDIAN_DERIVATIVES = frozenset({"NFO", "BFO"})


class FnoBanGate:
    def check(self, order: Order, context: RiskContext) -> Denial | None:
        inst = context.instrument
        if inst is None or inst.asset_class not in _DERIVATIVES:
            return None
        missing = context.fno_ban_missing
        stock = (
            inst.underlying is not None
            and inst.underlying not in INDEX_UNDERLYINGS
            and order.instrument_id.venue.value in _INDIAN_DERIVATIVES
        )
        listed = inst.underlying in context.banned_underlyings
        if not listed and not (stock and missing is not None):
            return None
        if reduces(order, context.scopes[0]):
            return None
        if listed:
            return Denial.of(
                "INSTRUMENT_BANNED",
                instrument=order.instrument_id.value,
                underlying=inst.underlying,
                position=context.scopes[0].position,
            )
        return Denial.of(
            "FNO_BAN_LIST_MISSING",
            instrument=order.instrument_id.value,
            underlying=inst.underlying,
            reason=missing,
        )
