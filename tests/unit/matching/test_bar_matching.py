"""Matching one working order against a bar's price path (the backtester, paper on bars)."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest

from algodesk.domain.fills import OrderSide
from algodesk.domain.matching import (
    BarPathMode,
    BpsSlippage,
    FillModel,
    MatchingEngine,
    MatchResult,
    TickSlippage,
)
from algodesk.domain.orders import TimeInForce
from tests.unit.matching.builders import (
    AAPL,
    BUY,
    LIMIT,
    MAKER,
    MARKET,
    NIFTY_CE,
    SELL,
    STOP,
    STOP_LIMIT,
    T0,
    TAKER,
    bar,
    engine,
    only,
    quote,
    working,
)

D = Decimal


def test_a_market_order_fills_at_the_bar_open_plus_slippage() -> None:
    result = engine(slippage=TickSlippage(1)).on_bar(
        working(MARKET, SELL, "10"), AAPL, bar("100", "102", "99", "101")
    )

    assert (only(result).price, only(result).liquidity) == (D("99.99"), TAKER)


@pytest.mark.parametrize(
    ("side", "trigger", "ohlc", "expected"),
    [
        (BUY, "101.50", ("100", "102", "99.50", "101"), "101.50"),  # crossed inside: the trigger
        (BUY, "101.50", ("103", "104", "102", "103.5"), "103"),  # gapped through: the open
        (SELL, "99", ("100", "101", "98", "98.5"), "99"),
        (SELL, "99", ("97", "98", "96", "97.5"), "97"),
    ],
)
def test_a_stop_fills_at_its_trigger_when_crossed_and_at_the_open_when_gapped_through(
    side: OrderSide, trigger: str, ohlc: tuple[str, str, str, str], expected: str
) -> None:
    result = engine().on_bar(working(STOP, side, "10", trigger=trigger), AAPL, bar(*ohlc))

    assert result.triggered
    assert (only(result).price, only(result).liquidity) == (D(expected), TAKER)


def test_a_stop_gapped_through_reports_the_worse_open_in_its_reason() -> None:
    result = engine().on_bar(
        working(STOP, SELL, "10", trigger="99"), AAPL, bar("97", "98", "96", "97.5")
    )

    assert result.reason == "STOP SELL gapped through trigger 99 at the open 97; filled at 97"


def test_a_stop_not_reached_on_the_path_does_not_trigger() -> None:
    result = engine().on_bar(
        working(STOP, BUY, "10", trigger="105"), AAPL, bar("100", "104.99", "99", "101")
    )

    assert (result.executions, result.triggered) == ((), False)


@pytest.mark.parametrize(
    ("side", "ohlc"),
    [
        (BUY, ("95", "99", "94", "98")),  # opens far below a buy limit of 100
        (BUY, ("101", "102", "99.99", "101")),  # trades one cent through
        (SELL, ("105", "106", "101", "104")),  # opens far above a sell limit of 100
    ],
)
def test_a_limit_fills_at_the_limit_price_never_better_even_on_a_gap(
    side: OrderSide, ohlc: tuple[str, str, str, str]
) -> None:
    result = engine(slippage=TickSlippage(3)).on_bar(
        working(LIMIT, side, "10", limit="100"), AAPL, bar(*ohlc)
    )

    assert (only(result).price, only(result).liquidity) == (D(100), MAKER)


def test_a_limit_placed_before_the_bar_and_through_at_its_open_is_a_taker_at_the_limit() -> None:
    order = working(LIMIT, BUY, "10", limit="100")
    result = engine().on_bar(
        order, AAPL, bar("95", "99", "94", "98"), prev_close=D(101), arrival=True
    )

    assert (only(result).price, only(result).liquidity) == (D(100), TAKER)


def test_a_limit_only_touched_by_the_bar_does_not_fill_when_limit_fill_prob_is_zero() -> None:
    result = engine().on_bar(
        working(LIMIT, BUY, "10", limit="100"), AAPL, bar("101", "102", "100", "101")
    )

    assert result.executions == ()
    assert "touched, not traded through" in result.reason


def test_a_stop_limit_triggered_in_a_bar_rests_when_the_path_never_trades_through() -> None:
    order = working(STOP_LIMIT, SELL, "10", trigger="99", limit="99.50")
    result = engine().on_bar(order, AAPL, bar("100", "100.5", "98.60", "99.50"))

    assert result.triggered  # at 99 on the way down to 98.60; back up to 99.50 only touches
    assert result.executions == ()


def test_a_stop_limit_triggered_in_a_bar_fills_at_its_limit_when_the_path_trades_through() -> None:
    order = working(STOP_LIMIT, SELL, "10", trigger="99", limit="99.50")
    result = engine().on_bar(order, AAPL, bar("100", "100.5", "98", "99.80"))

    assert result.triggered
    assert (only(result).price, only(result).liquidity) == (D("99.50"), MAKER)


def test_a_stop_limit_marketable_at_its_trigger_fills_at_its_limit_as_taker() -> None:
    order = working(STOP_LIMIT, SELL, "10", trigger="99", limit="98.50")
    result = engine().on_bar(order, AAPL, bar("100", "100.5", "98.60", "99.50"))

    assert result.triggered
    assert (only(result).price, only(result).liquidity) == (D("98.50"), TAKER)


def test_the_path_order_decides_whether_a_stop_limit_sees_its_limit_after_the_trigger() -> None:
    order = working(STOP_LIMIT, BUY, "10", trigger="102", limit="101")
    down_first = bar("100", "103", "97", "102.50")

    high_first = engine(bar_path_mode=BarPathMode.HIGH_FIRST).on_bar(order, AAPL, down_first)
    low_first = engine(bar_path_mode=BarPathMode.LOW_FIRST).on_bar(order, AAPL, down_first)

    assert only(high_first).price == D(101)  # triggered at 102, then falls through 101 to 97
    assert (low_first.triggered, low_first.executions) == (True, ())  # 97 came before the trigger


def test_a_fill_is_capped_by_max_fill_quantity_in_whole_lots() -> None:
    order = working(LIMIT, BUY, "650", limit="100", instrument=NIFTY_CE)
    result = engine().on_bar(
        order,
        NIFTY_CE,
        bar("101", "101", "99", "100", instrument=NIFTY_CE),
        max_fill_quantity=D(300),
    )

    assert only(result).quantity == D(260)  # four lots of 65


def test_a_fill_is_capped_by_the_volume_fraction_of_the_bar_in_whole_lots() -> None:
    order = working(MARKET, BUY, "650", instrument=NIFTY_CE)
    eng = engine(max_volume_fraction=D("0.1"))
    result = eng.on_bar(
        order, NIFTY_CE, bar("100", "101", "99", "100", volume="2000", instrument=NIFTY_CE)
    )

    assert only(result).quantity == D(195)  # 10 % of 2000 is 200: three lots of 65
    assert not result.canceled_remainder


def test_a_bar_without_volume_fills_nothing() -> None:
    result = engine().on_bar(
        working(MARKET, BUY, "10"), AAPL, bar("100", "101", "99", "100", volume="0")
    )

    assert result.executions == ()
    assert "has no trades" in result.reason


def test_an_ioc_limit_on_a_bar_is_judged_at_the_open_only_and_the_rest_is_canceled() -> None:
    order = working(LIMIT, BUY, "10", limit="100", tif=TimeInForce.IOC)
    result = engine().on_bar(order, AAPL, bar("101", "102", "95", "96"))

    assert result.executions == ()
    assert result.canceled_remainder


def test_a_gtd_order_is_matched_on_its_last_bar_and_then_its_remainder_expires() -> None:
    expire = T0 + timedelta(minutes=1)
    order = working(
        LIMIT, BUY, "650", limit="100", tif=TimeInForce.GTD, expire_time=expire, instrument=NIFTY_CE
    )
    result = engine().on_bar(
        order,
        NIFTY_CE,
        bar("101", "101", "99", "100", instrument=NIFTY_CE),
        max_fill_quantity=D(130),
    )

    assert only(result).quantity == D(130)
    assert result.expired


def test_a_day_order_expires_after_the_last_bar_of_the_session() -> None:
    order = working(LIMIT, BUY, "10", limit="90", tif=TimeInForce.DAY)
    result = engine().on_bar(order, AAPL, bar("100", "101", "99", "100"), session_closed=True)

    assert result.executions == ()
    assert result.expired


def test_a_touch_on_the_open_without_a_gap_is_not_drawn_again_for_a_resting_order() -> None:
    order = working(LIMIT, BUY, "10", limit="100")
    eng = engine(limit_fill_prob=D(1))

    continued = eng.on_bar(order, AAPL, bar("100", "102", "100", "101"), prev_close=D(100))
    gapped = eng.on_bar(order, AAPL, bar("100", "102", "100", "101"), prev_close=D(99))

    assert continued.executions == ()  # open 100 is the previous close; the low 100 is the open
    assert only(gapped).price == D(100)


def test_the_same_seed_gives_the_same_fills_and_another_seed_may_not() -> None:
    bars = [
        bar(str(100 + i % 3), str(101 + i % 3), str(99 + i % 3), str(100 + i % 3))
        for i in range(40)
    ]

    def run(seed: int) -> list[MatchResult]:
        eng = engine(limit_fill_prob=D("0.5"), slippage=BpsSlippage(D(5), D("0.5")), seed=seed)
        results = []
        for b in bars:
            results.append(eng.on_bar(working(LIMIT, BUY, "10", limit=str(b.low)), AAPL, b))
            results.append(eng.on_bar(working(MARKET, BUY, "10"), AAPL, b))
        return results

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_an_injected_rng_replaces_the_seed() -> None:
    model = FillModel(limit_fill_prob=D("0.5"), seed=1)
    order = working(LIMIT, BUY, "10", limit="100")

    def draws(eng: MatchingEngine) -> list[bool]:
        return [bool(eng.on_quote(order, AAPL, quote("100")).executions) for _ in range(30)]

    assert draws(MatchingEngine(model, random.Random(99))) == draws(
        MatchingEngine(model, random.Random(99))
    )
    assert draws(MatchingEngine(model, random.Random(99))) != draws(MatchingEngine(model))


@pytest.mark.parametrize(
    ("knobs", "error", "message"),
    [
        (
            {"limit_fill_prob": D(2)},
            ValueError,
            r"limit_fill_prob: expected a probability in \[0, 1\], was 2",
        ),
        ({"limit_fill_prob": 0.5}, TypeError, r"limit_fill_prob: expected a Decimal, was float"),
        (
            {"max_volume_fraction": D(0)},
            ValueError,
            r"max_volume_fraction: expected a fraction > 0, was 0",
        ),
        ({"seed": "7"}, TypeError, r"FillModel.seed: expected an int, was '7'"),
    ],
)
def test_a_fill_model_with_an_impossible_knob_is_refused(
    knobs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        FillModel(**knobs)  # type: ignore[arg-type]


def test_an_ioc_limit_through_at_the_open_fills_as_taker_at_its_limit() -> None:
    order = working(LIMIT, SELL, "10", limit="100", tif=TimeInForce.IOC)
    result = engine().on_bar(order, AAPL, bar("101", "102", "95", "96"))

    assert (only(result).price, only(result).liquidity) == (D(100), TAKER)
    assert not result.canceled_remainder
