"""Gate: a limit or trigger price within ±band % of the last mark, and a mark fresh enough to
judge by. Fail closed: an opening order without a fresh mark is denied. A reducing order
without a mark passes (an exit must not wait for a feed); with a mark it is checked."""

from __future__ import annotations

from decimal import Context, Decimal

from algodesk.domain.orders import Order
from algodesk.domain.risk.base import Denial, RiskContext, reduces

__all__ = ["PriceBandGate"]


class PriceBandGate:
    def check(self, order: Order, context: RiskContext) -> Denial | None:
        account = context.scopes[0]
        limits = account.limits
        mark = context.mark
        reducing = reduces(order, account)
        if mark is None or context.now - mark.ts > limits.mark_max_age:
            if reducing:
                return None
            age = "none" if mark is None else f"{(context.now - mark.ts).total_seconds():.0f}s"
            return Denial.of(
                "MARK_UNAVAILABLE",
                instrument=order.instrument_id.value,
                mark_age=age,
                max_age=f"{limits.mark_max_age.total_seconds():.0f}s",
            )
        band = limits.price_band_pct
        if band is None or mark.price <= 0:
            return None
        for px in (order.price, order.trigger_price):
            if px is None:
                continue
            off = abs(px.value - mark.price) * 100 / mark.price
            if off > band:
                return Denial.of(
                    "PRICE_OUTSIDE_BAND",
                    price=px.value,
                    mark=mark.price,
                    deviation_pct=_hundredths(off),
                    band_pct=band,
                )
        return None


def _hundredths(value: Decimal) -> Decimal:
    """``value`` to two places, however large (a price of 10**60 is denied, not a crash: the
    default context's 28 digits cannot hold it to the hundredth)."""
    return value.quantize(Decimal("0.01"), context=Context(prec=max(28, value.adjusted() + 4)))
