"""Gate: order operations per second for the account (default 10, as SEBI's retail algo
framework caps it); modifies and cancels count toward it, but cancels are never blocked."""

from __future__ import annotations

from algodesk.domain.orders import Order
from algodesk.domain.risk.base import Denial, RiskContext

__all__ = ["OrderRateGate"]


class OrderRateGate:
    def check(self, order: Order, context: RiskContext) -> Denial | None:
        limit = context.scopes[0].limits.max_orders_per_second
        if limit is None or context.account_ops_last_second < limit:
            return None
        return Denial.of(
            "SUBMIT_RATE_EXCEEDED",
            scope=context.scopes[0].label,
            operations_last_second=context.account_ops_last_second,
            limit=limit,
        )
