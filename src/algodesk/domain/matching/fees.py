"""Fee models: what one execution costs, as exact :class:`~algodesk.domain.values.Money`.

A fee model is called once per execution with the order's fill index (0 for the order's first
fill), so a charge that a venue levies per order is taken once, on the first fill. Percentages of
notional are exact products and are not rounded; models that follow a venue's rounding (see
:mod:`algodesk.domain.matching.nse`) round explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from algodesk.domain.fills import OrderSide
from algodesk.domain.instruments import Instrument
from algodesk.domain.matching._checks import require_non_negative
from algodesk.domain.values import Money, exact, exact_arithmetic, rounded

__all__ = [
    "FeeModel",
    "Liquidity",
    "NoFees",
    "PerContractFee",
    "PerOrderFee",
    "PercentFee",
    "estimate_round_trip_bps",
]

_ZERO = Decimal(0)
_BPS = Decimal(10_000)


class Liquidity(StrEnum):
    """Whether an execution added liquidity (a resting limit) or took it (market, stop, …)."""

    MAKER = "MAKER"
    TAKER = "TAKER"


class FeeModel(Protocol):
    """Prices one execution."""

    def fee(
        self,
        instrument: Instrument,
        side: OrderSide,
        quantity: Decimal,
        price: Decimal,
        liquidity: Liquidity,
        order_fill_index: int,
    ) -> Money:
        """The fee of one execution, in the instrument's currency, never negative.

        Args:
            instrument: what was traded (currency, multiplier, asset class).
            side: the side of the order that was filled.
            quantity: the executed quantity, in units of the instrument.
            price: the execution price.
            liquidity: MAKER for a resting limit fill, TAKER otherwise.
            order_fill_index: how many fills the order had before this one (0 = its first fill).
        """
        ...


def _notional(instrument: Instrument, quantity: Decimal, price: Decimal) -> Decimal:
    with exact():
        return quantity * price * instrument.multiplier


@dataclass(frozen=True, slots=True)
class NoFees:
    """Every execution is free."""

    def fee(
        self,
        instrument: Instrument,
        side: OrderSide,
        quantity: Decimal,
        price: Decimal,
        liquidity: Liquidity,
        order_fill_index: int,
    ) -> Money:
        """Zero in the instrument's currency."""
        return Money(_ZERO, instrument.currency)


@dataclass(frozen=True, slots=True)
class PercentFee:
    """A rate of notional (quantity × price × multiplier): ``maker_rate`` or ``taker_rate``.

    Rates are fractions: ``Decimal("0.001")`` is 0.1 %. Rebates (negative rates) are refused,
    because a fill's fee is never negative.
    """

    maker_rate: Decimal
    taker_rate: Decimal

    def __post_init__(self) -> None:
        require_non_negative("PercentFee", "maker_rate", self.maker_rate)
        require_non_negative("PercentFee", "taker_rate", self.taker_rate)

    @exact_arithmetic
    def fee(
        self,
        instrument: Instrument,
        side: OrderSide,
        quantity: Decimal,
        price: Decimal,
        liquidity: Liquidity,
        order_fill_index: int,
    ) -> Money:
        """Notional × the rate of ``liquidity``, exact (not rounded)."""
        rate = self.maker_rate if liquidity is Liquidity.MAKER else self.taker_rate
        return Money(abs(_notional(instrument, quantity, price)) * rate, instrument.currency)


@dataclass(frozen=True, slots=True)
class PerOrderFee:
    """A fixed ``amount`` per order, charged on the order's first fill only."""

    amount: Decimal

    def __post_init__(self) -> None:
        require_non_negative("PerOrderFee", "amount", self.amount)

    def fee(
        self,
        instrument: Instrument,
        side: OrderSide,
        quantity: Decimal,
        price: Decimal,
        liquidity: Liquidity,
        order_fill_index: int,
    ) -> Money:
        """``amount`` when ``order_fill_index`` is 0, else zero."""
        return Money(self.amount if order_fill_index == 0 else _ZERO, instrument.currency)


@dataclass(frozen=True, slots=True)
class PerContractFee:
    """A fixed ``amount`` per unit of quantity (per contract, per share)."""

    amount: Decimal

    def __post_init__(self) -> None:
        require_non_negative("PerContractFee", "amount", self.amount)

    @exact_arithmetic
    def fee(
        self,
        instrument: Instrument,
        side: OrderSide,
        quantity: Decimal,
        price: Decimal,
        liquidity: Liquidity,
        order_fill_index: int,
    ) -> Money:
        """``amount`` × ``quantity``, exact."""
        return Money(self.amount * quantity, instrument.currency)


def estimate_round_trip_bps(
    model: FeeModel,
    instrument: Instrument,
    quantity: Decimal,
    price: Decimal,
    *,
    entry_side: OrderSide = OrderSide.BUY,
    liquidity: Liquidity = Liquidity.TAKER,
) -> Decimal:
    """The fees of an entry and an exit at ``price`` in basis points of the entry notional.

    Each leg is priced as one order's first fill, so per-order charges count once per leg. The
    exit is on the opposite side of ``entry_side`` (a sell-side tax such as STT falls on it).
    Taker liquidity by default: the conservative figure for a fee-coverage check.

    Raises:
        ValueError: the entry notional is zero.
    """
    notional = abs(_notional(instrument, quantity, price))
    if notional.is_zero():
        raise ValueError(
            f"estimate_round_trip_bps: expected a non-zero notional, was {quantity} × {price}"
        )
    entry = model.fee(instrument, entry_side, quantity, price, liquidity, 0)
    exit_ = model.fee(instrument, entry_side.opposite, quantity, price, liquidity, 0)
    total = (entry + exit_).amount
    with rounded():  # a ratio: 34 significant digits
        return total * _BPS / notional
