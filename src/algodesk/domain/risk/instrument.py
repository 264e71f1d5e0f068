"""Gate: the instrument is known, tradable and not expired; price on the tick and positive;
quantity in whole lots and within the instrument's minimum, maximum and freeze quantity."""

from __future__ import annotations

from algodesk.domain.orders import Order
from algodesk.domain.risk.base import Denial, RiskContext

__all__ = ["InstrumentGate"]


class InstrumentGate:
    def check(self, order: Order, context: RiskContext) -> Denial | None:
        inst = context.instrument
        iid = order.instrument_id.value
        if inst is None or inst.id != order.instrument_id:
            return Denial.of("INSTRUMENT_NOT_FOUND", instrument=iid)
        if not inst.tradable:
            return Denial.of(
                "INSTRUMENT_NOT_TRADABLE", instrument=iid, asset_class=inst.asset_class
            )
        if inst.expiry is not None and inst.expiry < context.now.date():
            return Denial.of("INSTRUMENT_EXPIRED", instrument=iid, expiry=inst.expiry.isoformat())
        for name, px in (("price", order.price), ("trigger_price", order.trigger_price)):
            if px is None:
                continue
            if px.value <= 0:
                return Denial.of("PRICE_NOT_POSITIVE", instrument=iid, **{name: px.value})
            if not px.is_multiple_of(inst.tick_size):
                return Denial.of(
                    "PRICE_NOT_ON_TICK", instrument=iid, tick=inst.tick_size, **{name: px.value}
                )
        qty = order.quantity
        if not qty.is_multiple_of(inst.lot_size):
            return Denial.of(
                "QUANTITY_NOT_LOT_MULTIPLE", instrument=iid, quantity=qty.value, lot=inst.lot_size
            )
        if inst.min_quantity is not None and qty.value < inst.min_quantity:
            return Denial.of(
                "QUANTITY_BELOW_MINIMUM",
                instrument=iid,
                quantity=qty.value,
                minimum=inst.min_quantity,
            )
        for cap in (inst.max_quantity, inst.freeze_quantity):
            if cap is not None and qty.value > cap:
                return Denial.of(
                    "QUANTITY_EXCEEDS_MAXIMUM", instrument=iid, quantity=qty.value, maximum=cap
                )
        return None
