"""The gates in their fixed, documented order. The first denial wins.

1. trading state       2. market hours        3. fresh feed (entries)
4. instrument, tick, lot, min/max             5. reduce-only
6. price band + mark   7. max notional        8. max position
9. gross exposure      10. open positions     11. open orders
12. buying power       13. PDT                14. F&O ban
15. trades per day     16. venue burst        17. order rate
18. fee coverage

Submits and modifies pass through them; cancels, flatten and the kill switch never do.
"""

from __future__ import annotations

from collections.abc import Sequence

from algodesk.domain.orders import Order
from algodesk.domain.risk.base import Denial, RiskContext, RiskGate
from algodesk.domain.risk.buying_power import BuyingPowerGate
from algodesk.domain.risk.exposure import ExposureGate
from algodesk.domain.risk.fee_coverage import FeeCoverageGate
from algodesk.domain.risk.feed_stale import FeedStaleGate
from algodesk.domain.risk.fno_ban import FnoBanGate
from algodesk.domain.risk.instrument import InstrumentGate
from algodesk.domain.risk.market_hours import MarketHoursGate
from algodesk.domain.risk.max_notional import MaxNotionalGate
from algodesk.domain.risk.open_orders import OpenOrdersGate
from algodesk.domain.risk.open_positions import OpenPositionsGate
from algodesk.domain.risk.order_rate import OrderRateGate
from algodesk.domain.risk.pdt import PatternDayTraderGate
from algodesk.domain.risk.position_limit import PositionLimitGate
from algodesk.domain.risk.price_band import PriceBandGate
from algodesk.domain.risk.reduce_only import ReduceOnlyGate
from algodesk.domain.risk.trade_count import TradeCountGate
from algodesk.domain.risk.trading_state import TradingStateGate
from algodesk.domain.risk.venue_burst import VenueBurstGate

__all__ = ["GATES", "check_order"]

GATES: tuple[RiskGate, ...] = (
    TradingStateGate(),
    MarketHoursGate(),
    FeedStaleGate(),
    InstrumentGate(),
    ReduceOnlyGate(),
    PriceBandGate(),
    MaxNotionalGate(),
    PositionLimitGate(),
    ExposureGate(),
    OpenPositionsGate(),
    OpenOrdersGate(),
    BuyingPowerGate(),
    PatternDayTraderGate(),
    FnoBanGate(),
    TradeCountGate(),
    VenueBurstGate(),
    OrderRateGate(),
    FeeCoverageGate(),
)


def check_order(
    order: Order, context: RiskContext, gates: Sequence[RiskGate] = GATES
) -> Denial | None:
    """Run ``gates`` in order; the first denial, or None when the order may go."""
    if not context.scopes:
        return Denial.of("ACCOUNT_NOT_FOUND", account=order.account_id.value)
    for gate in gates:
        denial = gate.check(order, context)
        if denial is not None:
            return denial
    return None
