"""The vocabulary every gate shares: a denial, the trading state, limits, and the context.

A gate is a class with ``check(order, context) -> Denial | None``. It reads only what the
context holds (a snapshot the engine builds before each check), so gates are pure and the same
in live, paper and backtest.

The context has one :class:`Scope` per level the order is subject to: always the account, and
the bot when the order belongs to one. Each scope has its own limits and its own measures
(position, working orders, cash, counters). Gates with per-scope limits check every scope;
the others (price band, F&O ban, order rate, venue burst, fee coverage) judge the account or
the venue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.instruments import AssetClass, Instrument
from algodesk.domain.orders import Order, OrderType
from algodesk.domain.values import Price, canonical_decimal, exact_arithmetic

__all__ = [
    "Denial",
    "Mark",
    "PositionMark",
    "RiskContext",
    "RiskGate",
    "RiskLimits",
    "Scope",
    "TradingState",
    "WorkingOrder",
    "fmt",
    "is_reducing",
    "needs_margin",
    "notional",
    "reduces",
    "reference_price",
    "underlying_of",
]


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


def fmt(value: Decimal | int | str | None) -> str:
    if isinstance(value, Decimal):
        return canonical_decimal(value)
    return str(value)


@dataclass(frozen=True, slots=True)
class Denial:
    """A refused order: a stable ``code`` and the figures that decided it."""

    code: str
    context: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, code: str, **figures: Decimal | int | str | None) -> Denial:
        return cls(code, tuple((k, fmt(v)) for k, v in figures.items()))

    @property
    def message(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.context)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Limits of one scope (an account or a bot). ``None`` switches a limit off.

    Money limits are in the instrument's currency; percentages are in percent (``10`` = 10%).
    """

    price_band_pct: Decimal | None = Decimal(10)
    mark_max_age: timedelta = timedelta(minutes=5)
    max_notional: Decimal | None = None
    max_position_qty: Decimal | None = None
    max_position_notional: Decimal | None = None
    max_gross_exposure: Decimal | None = None
    #: Net notional either way: longs less shorts, at marks (see the exposure gate).
    max_net_exposure: Decimal | None = None
    #: Gross notional in one underlying: its stock, futures and options together.
    max_underlying_exposure: Decimal | None = None
    max_open_positions: int | None = None
    #: Working orders at once in the scope, and in one instrument of it (exits not limited).
    max_open_orders: int | None = None
    max_open_orders_per_instrument: int | None = None
    max_trades_per_day: int | None = None
    max_orders_per_second: int | None = 10
    #: Initial margin as a fraction of notional for futures and for option or other short sales.
    margin_rate: Decimal = Decimal("0.2")
    fee_safety_bps: Decimal = Decimal(5)
    slippage_buffer_bps: Decimal = Decimal(5)
    #: US pattern-day-trader rule for a margin account under the equity threshold.
    pdt: bool = False
    pdt_equity_threshold: Decimal = Decimal(25000)
    pdt_max_day_trades: int = 3


@dataclass(frozen=True, slots=True)
class Mark:
    price: Decimal
    ts: datetime
    bid: Decimal | None = None
    ask: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PositionMark:
    quantity: Decimal  # signed
    mark: Decimal
    multiplier: Decimal = Decimal(1)
    underlying: str | None = None  # see underlying_of

    @property
    @exact_arithmetic
    def gross(self) -> Decimal:
        return abs(self.quantity * self.mark * self.multiplier)


@dataclass(frozen=True, slots=True)
class WorkingOrder:
    """A working order's remaining exposure."""

    instrument_id: InstrumentId
    side: OrderSide
    leaves: Decimal
    price: Decimal  # limit, trigger or mark: the price its cost was reserved at
    multiplier: Decimal = Decimal(1)
    reduce_only: bool = False
    underlying: str | None = None  # see underlying_of


@dataclass(frozen=True, slots=True)
class Scope:
    """One level an order answers to, with its limits and its measures."""

    label: str
    limits: RiskLimits
    state: TradingState = TradingState.ACTIVE
    position: Decimal = Decimal(0)  # signed, in the order's instrument
    positions: Mapping[InstrumentId, PositionMark] = field(default_factory=dict)
    working: tuple[WorkingOrder, ...] = ()
    cash: Decimal = Decimal(0)  # in the instrument's currency
    equity: Decimal = Decimal(0)
    entries_today: int = 0
    day_trades_5d: int = 0


@dataclass(frozen=True, slots=True)
class RiskContext:
    now: datetime
    instrument: Instrument | None
    mark: Mark | None
    scopes: tuple[Scope, ...]
    market_open: bool = True
    #: No good market data for too long during market hours: entries wait, exits go.
    feed_stale: bool = False
    banned_underlyings: frozenset[str] = frozenset()
    #: Why there is no F&O ban list for today, when the deployment keeps one and it is missing
    #: or stale: Indian stock derivatives then take no new positions.
    fno_ban_missing: str | None = None
    account_ops_last_second: int = 0
    venue_ops_in_window: int = 0
    venue_burst_limit: int | None = None
    venue_burst_window: timedelta = timedelta(seconds=1)
    target_price: Price | None = None
    #: Estimated fees of this order (buying power) and of a round trip, in basis points.
    entry_fee_estimate: Decimal = Decimal(0)
    round_trip_cost_bps: Decimal = Decimal(0)


class RiskGate(Protocol):
    def check(self, order: Order, context: RiskContext) -> Denial | None: ...


def is_reducing(order: Order, position: Decimal, working: tuple[WorkingOrder, ...] = ()) -> bool:
    """True when ``order`` only shrinks ``position`` and never flips it, even if every working
    order on the same side in the same instrument fills first (the worst case): five sells of
    10 against a long of 10 are not five reductions.

    A reduce-only order (an exit) counts only the reduce-only orders ahead of it, the other
    exits sharing the position: a stop-loss must go out while the trader's own limit sell of
    the same size rests as a take-profit (counting it, the stop-loss was refused at every mark
    while the price fell)."""
    against = position < 0 if order.side is OrderSide.BUY else position > 0
    return against and _fits(order, position, working)


@exact_arithmetic
def _fits(order: Order, position: Decimal, working: tuple[WorkingOrder, ...]) -> bool:
    """``order`` plus the working orders ahead of it on its side (for a reduce-only order,
    the reduce-only ones) take at most ``position``."""
    ahead = sum(
        (
            w.leaves
            for w in working
            if w.instrument_id == order.instrument_id
            and w.side is order.side
            and (w.reduce_only or not order.reduce_only)
        ),
        Decimal(0),
    )
    return order.quantity.value + ahead <= abs(position)


def reduces(order: Order, scope: Scope) -> bool:
    """:func:`is_reducing` against a scope's position and working orders."""
    return is_reducing(order, scope.position, scope.working)


def underlying_of(instrument: Instrument | None, instrument_id: InstrumentId) -> str:
    """What an instrument's risk is in: a derivative's underlying (``NIFTY``, ``RELIANCE``), or
    for anything else its own symbol (``RELIANCE.NSE`` is ``RELIANCE``, with its futures and
    options)."""
    if instrument is not None and instrument.underlying:
        return instrument.underlying
    return instrument_id.symbol


def reference_price(order: Order, mark: Mark | None) -> Decimal | None:
    """The price an order's cost is judged at: limit price for limits, trigger for stops, and
    for a market order the ask (buy) or bid (sell), else the last mark."""
    if order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) and order.price is not None:
        return order.price.value
    if order.order_type is OrderType.STOP and order.trigger_price is not None:
        return order.trigger_price.value
    if mark is None:
        return None
    side_price = mark.ask if order.side is OrderSide.BUY else mark.bid
    return side_price if side_price is not None else mark.price


@exact_arithmetic
def notional(order: Order, instrument: Instrument, price: Decimal) -> Decimal:
    return order.quantity.value * price * instrument.multiplier


def needs_margin(instrument: Instrument, order: Order, scope: Scope) -> bool:
    """Futures always, and any sale that opens or grows a short."""
    if instrument.asset_class is AssetClass.FUTURE:
        return True
    return order.side is OrderSide.SELL and not reduces(order, scope)
