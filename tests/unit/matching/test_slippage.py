"""Slippage is adverse, lands on the tick against the taker, and repeats for a seed."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from algodesk.domain.fills import OrderSide
from algodesk.domain.matching import BpsSlippage, NoSlippage, SlippageModel, TickSlippage
from tests.unit.matching.builders import AAPL, NIFTY_CE

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL


@pytest.mark.parametrize(
    ("model", "side", "price", "expected"),
    [
        (NoSlippage(), BUY, "100.00", "100.00"),
        (BpsSlippage(D(10)), BUY, "100.00", "100.10"),
        (BpsSlippage(D(10)), SELL, "100.00", "99.90"),
        (BpsSlippage(D(1)), BUY, "100.03", "100.05"),  # 100.040003 rounds up to the tick
        (BpsSlippage(D(1)), SELL, "100.03", "100.01"),  # 100.019997 rounds down to the tick
        (TickSlippage(2), BUY, "100.00", "100.02"),
        (TickSlippage(2), SELL, "100.00", "99.98"),
        (TickSlippage(0), BUY, "100.00", "100.00"),
    ],
)
def test_slippage_makes_buys_pay_more_and_sells_get_less_on_the_tick(
    model: SlippageModel, side: OrderSide, price: str, expected: str
) -> None:
    assert model.adjust(AAPL, side, D(price), random.Random(1)) == D(expected)


@pytest.mark.parametrize(
    ("model", "side", "expected"),
    [
        (BpsSlippage(D(5)), BUY, "10.05"),  # 10.005 → up to the 0.05 tick
        (BpsSlippage(D(5)), SELL, "9.95"),  # 9.995 → down to the 0.05 tick
        (TickSlippage(1), BUY, "10.05"),
        (TickSlippage(1), SELL, "9.95"),
    ],
)
def test_slippage_rounds_onto_a_coarse_option_tick_in_the_adverse_direction(
    model: SlippageModel, side: OrderSide, expected: str
) -> None:
    assert model.adjust(NIFTY_CE, side, D("10.00"), random.Random(1)) == D(expected)


def test_a_sell_never_slips_to_zero_or_below_and_stops_at_one_tick() -> None:
    assert TickSlippage(3).adjust(NIFTY_CE, SELL, D("0.10"), random.Random(1)) == D("0.05")


def test_slippage_with_probability_zero_never_moves_the_price() -> None:
    rng = random.Random(7)
    model = BpsSlippage(D(50), probability=D(0))

    assert {model.adjust(AAPL, BUY, D(100), rng) for _ in range(50)} == {D(100)}


def test_slippage_with_a_probability_repeats_exactly_for_the_same_seed() -> None:
    model = TickSlippage(1, probability=D("0.5"))

    def run(seed: int) -> list[Decimal]:
        rng = random.Random(seed)
        return [model.adjust(AAPL, BUY, D(100), rng) for _ in range(40)]

    first = run(42)
    assert first == run(42)
    assert set(first) == {D(100), D("100.01")}  # both outcomes happen


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: BpsSlippage(D(-1)), r"BpsSlippage.bps: expected a finite Decimal >= 0, was -1"),
        (lambda: BpsSlippage(D(1), D("1.5")), r"expected a probability in \[0, 1\], was 1.5"),
        (lambda: TickSlippage(-1), r"TickSlippage.ticks: expected an int >= 0, was -1"),
    ],
)
def test_a_slippage_model_with_an_impossible_setting_is_refused(
    build: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]
