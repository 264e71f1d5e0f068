"""Sizing rules: how big a bot's order is. Every result is floored to whole lots, so sizing
never rounds an order up."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from algodesk.domain.fills import OrderSide
from algodesk.domain.instruments import Instrument
from algodesk.domain.values import Quantity, exact_arithmetic, rounded

__all__ = [
    "FixedQuantity",
    "PercentOfEquity",
    "RiskPercent",
    "SizingError",
    "SizingRule",
    "TargetPosition",
    "size_order",
]


class SizingError(ValueError):
    """The rule cannot size this order (no stop for a risk rule, a zero price...)."""


@dataclass(frozen=True, slots=True)
class FixedQuantity:
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class PercentOfEquity:
    """Spend ``percent`` of the bot's equity on the position."""

    percent: Decimal


@dataclass(frozen=True, slots=True)
class RiskPercent:
    """Lose at most ``percent`` of the bot's equity if the stop is hit."""

    percent: Decimal


@dataclass(frozen=True, slots=True)
class TargetPosition:
    """The signal names the position to hold; the order is the difference."""


SizingRule = FixedQuantity | PercentOfEquity | RiskPercent | TargetPosition


def _floor(instrument: Instrument, value: Decimal) -> Decimal:
    return instrument.make_qty(max(value, Decimal(0)), ROUND_DOWN).value


@exact_arithmetic
def size_order(
    rule: SizingRule,
    instrument: Instrument,
    side: OrderSide,
    price: Decimal,
    equity: Decimal,
    *,
    stop: Decimal | None = None,
    position: Decimal = Decimal(0),
    target: Decimal | None = None,
) -> tuple[OrderSide, Quantity]:
    """The side and quantity of the order ``rule`` makes (quantity 0: nothing to do)."""
    if isinstance(rule, FixedQuantity):
        return side, Quantity(_floor(instrument, rule.quantity))
    if isinstance(rule, TargetPosition):
        if target is None:
            raise SizingError("target-position sizing needs the target position")
        delta = target - position
        move = OrderSide.BUY if delta > 0 else OrderSide.SELL
        return move, Quantity(_floor(instrument, abs(delta)))
    if price <= 0:
        raise SizingError(f"expected a price > 0 to size the order, was {price}")
    unit_value = price * instrument.multiplier
    with rounded():
        if isinstance(rule, PercentOfEquity):
            raw = equity * rule.percent / 100 / unit_value
        else:
            if stop is None or stop == price:
                raise SizingError("risk-percent sizing needs a stop-loss away from the price")
            raw = equity * rule.percent / 100 / (abs(price - stop) * instrument.multiplier)
    return side, Quantity(_floor(instrument, raw))
