"""Sizing rules, floored to whole lots."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from algodesk.domain.fills import OrderSide
from algodesk.domain.sizing import (
    FixedQuantity,
    PercentOfEquity,
    RiskPercent,
    SizingError,
    TargetPosition,
    size_order,
)
from algodesk.domain.values import quantity
from tests.conftest import AAPL

D = Decimal
NIFTY_LOTS = replace(AAPL, lot_size=D(65))


@pytest.mark.parametrize(
    ("rule", "kwargs", "expected"),
    [
        (FixedQuantity(D(7)), {}, (OrderSide.BUY, "7")),
        (PercentOfEquity(D(10)), {}, (OrderSide.BUY, "33")),  # 10% of 10,000 / 30 = 33.3
        (RiskPercent(D(1)), {"stop": D(28)}, (OrderSide.BUY, "50")),  # 100 / (30 - 28)
        (TargetPosition(), {"position": D(5), "target": D(-3)}, (OrderSide.SELL, "8")),
        (TargetPosition(), {"position": D(5), "target": D(5)}, (OrderSide.SELL, "0")),
    ],
)
def test_each_rule(
    rule: object, kwargs: dict[str, Decimal], expected: tuple[OrderSide, str]
) -> None:
    side, qty = size_order(rule, AAPL, OrderSide.BUY, D(30), D(10_000), **kwargs)  # type: ignore[arg-type]
    assert (side, qty) == (expected[0], quantity(expected[1]))


def test_sizes_are_floored_to_whole_lots() -> None:
    _, qty = size_order(PercentOfEquity(D(100)), NIFTY_LOTS, OrderSide.BUY, D(100), D(12_999))
    assert qty == quantity("65")  # 129.99 units: one lot of 65, never two


def test_risk_sizing_needs_a_stop() -> None:
    with pytest.raises(SizingError, match="needs a stop-loss"):
        size_order(RiskPercent(D(1)), AAPL, OrderSide.BUY, D(30), D(10_000))
