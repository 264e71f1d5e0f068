"""The one fill engine: paper trading on live quotes and backtests on bars use the same rules.

:class:`MatchingEngine` looks at one working order and one observation and returns what happened
as a :class:`MatchResult`; it never changes the order. The caller turns executions into fills and
applies the order events (triggered, filled, canceled, expired). Randomness (touch fills,
probabilistic slippage) comes only from a ``random.Random`` seeded with ``FillModel.seed`` (or
injected), so the same model, orders and observations give the same result.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from algodesk.domain.fills import require_utc
from algodesk.domain.instruments import Instrument
from algodesk.domain.matching._checks import require_non_negative, require_probability
from algodesk.domain.matching._random import chance
from algodesk.domain.matching.decisions import Decision, decide_on_bar, decide_on_quote
from algodesk.domain.matching.fees import FeeModel, Liquidity, NoFees
from algodesk.domain.matching.observations import Bar, Quote
from algodesk.domain.matching.paths import BarPathMode, bar_path
from algodesk.domain.matching.slippage import NoSlippage, SlippageModel
from algodesk.domain.orders import Order, TimeInForce
from algodesk.domain.values import Money, exact, round_to_increment

__all__ = ["Execution", "FillModel", "MatchResult", "MatchingEngine", "expire_due"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class FillModel:
    """The knobs of the fill engine, recorded with each run.

    Attributes:
        limit_fill_prob: chance that a limit only touched (not traded through) fills; 0 = never.
        slippage: adverse slippage on market and stop fills.
        fees: the fee of each execution.
        bar_path_mode: how a bar's extremes are ordered.
        max_volume_fraction: at most this fraction of a bar's volume fills per bar (None: no cap).
        seed: seeds the engine's ``random.Random``.
    """

    limit_fill_prob: Decimal = _ZERO
    slippage: SlippageModel = field(default_factory=NoSlippage)
    fees: FeeModel = field(default_factory=NoFees)
    bar_path_mode: BarPathMode = BarPathMode.ADAPTIVE
    max_volume_fraction: Decimal | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        require_probability("FillModel", "limit_fill_prob", self.limit_fill_prob)
        if self.max_volume_fraction is not None:
            fraction = require_probability(
                "FillModel", "max_volume_fraction", self.max_volume_fraction
            )
            if fraction.is_zero():
                raise ValueError("FillModel.max_volume_fraction: expected a fraction > 0, was 0")
        if not isinstance(self.bar_path_mode, BarPathMode):
            raise TypeError(
                f"FillModel.bar_path_mode: expected a BarPathMode, was {self.bar_path_mode!r}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise TypeError(f"FillModel.seed: expected an int, was {self.seed!r}")


@dataclass(frozen=True, slots=True)
class Execution:
    """One execution: quantity in the instrument's units, price, liquidity and fee."""

    quantity: Decimal
    price: Decimal
    liquidity: Liquidity
    fee: Money


@dataclass(frozen=True, slots=True)
class MatchResult:
    """What one observation did to one order.

    Attributes:
        executions: the executions, in order (none, or one per observation).
        triggered: a stop or stop-limit triggered on this observation.
        expired: the order (its remainder) expired: GTD past its time or DAY at session close.
        canceled_remainder: an IOC order's unfilled remainder is canceled.
        reason: why, in words, with the prices.
    """

    executions: tuple[Execution, ...] = ()
    triggered: bool = False
    expired: bool = False
    canceled_remainder: bool = False
    reason: str = ""

    @property
    def filled_quantity(self) -> Decimal:
        """The quantity of all executions."""
        with exact():
            return sum((e.quantity for e in self.executions), _ZERO)


def expire_due(order: Order, now: datetime, *, session_closed: bool = False) -> bool:
    """Whether a working order has expired at ``now``.

    GTD expires when ``now >= expire_time``; DAY when the caller says the session has closed;
    GTC never; IOC is canceled by the engine instead. A terminal order never expires again.
    """
    require_utc("expire_due(now)", now)
    if order.status.is_terminal:
        return False
    if order.time_in_force is TimeInForce.GTD:
        return order.expire_time is not None and now >= order.expire_time
    return order.time_in_force is TimeInForce.DAY and session_closed


class MatchingEngine:
    """Matches one working order against one observation at a time; pure but for its RNG."""

    def __init__(self, model: FillModel, rng: random.Random | None = None) -> None:
        """Build an engine; ``rng`` defaults to ``random.Random(model.seed)``."""
        self._model = model
        self._rng = rng if rng is not None else random.Random(model.seed)  # noqa: S311

    @property
    def model(self) -> FillModel:
        """The fill model in use."""
        return self._model

    def on_quote(
        self,
        order: Order,
        instrument: Instrument,
        quote: Quote,
        *,
        arrival: bool = False,
        session_closed: bool = False,
        max_fill_quantity: Decimal | None = None,
    ) -> MatchResult:
        """Match ``order`` against a live quote.

        An order that has expired at ``quote.ts`` (or at a closed session, for DAY) expires
        without matching. An IOC order is always treated as arriving, and its remainder is
        canceled after this one quote.

        Args:
            order: a working order (SUBMITTED … PENDING_CANCEL); not modified.
            instrument: the order's instrument.
            quote: a quote for that instrument.
            arrival: the order has just reached the venue (a marketable limit takes liquidity).
            session_closed: the trading session is over (DAY orders expire).
            max_fill_quantity: at most this quantity fills now (floored to whole lots).

        Raises:
            ValueError: the order is not working, or the quote or instrument is for another
                instrument.
        """
        self._check(order, instrument, quote.instrument_id)
        if expire_due(order, quote.ts, session_closed=session_closed):
            why = f"order {order.client_order_id} ({order.time_in_force}) expired at {quote.ts}"
            return MatchResult(expired=True, reason=why)
        arrival = arrival or order.time_in_force is TimeInForce.IOC  # IOC only ever arrives
        decision = decide_on_quote(order, quote, arrival=arrival, touch=self._touch)
        return self._settle(order, instrument, decision, max_fill_quantity, expire=False)

    def on_bar(
        self,
        order: Order,
        instrument: Instrument,
        bar: Bar,
        *,
        prev_close: Decimal | None = None,
        arrival: bool = False,
        session_closed: bool = False,
        max_fill_quantity: Decimal | None = None,
    ) -> MatchResult:
        """Match ``order`` against one bar's price path (see :func:`bar_path`).

        Call it once per bar, in order. The order is matched first; then a GTD order whose time
        is at or before ``bar.ts_close``, or a DAY order on the session's last bar, expires with
        whatever is left. An IOC order is judged at the bar's open only, as arriving, and the
        rest is canceled. A bar without volume fills nothing. Fills per bar are capped by
        ``FillModel.max_volume_fraction`` of the bar's volume and by ``max_fill_quantity``,
        floored to whole lots.

        Args:
            order: a working order; not modified.
            instrument: the order's instrument.
            bar: a bar of that instrument.
            prev_close: the previous bar's close (``None``: the open always counts as a point).
            arrival: the order was placed before this bar (at the previous close): the bar's open
                is a point for it even without a gap, and a limit through at the open is taker.
            session_closed: this is the session's last bar (DAY orders then expire).
            max_fill_quantity: an extra cap for this bar (e.g. liquidity already used).

        Raises:
            ValueError: as for :meth:`on_quote`.
        """
        self._check(order, instrument, bar.instrument_id)
        if bar.volume.is_zero():
            decision = Decision(None, reason=f"bar at {bar.ts_close} has no trades")
        else:
            arrival = arrival or order.time_in_force is TimeInForce.IOC  # IOC only ever arrives
            points: Sequence[Decimal] = bar_path(
                bar, None if arrival else prev_close, self._model.bar_path_mode
            )
            if order.time_in_force is TimeInForce.IOC:
                points = points[:1]  # immediate: the open only
            decision = decide_on_bar(order, bar, points, arrival=arrival, touch=self._touch)
        cap = self._volume_cap(bar, max_fill_quantity)
        expire = expire_due(order, bar.ts_close, session_closed=session_closed)
        return self._settle(order, instrument, decision, cap, expire=expire)

    def _touch(self) -> bool:
        return chance(self._rng, self._model.limit_fill_prob)

    def _volume_cap(self, bar: Bar, explicit: Decimal | None) -> Decimal | None:
        fraction = self._model.max_volume_fraction
        if fraction is None:
            return explicit
        with exact():
            by_volume = bar.volume * fraction
        return by_volume if explicit is None else min(by_volume, explicit)

    @staticmethod
    def _check(order: Order, instrument: Instrument, observed: object) -> None:
        if not order.status.is_open:
            raise ValueError(
                f"order {order.client_order_id}: expected a working order, was {order.status}"
            )
        if order.instrument_id != instrument.id or observed != instrument.id:
            raise ValueError(
                f"order {order.client_order_id}: expected order, instrument and observation of "
                f"one instrument, was {order.instrument_id}, {instrument.id} and {observed}"
            )

    def _settle(
        self,
        order: Order,
        instrument: Instrument,
        decision: Decision,
        cap: Decimal | None,
        *,
        expire: bool,
    ) -> MatchResult:
        reason = decision.reason
        leaves = order.leaves_quantity.value
        executions: tuple[Execution, ...] = ()
        if cap is not None:
            require_non_negative("MatchingEngine", "max_fill_quantity", cap)
        if decision.price is not None:
            wanted = leaves if cap is None else min(leaves, cap)
            qty = round_to_increment(wanted, instrument.lot_size, ROUND_DOWN)
            if qty > 0:
                executions = (self._execute(order, instrument, decision, decision.price, qty),)
                with exact():
                    leaves -= qty
            else:
                reason += f"; nothing filled: cap {cap} is under one lot of {instrument.lot_size}"
        ioc = order.time_in_force is TimeInForce.IOC and leaves > 0
        if ioc:
            reason += f"; IOC remainder {leaves} canceled"
        expired = expire and not ioc and leaves > 0
        if expired:
            reason += f"; remainder {leaves} expired ({order.time_in_force})"
        return MatchResult(executions, decision.triggered, expired, ioc, reason)

    def _execute(
        self, order: Order, instrument: Instrument, decision: Decision, px: Decimal, qty: Decimal
    ) -> Execution:
        if decision.slip:
            px = self._model.slippage.adjust(instrument, order.side, px, self._rng)
        fee = self._model.fees.fee(
            instrument, order.side, qty, px, decision.liquidity, len(order.fills)
        )
        return Execution(qty, px, decision.liquidity, fee)
