"""Gate: how many orders may work at once, in a scope (account or bot) and per instrument in
it. A runaway strategy or a looping alert rests order after order; this stops it at a count
the trader chose, whatever each order's size. An order that reduces (an exit among them)
always passes: entry-only limits never block an exit."""

from __future__ import annotations

from algodesk.domain.orders import Order
from algodesk.domain.risk.base import Denial, RiskContext, reduces

__all__ = ["OpenOrdersGate"]


class OpenOrdersGate:
    def check(self, order: Order, context: RiskContext) -> Denial | None:
        for scope in context.scopes:
            limits = scope.limits
            overall, per_instrument = limits.max_open_orders, limits.max_open_orders_per_instrument
            if overall is None and per_instrument is None:
                continue
            if order.reduce_only or reduces(order, scope):
                continue
            working = len(scope.working)
            if overall is not None and working >= overall:
                return Denial.of(
                    "MAX_OPEN_ORDERS", scope=scope.label, open_orders=working, limit=overall
                )
            here = sum(1 for w in scope.working if w.instrument_id == order.instrument_id)
            if per_instrument is not None and here >= per_instrument:
                return Denial.of(
                    "MAX_OPEN_ORDERS",
                    scope=scope.label,
                    instrument=order.instrument_id.value,
                    open_orders=here,
                    limit=per_instrument,
                )
        return None
