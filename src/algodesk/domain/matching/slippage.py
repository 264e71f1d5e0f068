"""Slippage models: adverse price adjustments of market and stop fills.

Slippage is always adverse: a buy pays more, a sell receives less. The adjusted price is rounded
onto the instrument's tick in the adverse direction (up for a buy, down for a sell), so rounding
never gives back what the slippage took. A positive price never slips to zero or below: a sell
stops at one tick (or at the price itself when that is below one tick). Randomness comes only
from the ``rng`` passed in, so a seeded ``random.Random`` makes results repeatable.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Protocol

from algodesk.domain.fills import OrderSide
from algodesk.domain.instruments import Instrument
from algodesk.domain.matching._checks import require_non_negative, require_probability
from algodesk.domain.matching._random import chance
from algodesk.domain.values import exact, round_to_increment

__all__ = ["BpsSlippage", "NoSlippage", "SlippageModel", "TickSlippage", "adverse_tick_round"]

_BPS = Decimal(10_000)
_ONE = Decimal(1)


class SlippageModel(Protocol):
    """Moves a reference price against the taker."""

    def adjust(
        self, instrument: Instrument, side: OrderSide, price: Decimal, rng: random.Random
    ) -> Decimal:
        """The price a market or stop fill pays after slippage.

        Args:
            instrument: gives the tick to round onto.
            side: BUY moves the price up, SELL moves it down.
            price: the reference price (ask, bid, last, a bar point or a stop trigger).
            rng: the only source of randomness.
        """
        ...


def adverse_tick_round(instrument: Instrument, side: OrderSide, price: Decimal) -> Decimal:
    """Round ``price`` onto the tick against ``side``: up (ceiling) for a buy, down for a sell."""
    mode = ROUND_CEILING if side is OrderSide.BUY else ROUND_FLOOR
    return round_to_increment(price, instrument.tick_size, mode)


def _finish(instrument: Instrument, side: OrderSide, price: Decimal, moved: Decimal) -> Decimal:
    result = adverse_tick_round(instrument, side, moved)
    if side is OrderSide.SELL and price > 0 and result <= 0:
        return min(price, instrument.tick_size)
    return result


@dataclass(frozen=True, slots=True)
class NoSlippage:
    """Fills at the reference price, unchanged (not even rounded)."""

    def adjust(
        self, instrument: Instrument, side: OrderSide, price: Decimal, rng: random.Random
    ) -> Decimal:
        """``price`` itself."""
        return price


@dataclass(frozen=True, slots=True)
class BpsSlippage:
    """``bps`` basis points of the price, applied with ``probability`` (else no slippage)."""

    bps: Decimal
    probability: Decimal = _ONE

    def __post_init__(self) -> None:
        require_non_negative("BpsSlippage", "bps", self.bps)
        require_probability("BpsSlippage", "probability", self.probability)

    def adjust(
        self, instrument: Instrument, side: OrderSide, price: Decimal, rng: random.Random
    ) -> Decimal:
        """``price × (1 ± bps/10000)`` rounded adversely onto the tick, when the draw says so."""
        if not chance(rng, self.probability):
            return price
        with exact():
            moved = price + abs(price) * self.bps / _BPS * side.sign
        return _finish(instrument, side, price, moved)


@dataclass(frozen=True, slots=True)
class TickSlippage:
    """``ticks`` whole ticks, applied with ``probability`` (else no slippage)."""

    ticks: int
    probability: Decimal = _ONE

    def __post_init__(self) -> None:
        if isinstance(self.ticks, bool) or not isinstance(self.ticks, int) or self.ticks < 0:
            raise ValueError(f"TickSlippage.ticks: expected an int >= 0, was {self.ticks!r}")
        require_probability("TickSlippage", "probability", self.probability)

    def adjust(
        self, instrument: Instrument, side: OrderSide, price: Decimal, rng: random.Random
    ) -> Decimal:
        """``price ± ticks × tick_size`` rounded adversely onto the tick, when the draw says so."""
        if not chance(rng, self.probability):
            return price
        with exact():
            moved = price + instrument.tick_size * self.ticks * side.sign
        return _finish(instrument, side, price, moved)
